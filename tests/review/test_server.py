"""The review web app through Flask's test client and over real HTTP: what it shows, what it
refuses (no token, other hosts, other origins, paths out of --images, remote binds)."""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from reassess.labels.imagenet import imagenet_classes
from reassess.review.server import (
    BindError,
    ReviewServer,
    check_bind_host,
    create_app,
    open_review,
)
from tests.conftest import store_run
from tests.review.conftest import HOSTILE, HOSTILE_FILE, val_name

WN = imagenet_classes().wnids


@pytest.fixture
def review(tiny_run, val_images, tmp_path):
    return open_review([tiny_run], images=val_images, db=tmp_path / "review.sqlite")


@pytest.fixture
def client(review):
    return create_app(review).test_client()


def post(client, path, body, token, **headers):
    return client.post(path, json=body, headers={"X-CSRF-Token": token, **headers})


def test_page_embeds_the_token_escapes_names_and_sets_a_strict_policy(client, review):
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<meta name="csrf-token" content="{review.token}">' in html
    assert HOSTILE not in html  # the model name is "tiny <script>alert(1)</script>"
    assert "tiny &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\\u003cscript\\u003e" in html  # and escaped inside the JSON config too
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    # every script and style the page loads is served by the app itself
    for asset in ("/static/review.js", "/static/review.css", "/static/favicon.svg"):
        assert asset in html and client.get(asset).status_code == 200
    assert "http" not in html.split("<body>")[0].replace("http-equiv", "")


def test_items_detail_and_filters(client, review):
    items = client.get("/api/items?reviewer=alice").get_json()
    assert [r["sample_id"] for r in items["items"]] == [val_name(i) for i in (236, 293, 559)]
    assert items["total"] == 3  # val 59 is right and is no item
    detail = client.get("/api/item/0?reviewer=alice").get_json()["item"]
    assert detail["label"] == {"index": 1, "wnid": WN[1], "name": "goldfish"}
    top = detail["mistakes"][0]["top"]
    assert [t["index"] for t in top] == [282, 285, 281, 287, 904] and top[0]["prob"] == 0.5
    assert detail["mistakes"][0]["category"] == "fine_grained"
    assert detail["mistakes"][0]["evidence"]["superclass"] == "domestic cat"
    details = detail["mistakes"][0]["details"]
    assert details["wordnet_distance"] == 2 and details["label_name"] == "goldfish"
    assert not {"sample_id", "category", "severity", "evidence"} & details.keys()
    assert [s["name"] for s in detail["label_sets"]][0] == "real"
    assert detail["has_image"] and detail["predictions"] == [WN[282]]
    assert detail["candidates"][:6] == [WN[c] for c in (1, 282, 285, 281, 287, 904)]

    def ids(query):
        return [r["id"] for r in client.get(f"/api/items?{query}").get_json()["items"]]

    assert ids("category=major") == [2]
    assert ids("cls=967") == [1] and ids("cls=1") == [0]
    assert ids(f"model=tiny {HOSTILE}") == [0, 1, 2] and ids("model=other") == []
    assert client.get("/api/items?status=bogus").status_code == 400
    assert client.get("/api/item/3").status_code == 404


