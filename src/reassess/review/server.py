"""The review web app (Flask): one mistake at a time, keyboard-driven, reviews stored in SQLite.

Security model (a local tool that may hold unpublished data):

- Binding: :func:`check_bind_host` refuses any address that is not loopback unless
  ``allow_remote`` (``--allow-remote``) is given.
- Host header: without ``allow_remote`` only requests addressed to localhost / 127.0.0.1 / [::1]
  are answered, which defeats DNS-rebinding pages reading the data.
- Writes: every POST must be JSON and carry the page's CSRF token (``X-CSRF-Token`` header,
  embedded in the page, derived from a secret kept in the database); a cross-origin ``Origin`` is
  refused. Its body is read by :func:`json_body` only, which answers 400 (or 413) naming what is
  wrong with a body that is not a UTF-8 JSON object of at most ``MAX_JSON_DEPTH`` levels holding
  only encodable text, before anything is stored.
- Images: served by item number only, looked up by :class:`ImageResolver`, which never returns a
  file outside ``--images`` (no ``..``, absolute paths or symlinks out of it).
- Text: the page is a Jinja2 template with autoescaping, the script inserts data only with
  ``textContent``, and a Content-Security-Policy forbids inline scripts and every other origin.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, render_template, request, send_file
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from reassess.analysis.mistakes import CATEGORY_TITLES
from reassess.fsnames import is_utf8_text
from reassess.labels.imagenet import imagenet_classes
from reassess.review.agreement import verdict_agreement
from reassess.review.images import ImageResolver, media_type, to_png
from reassess.review.items import ReviewItem, ReviewSet, class_ref
from reassess.review.store import (
    MISTAKE_VERDICTS,
    NOT_A_MISTAKE,
    PROBLEMATIC,
    SEVERITIES,
    VERDICT_TITLES,
    VERDICTS,
    Review,
    ReviewError,
    ReviewStore,
    check_reviewer,
    run_review_db,
)

LOCAL_HOST_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
VERDICT_HELP = {
    NOT_A_MISTAKE: "The prediction is a valid label for the image: the model is right, the single label is not.",
    "fine_grained": "The prediction is a close relative of a valid label (two dog breeds, two snakes).",
    "fine_grained_oov": "The object is of a kind ImageNet has no class for; the model picked a close relative.",
    "spurious_correlation": "The model predicts something that co-occurs with the object, not the object.",
    "non_prototypical": "The object is atypical (pose, style, partial view, ...) and the model missed it.",
    "major": "None of the above: the prediction is far from every valid label.",
    PROBLEMATIC: "The image is unusable or too ambiguous to label; excluded from multi-label accuracy.",
}
VERDICT_KEYS = {
    NOT_A_MISTAKE: "n",
    "fine_grained": "f",
    "fine_grained_oov": "o",
    "spurious_correlation": "s",
    "non_prototypical": "p",
    "major": "m",
    PROBLEMATIC: "x",
}
MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32  # the app's bodies are two levels deep (an object of lists)
STATUSES = ("all", "unreviewed", "reviewed", "any", "others", "disagree")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class BindError(ValueError):
    """The server was asked to listen where it must not (or cannot)."""


def is_local_address(host: str) -> bool:
    """True if every address ``host`` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise BindError(f"cannot resolve host {host!r} ({exc})") from exc
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses
    )


def check_bind_host(host: str, *, allow_remote: bool) -> None:
    """Refuse a non-loopback bind address unless ``allow_remote``."""
    if not host:
        raise BindError("empty host; use 127.0.0.1")
    if not allow_remote and not is_local_address(host):
        raise BindError(
            f"refusing to serve on {host}: it is reachable from other machines and the review "
            "data would be too; use 127.0.0.1, or pass --allow-remote if you mean it"
        )


@dataclass
class ReviewApp:
    """Everything the web app serves."""

    review_set: ReviewSet
    store: ReviewStore
    images: ImageResolver
    allow_remote: bool = False
    title: str = "reassess review"
    _token: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        self._token = self.store.csrf_token()

    @property
    def token(self) -> str:
        """The CSRF token every POST must carry."""
        return self._token