def test_saving_needs_the_token_json_and_the_same_origin(client, review):
    body = {
        "reviewer": "alice",
        "verdict": "not_a_mistake",
        "severity": None,
        "valid": [WN[282], WN[281]],
        "shown": [WN[1], WN[282], WN[281]],
        "note": HOSTILE,
    }
    assert client.post("/api/review/0", json=body).status_code == 403
    assert post(client, "/api/review/0", body, "0" * 64).status_code == 403
    form = client.post(
        "/api/review/0", data={"verdict": "x"}, headers={"X-CSRF-Token": review.token}
    )
    assert form.status_code == 415
    evil = post(client, "/api/review/0", body, review.token, Origin="http://evil.example")
    assert evil.status_code == 403
    assert review.store.reviews() == []
    saved = post(client, "/api/review/0", body, review.token, Origin="http://localhost")
    assert saved.status_code == 200 and saved.get_json()["review"]["note"] == HOSTILE
    stored = review.store.get("alice", val_name(236))
    assert stored.valid == (WN[282], WN[281]) and stored.verdict == "not_a_mistake"
    items = client.get("/api/items?reviewer=alice&status=reviewed").get_json()["items"]
    assert [(r["id"], r["mine"]) for r in items] == [(0, "not_a_mistake")]
    assert [
        r["id"]
        for r in client.get("/api/items?reviewer=alice&status=unreviewed").get_json()["items"]
    ] == [1, 2]
    deleted = post(client, "/api/review/0/delete", {"reviewer": "alice"}, review.token)
    assert deleted.get_json() == {"deleted": True} and review.store.reviews() == []
    assert client.post("/api/review/0/delete", json={"reviewer": "alice"}).status_code == 403


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"valid": [WN[281]]}, "needs the model's prediction"),
        ({"verdict": "major", "severity": "major"}, "cannot also be a valid label"),
        ({"verdict": "major", "severity": None, "valid": []}, "needs severity"),
        ({"valid": ["n99999999"]}, "not an ImageNet-1k WordNet id"),
        ({"reviewer": ""}, "reviewer name missing"),
        ({"verdict": "meh"}, "unknown verdict"),
    ],
)
def test_inconsistent_reviews_are_refused(client, review, change, message):
    body = {"reviewer": "bob", "verdict": "not_a_mistake", "valid": [WN[282]], "shown": []}
    body.update(change)
    response = post(client, "/api/review/0", body, review.token)
    assert response.status_code == 400 and message in response.get_json()["error"]


def test_stats_report_progress_and_agreement(client, review):
    def save(name, item, verdict, valid, severity=None):
        body = {"reviewer": name, "verdict": verdict, "severity": severity, "valid": valid}
        assert post(client, f"/api/review/{item}", body, review.token).status_code == 200

    save("alice", 0, "not_a_mistake", [WN[282]])
    save("bob", 0, "not_a_mistake", [WN[282], WN[281]])
    save("alice", 1, "fine_grained", [WN[0]], "minor")
    save("bob", 1, "major", [WN[0]], "major")
    save("alice", 2, "major", [WN[812]], "major")
    stats = client.get("/api/stats?reviewer=alice").get_json()
    assert (stats["total"], stats["reviewed_any"], stats["reviewed_by_me"]) == (3, 3, 3)
    assert stats["verdicts"] == {"not_a_mistake": 2, "fine_grained": 1, "major": 2}
    agreement = stats["agreement"]
    assert agreement["items"] == 2 and agreement["unanimous"]["value"] == 0.5
    assert agreement["mistake_unanimous"]["value"] == 1.0
    assert agreement["pairs"][0]["a"] == "alice" and agreement["pairs"][0]["n"] == 2
    disagree = client.get("/api/items?status=disagree").get_json()["items"]
    assert [r["id"] for r in disagree] == [1]
    others = client.get("/api/items?status=others&reviewer=carol").get_json()["items"]
    assert len(others) == 3


def test_images_are_served_only_from_the_images_folder(tmp_path, tiny_run, val_images):
    from reassess.store.predictions import Predictions
    from reassess.store.run import RunDir

    secret = tmp_path / "secret.jpg"
    secret.write_bytes((val_images / val_name(293)).read_bytes())
    os.symlink(secret, val_images / "ILSVRC2012_val_00000010.JPEG")
    run = RunDir(tiny_run)
    predictions = run.read_predictions()
    ids = predictions.sample_ids.copy()
    ids[1] = "../secret.jpg"  # a predictions file naming a path out of the folder
    ids[2] = "ILSVRC2012_val_00000010.JPEG"  # a symlink out of the folder
    (tiny_run / "mistakes.parquet").unlink()
    run.write_predictions(Predictions(ids, predictions.labels, predictions.topk, predictions.probs))
    review = open_review([tiny_run], images=val_images, db=tmp_path / "r.sqlite")
    client = create_app(review).test_client()
    photo = client.get("/image/0")  # in a wnid folder
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert photo.data == (val_images / "n01443537" / val_name(236)).read_bytes()
    assert client.get("/image/1").status_code == 404
    assert client.get("/image/2").status_code == 404
    assert not client.get("/api/item/1").get_json()["item"]["has_image"]
    for path in ("/image/../../etc/passwd", "/image/%2e%2e%2fsecret.jpg", "/image/-1"):
        assert client.get(path).status_code == 404


def test_requests_for_other_hosts_are_refused_unless_remote_is_allowed(review):
    client = create_app(review).test_client()
    assert client.get("/", headers={"Host": "evil.example:8765"}).status_code == 403
    assert client.get("/api/items", base_url="http://attacker.test").status_code == 403
    for host in ("localhost:8765", "127.0.0.1:8765", "[::1]:8765"):
        assert client.get("/api/items", headers={"Host": host}).status_code == 200
    review.allow_remote = True
    remote = create_app(review).test_client()
    assert remote.get("/api/items", headers={"Host": "lab-server:8765"}).status_code == 200


def test_binding_to_a_non_local_address_needs_allow_remote(review):
    check_bind_host("127.0.0.1", allow_remote=False)
    check_bind_host("localhost", allow_remote=False)
    for host in ("0.0.0.0", "::", "8.8.8.8"):
        with pytest.raises(BindError, match="--allow-remote"):
            check_bind_host(host, allow_remote=False)
    check_bind_host("0.0.0.0", allow_remote=True)
    with pytest.raises(BindError, match="--allow-remote"):
        ReviewServer(review, host="0.0.0.0", port=0)
    review.allow_remote = True
    server = ReviewServer(review, host="0.0.0.0", port=0)  # allowed: binds, then closes
    assert server.port > 0
    server.stop()


def test_two_reviewers_posting_at_once_over_http_lose_nothing(review):
    with ReviewServer(review, port=0) as server:

        def reviewer(name: str) -> None:
            for _ in range(10):
                for item, valid in ((0, [WN[1]]), (1, [WN[0]]), (2, [WN[812]])):
                    body = {
                        "reviewer": name,
                        "verdict": "major",
                        "severity": "major",
                        "valid": valid,
                        "note": name,
                    }
                    request = urllib.request.Request(
                        f"{server.url}api/review/{item}",
                        data=json.dumps(body).encode(),
                        headers={"Content-Type": "application/json", "X-CSRF-Token": review.token},
                    )
                    with urllib.request.urlopen(request, timeout=30) as response:
                        assert response.status == 200

        threads = [threading.Thread(target=reviewer, args=(n,)) for n in ("alice", "bob")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    grouped = review.store.by_sample()
    assert sorted(len(r) for r in grouped.values()) == [2, 2, 2]
    assert len(review.store.history()) == 60
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url, timeout=2)  # stopped: nothing listens any more


def test_hostile_file_names_are_found_and_escaped(hostile_run, tmp_path):
    run, root = hostile_run
    review = open_review([run], images=root, db=tmp_path / "r.sqlite")
    client = create_app(review).test_client()
    html = client.get("/").get_data(as_text=True)
    assert HOSTILE not in html and "&lt;script&gt;" in html
    item = client.get("/api/item/0").get_json()["item"]
    assert item["sample_id"] == f"n02123045/{HOSTILE_FILE}" and item["has_image"]
    assert client.get("/image/0").status_code == 200
    assert item["label_sets"] == []  # a class folder has no multi-labels