def _host_name(host_header: str) -> str:
    """The host part of a Host header (``[::1]:8000`` -> ``::1``, ``localhost:80`` -> ``localhost``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _origin_host(origin: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(origin).netloc.lower()


# What a JSON value that is not an object is, in the words of JSON, for the error message.
_JSON_KINDS = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def parse_json_object(data: bytes) -> dict[str, Any]:
    """``data`` as a JSON object; ValueError saying why not (not UTF-8 or JSON, too deep, not an
    object, text holding a lone surrogate that no UTF-8 file or response could hold)."""
    too_deep = f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels"
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise ValueError(too_deep) from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"the body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except ValueError as exc:  # NaN / Infinity, integers of more than 4300 digits
        raise ValueError(f"the body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ValueError(f"expected a JSON object, got {_JSON_KINDS[type(body)]}")
    pending: list[tuple[Any, int, str]] = [(body, 1, "")]
    while pending:  # iterative, so no depth can overflow the stack here
        value, depth, field = pending.pop()
        if isinstance(value, (dict, list)) and depth > MAX_JSON_DEPTH:
            raise ValueError(too_deep)
        if isinstance(value, dict):
            for key, child in value.items():
                pending += [(key, depth + 1, field or key), (child, depth + 1, field or key)]
        elif isinstance(value, list):
            pending += [(child, depth + 1, field) for child in value]
        elif isinstance(value, str) and not is_utf8_text(value):
            raise ValueError(
                f"field {field!r} holds a lone surrogate (\\ud800-\\udfff): not valid Unicode text"
            )
    return body


def json_body() -> dict[str, Any]:
    """The POSTed JSON object (see :func:`parse_json_object`); aborts 400, or 413 if too large."""
    try:
        data = request.get_data(cache=True)
    except RequestEntityTooLarge:
        abort(413, f"the body is larger than {MAX_BODY_BYTES // 1024} KiB")
    try:
        return parse_json_object(data)
    except ValueError as exc:
        abort(400, str(exc))


def _item_status(reviews: list[Review], reviewer: str | None) -> dict[str, Any]:
    mine = next((r for r in reviews if r.reviewer == reviewer), None)
    return {
        "n_reviews": len(reviews),
        "mine": mine.verdict if mine else None,
        "disagree": len({r.verdict for r in reviews}) > 1,
    }


def _matches(
    item: ReviewItem, reviews: list[Review], args: dict[str, str], reviewer: str | None
) -> bool:
    """Whether an item passes the list filters (model, category, class, status, verdict)."""
    if args.get("model") and args["model"] not in item.models:
        return False
    if args.get("category") and args["category"] not in item.categories:
        return False
    if args.get("cls"):
        try:
            if int(args["cls"]) not in item.classes:
                return False
        except ValueError:
            abort(400, "cls must be a class index")
    status = args.get("status") or "all"
    mine = any(r.reviewer == reviewer for r in reviews)
    if status == "unreviewed" and mine:
        return False
    if status == "reviewed" and not mine:
        return False
    if status == "any" and not reviews:
        return False
    if status == "others" and (mine or not reviews):
        return False
    if status == "disagree" and len({r.verdict for r in reviews}) < 2:
        return False
    verdict = args.get("verdict")
    return not verdict or any(r.reviewer == reviewer and r.verdict == verdict for r in reviews)


def item_detail(item: ReviewItem, images: ImageResolver) -> dict[str, Any]:
    """Everything the page shows about one item, as JSON."""
    classes = imagenet_classes()
    return {
        "id": item.index,
        "sample_id": item.sample_id,
        "label": class_ref(item.label),
        "has_image": images.find(item.sample_id, classes.wnids[item.label]) is not None,
        # the severity a mistake verdict starts with: reassess analyze's score (one rule)
        "suggested_severity": next(
            (m.suggested_severity for m in item.mistakes if m.suggested_severity), None
        ),
        "mistakes": [
            {
                "model": m.model,
                "top": [
                    {**class_ref(c), "prob": None if m.probs is None else m.probs[k]}
                    for k, c in enumerate(m.topk)
                ],
                "category": m.category,
                "category_title": CATEGORY_TITLES.get(m.category, m.category),
                "severity": m.severity,
                "evidence": m.evidence,
                "details": m.details,
            }
            for m in item.mistakes
        ],
        "label_sets": [
            {"name": name, "classes": None if sets is None else [class_ref(c) for c in sets]}
            for name, sets in item.label_sets.items()
        ],
        "expert": None
        if item.expert is None
        else {state: [class_ref(c) for c in cs] for state, cs in item.expert.items()},
        "expert_problematic": item.expert_problematic,
        "imagenet_m": item.imagenet_m,
        "candidates": [classes.wnids[c] for c in item.candidates()],
        "suggested_valid": [classes.wnids[c] for c in item.suggested_valid()],
        "predictions": [classes.wnids[c] for c in item.predictions],
    }


def _check_review(item: ReviewItem, body: dict[str, Any]) -> Review:
    """A Review from a posted JSON body, checked against the item; ReviewError if malformed."""
    classes = imagenet_classes()
    known = set(classes.wnids)

    def wnid_list(key: str) -> tuple[str, ...]:
        value = body.get(key, [])
        if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
            raise ReviewError(f"{key} must be a list of WordNet ids")
        unknown = [w for w in value if w not in known]
        if unknown:
            raise ReviewError(f"{key}: {unknown[0]!r} is not an ImageNet-1k WordNet id")
        return tuple(dict.fromkeys(value))

    verdict = body.get("verdict")
    severity = body.get("severity")
    if verdict not in MISTAKE_VERDICTS:
        severity = None
    note = body.get("note", "")
    if not isinstance(note, str):
        raise ReviewError("note must be text")
    valid = wnid_list("valid")
    shown = tuple(dict.fromkeys([*wnid_list("shown"), *valid]))
    predicted = {classes.wnids[c] for c in item.predictions}
    if verdict == NOT_A_MISTAKE and not predicted & set(valid):
        raise ReviewError("'not a mistake' needs the model's prediction among the valid labels")
    if verdict in MISTAKE_VERDICTS and predicted <= set(valid):
        raise ReviewError("a mistake's prediction cannot also be a valid label")
    return Review(
        reviewer=check_reviewer(body.get("reviewer")),
        sample_id=item.sample_id,
        verdict=verdict,
        severity=severity,
        valid=valid,
        shown=shown,
        note=note.strip(),
        models=tuple(item.models),
    )


def create_app(review: ReviewApp) -> Flask:
    """The Flask application serving ``review``."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False
    review_set, store = review.review_set, review.store
    classes = imagenet_classes()
    sample_ids = {item.sample_id for item in review_set.items}

    def get_item(item_id: int) -> ReviewItem:
        if not 0 <= item_id < len(review_set.items):
            abort(404, f"no item {item_id}")
        return review_set.items[item_id]

    def current_reviewer() -> str | None:
        name = request.args.get("reviewer")
        return name.strip() if name and name.strip() else None

    @app.before_request
    def guard() -> None:
        if not review.allow_remote and _host_name(request.host) not in LOCAL_HOST_NAMES:
            abort(403, "this review server answers only requests addressed to localhost")
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        origin = request.headers.get("Origin")
        if origin and _origin_host(origin) != request.host.lower():
            abort(403, "cross-origin request refused")
        token = request.headers.get("X-CSRF-Token", "")
        if not hmac.compare_digest(token.encode(), review.token.encode()):
            abort(403, "missing or wrong CSRF token; reload the page")
        if not request.is_json:
            abort(415, "send JSON")

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith(("/api/", "/image/")):
            return jsonify(error=exc.description, status=exc.code), exc.code
        return exc

    @app.get("/")
    def page():
        config = {
            "title": review.title,
            "dataset": review_set.dataset,
            "runs": review_set.runs,
            "models": review_set.models,
            "total": len(review_set),
            "categories": sorted({c for item in review_set.items for c in item.categories}),
            "category_titles": CATEGORY_TITLES,
            "verdicts": [
                {
                    "id": v,
                    "title": VERDICT_TITLES[v],
                    "key": VERDICT_KEYS[v],
                    "help": VERDICT_HELP[v],
                    "mistake": v in MISTAKE_VERDICTS,
                }
                for v in VERDICTS
            ],
            "severities": list(SEVERITIES),
            "statuses": list(STATUSES),
            "expert_file": review_set.expert_file,
        }
        in_items = sorted(
            {c for item in review_set.items for c in item.classes},
            key=lambda c: classes.name(c).lower(),
        )
        return render_template(
            "review.html",
            title=review.title,
            token=review.token,
            config=config,
            class_options=[{"index": c, "name": classes.name(c)} for c in in_items],
            total=len(review_set),
        )

    @app.get("/api/classes")
    def class_list():
        rows = [
            {
                "index": i,
                "wnid": w,
                "name": classes.name(i),
                "synonyms": list(classes.synonyms[i]),
                "gloss": classes.glosses[i],
            }
            for i, w in enumerate(classes.wnids)
        ]
        return jsonify(rows)

    @app.get("/api/items")
    def items():
        reviewer = current_reviewer()
        grouped = store.by_sample()
        args = {
            k: request.args.get(k, "") for k in ("model", "category", "cls", "status", "verdict")
        }
        if args["status"] and args["status"] not in STATUSES:
            abort(400, f"status must be one of {', '.join(STATUSES)}")
        rows = []
        for item in review_set.items:
            reviews = grouped.get(item.sample_id, [])
            if _matches(item, reviews, args, reviewer):
                rows.append(
                    {
                        "id": item.index,
                        "sample_id": item.sample_id,
                        **_item_status(reviews, reviewer),
                    }
                )
        return jsonify(items=rows, total=len(review_set))

    @app.get("/api/item/<int:item_id>")
    def item(item_id: int):
        entry = get_item(item_id)
        reviewer = current_reviewer()
        reviews = store.by_sample().get(entry.sample_id, [])
        mine = next((r for r in reviews if r.reviewer == reviewer), None)
        return jsonify(
            item=item_detail(entry, review.images),
            review=mine.to_dict() if mine else None,
            others=len([r for r in reviews if r.reviewer != reviewer]),
        )

    @app.get("/image/<int:item_id>")
    def image(item_id: int):
        entry = get_item(item_id)
        path = review.images.find(entry.sample_id, classes.wnids[entry.label])
        if path is None:
            abort(404, f"no image for {entry.sample_id} under the --images folder")
        kind = media_type(path)
        if kind is None:
            return Response(
                to_png(path),
                mimetype="image/png",
                headers={"Cache-Control": "private, max-age=3600"},
            )
        return send_file(path, mimetype=kind, max_age=3600, conditional=True)

    @app.post("/api/review/<int:item_id>")
    def save_review(item_id: int):
        entry = get_item(item_id)
        body = json_body()
        try:
            saved = store.save(_check_review(entry, body))
        except ReviewError as exc:
            abort(400, str(exc))
        return jsonify(review=saved.to_dict())

    @app.post("/api/review/<int:item_id>/delete")
    def delete_review(item_id: int):
        entry = get_item(item_id)
        body = json_body()
        try:
            reviewer = check_reviewer(body.get("reviewer"))
        except ReviewError as exc:
            abort(400, str(exc))
        return jsonify(deleted=store.delete(reviewer, entry.sample_id))

    @app.get("/api/stats")
    def stats():
        reviewer = current_reviewer()
        grouped = {s: r for s, r in store.by_sample().items() if s in sample_ids}
        all_reviews = [r for rs in grouped.values() for r in rs]
        verdicts = {s: {r.reviewer: r.verdict for r in rs} for s, rs in grouped.items()}
        agreement = verdict_agreement(verdicts, is_mistake={v: True for v in MISTAKE_VERDICTS})
        return jsonify(
            total=len(review_set),
            reviewed_any=len(grouped),
            reviewed_by_me=sum(1 for r in all_reviews if r.reviewer == reviewer),
            reviews=len(all_reviews),
            verdicts=dict(Counter(r.verdict for r in all_reviews)),
            my_verdicts=dict(Counter(r.verdict for r in all_reviews if r.reviewer == reviewer)),
            severities=dict(Counter(r.severity for r in all_reviews if r.severity)),
            reviewers=dict(Counter(r.reviewer for r in all_reviews)),
            agreement=agreement.to_dict(),
        )

    return app