def test_missing_image_folder_and_runs_on_different_datasets(tiny_run, hostile_run, tmp_path):
    with pytest.raises(FileNotFoundError, match="--images"):
        open_review([tiny_run], images=Path(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="different datasets"):
        open_review([tiny_run, hostile_run[0]], images=tmp_path)


def test_two_runs_become_one_item_per_image_with_each_models_prediction(
    tiny_run, val_images, tmp_path
):
    from reassess.store.predictions import Predictions
    from reassess.store.run import RunDir
    from tests.review.conftest import tiny_predictions

    base = tiny_predictions()
    topk = base.topk.copy()
    topk[0] = [281, 282, 285, 287, 904]  # model B gets the cat right (val 236: no, goldfish)
    topk[3] = [759, 872, 447, 650, 681]  # and the tripod wrong
    other = store_run(
        tmp_path / "run-b",
        "model-b",
        f"imagenet-val:{val_images}",
        Predictions(base.sample_ids, base.labels, topk, base.probs),
    )
    review = open_review([tiny_run, other], images=None, db=tmp_path / "r.sqlite")
    assert str(review.images.root) == str(Path(RunDir(tiny_run).read_run()["data"]["root"]))
    client = create_app(review).test_client()
    rows = client.get("/api/items").get_json()["items"]
    assert [r["sample_id"] for r in rows] == [val_name(i) for i in (236, 293, 559, 59)]
    first = client.get("/api/item/0").get_json()["item"]
    assert [m["model"] for m in first["mistakes"]] == [f"tiny {HOSTILE}", "model-b"]
    assert first["predictions"] == [WN[282], WN[281]]
    assert [r["id"] for r in client.get("/api/items?model=model-b").get_json()["items"]] == [
        0,
        1,
        2,
        3,
    ]
    only_b = client.get("/api/item/3").get_json()["item"]
    assert [m["model"] for m in only_b["mistakes"]] == ["model-b"]
    # run B has no mistakes.parquet: the app classifies it as analyze would, in memory
    from reassess.runs import classify_run

    mistakes, _, _ = classify_run(RunDir(other))
    row = mistakes["sample_id"].tolist().index(only_b["sample_id"])
    assert only_b["mistakes"][0]["category"] == mistakes.category[row]
    assert only_b["suggested_severity"] == mistakes["severity_if_mistake"][row]
    assert only_b["suggested_severity"] in ("minor", "borderline", "major")


def test_images_browsers_cannot_show_are_sent_as_png(tmp_path):
    import io

    from PIL import Image

    from reassess.store.predictions import Predictions
    from tests.conftest import skimage_photo

    root = tmp_path / "photos"
    (root / "n02123045").mkdir(parents=True)
    skimage_photo("chelsea").save(root / "n02123045" / "cat.tif")
    predictions = Predictions(
        sample_ids=np.array(["n02123045/cat.tif"], dtype=object),
        labels=np.array([281], dtype=np.int32),
        topk=np.array([[282]], dtype=np.int16),
    )
    run = store_run(tmp_path / "run", "m", f"folder:{root}", predictions)
    client = create_app(open_review([run], images=root, db=tmp_path / "r.sqlite")).test_client()
    response = client.get("/image/0")
    assert response.mimetype == "image/png"
    with Image.open(io.BytesIO(response.data)) as image:
        assert image.size == (451, 300)
    detail = client.get("/api/item/0").get_json()["item"]
    assert detail["mistakes"][0]["top"] == [
        {"index": 282, "wnid": WN[282], "name": "tiger cat", "prob": None}
    ]


def post_raw(client, path, data, token):
    return client.post(
        path, data=data, content_type="application/json", headers={"X-CSRF-Token": token}
    )


GOOD = {"reviewer": "alice", "verdict": "not_a_mistake", "valid": [WN[282]], "note": "first"}
HOSTILE_BODIES = {
    "nested lists": ("[" * 5000 + "]" * 5000, "nested deeper than 32 levels"),
    "nested objects": ('{"a":' * 5000 + "1" + "}" * 5000, "nested deeper than 32 levels"),
    "nested below the recursion limit": (
        '{"valid":' + "[" * 100 + "]" * 100 + "}",
        "nested deeper than 32 levels",
    ),
    "lone surrogate in the note": (
        json.dumps({**GOOD, "note": "\ud800"}),  # json.dumps writes it as the escape \ud800
        "field 'note' holds a lone surrogate",
    ),
    "lone surrogate deep in a list": (
        json.dumps({**GOOD, "valid": [WN[282], "\udfff"]}),
        "field 'valid' holds a lone surrogate",
    ),
    "lone surrogate in a key": ('{"\\udc00": 1, "reviewer": "alice"}', "lone surrogate"),
    "not JSON": ("verdict=major", "not valid JSON"),
    "empty": ("", "not valid JSON"),
    "not UTF-8": (b'{"note": "\xff\xfe"}', "not UTF-8"),
    "NaN": ('{"reviewer": "alice", "note": NaN}', "NaN is not a JSON value"),
    "a 5000-digit number": ('{"reviewer": "alice", "note": ' + "7" * 5000 + "}", "not valid JSON"),
    "a list": ("[]", "expected a JSON object, got an array"),
    "a string": ('"alice"', "expected a JSON object, got a string"),
    "null": ("null", "expected a JSON object, got null"),
}


@pytest.mark.parametrize("endpoint", ["/api/review/0", "/api/review/0/delete"])
@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_bodies_get_400_and_change_nothing(client, review, endpoint, name):
    data, message = HOSTILE_BODIES[name]
    assert post(client, "/api/review/0", GOOD, review.token).status_code == 200
    before = (review.store.reviews(), review.store.history())
    response = post_raw(client, endpoint, data, review.token)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.is_json and message in response.get_json()["error"]
    assert (review.store.reviews(), review.store.history()) == before  # readable, unchanged
    assert review.store.get("alice", val_name(236)).note == "first"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reviewer": 5}, "reviewer name must be text, not int"),
        ({"reviewer": ["alice"]}, "reviewer name must be text, not list"),
        ({"note": 5}, "note must be text"),
        ({"note": {"text": "x"}}, "note must be text"),
        ({"valid": WN[282]}, "valid must be a list of WordNet ids"),
        ({"valid": [282]}, "valid must be a list of WordNet ids"),
        ({"shown": {"a": 1}}, "shown must be a list of WordNet ids"),
        ({"verdict": ["major"]}, "unknown verdict"),
        ({"verdict": None}, "unknown verdict"),
        ({"verdict": "major", "severity": 3, "valid": []}, "needs severity"),
        ({"note": "x" * 6000}, "note longer than 5000 characters"),
    ],
)
def test_fields_of_the_wrong_type_or_size_get_400(client, review, change, message):
    response = post(client, "/api/review/0", {**GOOD, **change}, review.token)
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert review.store.reviews() == [] and review.store.history() == []


def test_a_body_over_the_size_limit_gets_413_with_a_json_error(client, review):
    for endpoint in ("/api/review/0", "/api/review/0/delete"):
        response = post(client, endpoint, {**GOOD, "note": "x" * 300_000}, review.token)
        assert response.status_code == 413
        assert "larger than 256 KiB" in response.get_json()["error"]
    assert review.store.reviews() == [] and review.store.history() == []


def test_a_wrongly_typed_reviewer_cannot_delete(client, review):
    response = post(client, "/api/review/0/delete", {"reviewer": 7}, review.token)
    assert response.status_code == 400 and "must be text" in response.get_json()["error"]


def test_a_mistakes_file_without_a_required_column_is_refused_naming_it(tiny_run, tmp_path):
    import pyarrow.parquet as pq

    from reassess.store.run import RunDir
    from reassess.store.schema import RunFolderError

    path = RunDir(tiny_run).mistakes_file
    pq.write_table(pq.read_table(path).drop_columns(["sample_id"]), path)
    with pytest.raises(
        RunFolderError, match=f"^{re.escape(str(path))}: missing column.s. sample_id"
    ):
        open_review([tiny_run], images=None, db=tmp_path / "r.sqlite")