class ReviewServer:
    """The app on a threaded WSGI server, started in a background thread or in the foreground."""

    def __init__(self, review: ReviewApp, host: str = "127.0.0.1", port: int = 0) -> None:
        from werkzeug.serving import make_server

        check_bind_host(host, allow_remote=review.allow_remote)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        try:
            self._server = make_server(host, port, create_app(review), threaded=True)
        except OSError as exc:
            raise BindError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                "pass --port 0 to pick a free port"
            ) from exc
        self.host, self.port = host, self._server.server_port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The address to open in a browser."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> ReviewServer:
        """Serve in a daemon thread (tests, notebooks); stop with :meth:`stop`."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ReviewServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def open_review(
    run_dirs: list[Path],
    *,
    images: Path | None,
    db: Path | None = None,
    multilabel_file: Path | None = None,
    verify: bool = True,
    allow_remote: bool = False,
) -> ReviewApp:
    """Load a run's mistakes, the review database and the image folder into a :class:`ReviewApp`."""
    from reassess.review.items import load_review_set
    from reassess.store.run import RunDir

    review_set = load_review_set(run_dirs, multilabel_file=multilabel_file, verify=verify)
    if images is None:
        root = RunDir(run_dirs[0]).read_run().get("data", {}).get("root")
        if not root or not Path(root).is_dir():
            raise FileNotFoundError(
                f"{run_dirs[0]}: the run records no existing image folder; pass --images PATH"
            )
        images = Path(root)
    store = ReviewStore(db if db is not None else run_review_db(run_dirs[0]))
    models = ", ".join(review_set.models)
    return ReviewApp(
        review_set=review_set,
        store=store,
        images=ImageResolver(images),
        allow_remote=allow_remote,
        title=f"{models} on {review_set.dataset}",
    )
