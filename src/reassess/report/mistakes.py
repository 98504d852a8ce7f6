"""A run's top-1 mistakes for the gallery and the table: read, titled, selected, with thumbnails.

The rows are those of ``mistakes.parquet`` (read by :meth:`reassess.store.run.RunDir.read_mistakes`,
columns as :func:`reassess.analysis.mistakes.classify_mistakes` writes them) when the run is
analysed, else the images whose top-1 differs from the single label in the stored predictions.
Categories carry the analysis' own titles and order. Where the run folder holds a review database
(``RUNDIR/review.sqlite``, written by ``reassess review``), each reviewed mistake also carries the
reviewers' verdict, severity and notes, and the view counts how often they agree with the
automatic category.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from reassess.analysis.severity import SEVERITIES
from reassess.datasets.image_files import ImageResolver
from reassess.report.images import thumbnail_uri
from reassess.report.view import MistakeRow, MistakesView
from reassess.review.store import (
    MISTAKE_VERDICTS,
    NOT_A_MISTAKE,
    PROBLEMATIC,
    VERDICT_TITLES,
    VERDICTS,
    Review,
    ReviewError,
    read_reviews,
    run_review_db,
)
from reassess.runs import dataset_index
from reassess.store.predictions import Predictions
from reassess.store.run import RunDir

NOT_ANALYSED = "not analysed"
#: The optional mistakes.parquet column of ImageNet-X factor names (ImageNet val runs only).
FACTORS_COLUMN = "imagenet_x_factors"
#: ``progress(description, total)`` returns ``advance(n)`` (the CLI's progress bars).
Progress = Callable[[str, int], Callable[[int], None]]
#: Automatic categories read on the reviewers' scale: a known label error is no model mistake,
#: and "unexplained" (no rule applies) is the reviewers' "major" (far from every valid label).
REVIEW_EQUIVALENT = {"known_label_error": NOT_A_MISTAKE, "unexplained": "major"}


def category_title(key: str | None) -> str:
    """The analysis' title of a category key (an unknown key as it is; none: ``not analysed``)."""
    from reassess.analysis.mistakes import CATEGORY_TITLES

    return NOT_ANALYSED if key is None else CATEGORY_TITLES.get(key, key)


def category_rank(title: str) -> int:
    """Where a category title comes in the analysis' order (unknown ones, then none, last)."""
    from reassess.analysis.mistakes import CATEGORIES, CATEGORY_TITLES

    order = [CATEGORY_TITLES[c] for c in CATEGORIES]
    if title in order:
        return order.index(title)
    return len(order) + (title == NOT_ANALYSED)


def _class_name(index: int | None, names: tuple[str, ...]) -> str:
    if index is None:
        return ""
    return names[index] if 0 <= index < len(names) else str(index)


def rows_from_table(table: Any, names: tuple[str, ...]) -> list[MistakeRow]:
    """The rows of a mistakes table (schema-checked by RunDir.read_mistakes) for display."""
    columns = ["sample_id", "label", "label_name", "prediction", "prediction_name", "category"]
    columns += ["severity", "evidence", "valid_labels", "confidence"]
    if FACTORS_COLUMN in table.column_names:
        columns.append(FACTORS_COLUMN)
    rows = []
    for record in table.select(columns).to_pylist():
        valid = record["valid_labels"]
        factors = record.get(FACTORS_COLUMN) or []
        rows.append(
            MistakeRow(
                sample_id=str(record["sample_id"]),
                label=record["label_name"] or _class_name(record["label"], names),
                prediction=record["prediction_name"] or _class_name(record["prediction"], names),
                valid_labels=(
                    None
                    if valid is None
                    else [", ".join(_class_name(c, names) for c in valid)]
                    if valid
                    else []
                ),
                category=category_title(record["category"]),
                severity=record["severity"] or "",
                confidence=record["confidence"],
                evidence=record["evidence"] or "",
                factors=", ".join(f.replace("_", " ") for f in factors),
                category_key=record["category"],
            )
        )
    return rows


def rows_from_predictions(predictions: Predictions, names: tuple[str, ...]) -> list[MistakeRow]:
    """The top-1 mistakes of stored predictions, not categorised (a run not analysed yet)."""
    wrong = np.flatnonzero((predictions.labels >= 0) & (predictions.top1 != predictions.labels))
    ids = [str(s) for s in predictions.sample_ids[wrong]]
    conf = predictions.probs[wrong, 0] if predictions.probs is not None else None
    return [
        MistakeRow(
            sample_id=sample,
            label=names[int(predictions.labels[r])],
            prediction=names[int(predictions.top1[r])],
            valid_labels=None,
            category=NOT_ANALYSED,
            severity="",
            confidence=float(conf[j]) if conf is not None else None,
            evidence="",
        )
        for j, (r, sample) in enumerate(zip(wrong, ids, strict=True))
    ]


def read_mistakes(run: RunDir, names: tuple[str, ...]) -> tuple[list[MistakeRow], str, bool]:
    """All top-1 mistakes of a run, where they came from, and whether they are categorised."""
    if run.mistakes_file.is_file():
        rows = rows_from_table(run.read_mistakes(), names)
        return rows, f"{run.mistakes_file.name} ({len(rows):,} rows)", True
    rows = rows_from_predictions(run.read_predictions(), names)
    return rows, f"{run.predictions_file.name} (top-1 differs from the single label)", False


def valid_labels_from_sets(
    run_info: dict[str, Any], sample_ids: list[str], names: tuple[str, ...]
) -> dict[str, list[str]]:
    """Each sample's valid labels from the label sets of its data (ReaL, multi-labels)."""
    from reassess.analysis.mistakes import SOURCE_TITLES

    try:
        dataset = dataset_index(run_info.get("data", {}).get("spec", ""))
    except (ValueError, OSError, KeyError):
        return {}
    if dataset is None:
        return {}
    out: dict[str, list[str]] = {s: [] for s in sample_ids}
    for set_name, load in dataset.label_set_loaders.items():
        sets = load().align(sample_ids)
        for i, sample in enumerate(sample_ids):
            if sets.annotated[i]:
                classes = [names[c] for c in sets.labels_of(i)]
                title = SOURCE_TITLES.get(set_name, set_name)
                out[sample].append(f"{title}: " + (", ".join(classes) or "no class fits"))
    return out


def _most_common(values: list[str]) -> list[str]:
    """The values tied for the most votes, in the order of :data:`VERDICTS` (then as given)."""
    counts = Counter(values)
    top = max(counts.values())
    order = {v: i for i, v in enumerate(VERDICTS)}
    return sorted((v for v, n in counts.items() if n == top), key=lambda v: order.get(v, -1))


def attach_reviews(
    rows: list[MistakeRow], reviews: dict[str, list[Review]]
) -> tuple[int, tuple[int, int], tuple[int, int]]:
    """Fill each reviewed row's verdict, severity and notes from ``reviews`` (by sample id).

    Several reviewers: the verdict most of them gave (a tie shows all, ``A / B``), the severity
    most of the mistake verdicts gave, every note. Returns the rows reviewed, and (agree, of)
    for analysed rows with a single majority verdict: the same category as the automatic one
    (read on the reviewers' scale, :data:`REVIEW_EQUIVALENT`), and the same answer to "is it a
    mistake at all?" (problematic images left out).
    """
    reviewed, same, same_of, mistake, mistake_of = 0, 0, 0, 0, 0
    for row in rows:
        group = reviews.get(row.sample_id)
        if not group:
            continue
        reviewed += 1
        verdicts = _most_common([r.verdict for r in group])
        severities = [r.severity for r in group if r.verdict in MISTAKE_VERDICTS and r.severity]
        row.reviewers = len(group)
        row.review_verdict = " / ".join(VERDICT_TITLES.get(v, v) for v in verdicts)
        row.review_severity = " / ".join(_most_common(severities)) if severities else ""
        row.review_tone = (
            "none"
            if verdicts == [NOT_A_MISTAKE]
            else row.review_severity
            if row.review_severity in SEVERITIES
            else "unknown"
        )
        row.review_note = "; ".join(f"{r.reviewer}: {r.note}" for r in group if r.note.strip())
        if row.category_key is None or len(verdicts) != 1:
            continue
        verdict = verdicts[0]
        automatic = REVIEW_EQUIVALENT.get(row.category_key, row.category_key)
        row.review_agrees = verdict == automatic
        same += row.review_agrees
        same_of += 1
        if verdict != PROBLEMATIC:
            mistake += (verdict in MISTAKE_VERDICTS) == (automatic != NOT_A_MISTAKE)
            mistake_of += 1
    return reviewed, (same, same_of), (mistake, mistake_of)


def run_reviews(run: RunDir) -> tuple[dict[str, list[Review]], str]:
    """The reviews in the run's review database (none if it has none), and where they came from."""
    path = run_review_db(run.path)
    try:
        reviews = read_reviews(path)
    except ReviewError as exc:
        return {}, f"reviews not shown: {exc}"
    return (reviews or {}), (path.name if reviews else "")


def select_mistakes(rows: list[MistakeRow], limit: int) -> list[MistakeRow]:
    """Up to ``limit`` mistakes, taken in turn from each category, reviewed then most confident
    first."""
    by_category: dict[str, list[MistakeRow]] = {}
    for row in rows:
        by_category.setdefault(row.category, []).append(row)
    queues = [
        sorted(group, key=lambda r: (not r.review_verdict, -(r.confidence or 0.0), r.sample_id))
        for _, group in sorted(by_category.items(), key=lambda kv: category_rank(kv[0]))
    ]
    chosen: list[MistakeRow] = []
    depth = 0
    while len(chosen) < limit and any(depth < len(q) for q in queues):
        for queue in queues:
            if depth < len(queue) and len(chosen) < limit:
                chosen.append(queue[depth])
        depth += 1
    order = {id(r): i for i, r in enumerate(chosen)}
    return sorted(chosen, key=lambda r: (category_rank(r.category), r.category, order[id(r)]))


def attach_thumbnails(
    rows: list[MistakeRow], images: ImageResolver, progress: Callable[[int], None] | None = None
) -> int:
    """Embed a thumbnail in each row whose image is found inside the images folder; how many were."""
    found = 0
    for row in rows:
        path = images.find(row.sample_id)
        row.thumbnail = thumbnail_uri(path) if path is not None else None
        found += row.thumbnail is not None
        if progress:
            progress(1)
    return found


def _recorded_root(info: dict[str, Any]) -> Path | None:
    root = (info.get("data") or {}).get("root")
    return Path(root) if root and Path(root).is_dir() else None


def mistakes_view(
    run: RunDir,
    info: dict[str, Any],
    all_rows: list[MistakeRow],
    source: str,
    analysed: bool,
    *,
    names: tuple[str, ...],
    images: Path | None,
    max_mistakes: int,
    progress: Progress | None = None,
) -> MistakesView:
    """The mistakes part of a run: counts per category and severity, the rows shown with their
    valid labels, the reviewers' verdicts where the run has a review database and, where the
    images are found, thumbnails."""
    reviews, review_source = run_reviews(run)
    reviewed, same_category, same_mistake = attach_reviews(all_rows, reviews)
    counts = Counter(r.category for r in all_rows)
    categories = sorted(counts.items(), key=lambda kv: (category_rank(kv[0]), -kv[1]))
    severities: dict[str, Counter] = {}
    for row in all_rows:
        severities.setdefault(row.category, Counter())[row.severity.lower() or "unknown"] += 1
    shown = select_mistakes(all_rows, max_mistakes)
    unfilled = [r for r in shown if r.valid_labels is None]
    if unfilled:
        from_sets = valid_labels_from_sets(info, [r.sample_id for r in unfilled], names)
        for row in unfilled:
            row.valid_labels = from_sets.get(row.sample_id, [])
    view = MistakesView(
        total=len(all_rows),
        categories=categories,
        severities={c: dict(v) for c, v in severities.items()},
        rows=shown,
        source=source,
        analysed=analysed,
        reviewed=reviewed,
        review_source=review_source,
        review_same_category=same_category if same_category[1] else None,
        review_same_mistake=same_mistake if same_mistake[1] else None,
    )
    root = images or _recorded_root(info)
    if root is not None and shown:
        tick = progress(f"thumbnails for {run.path.name}", len(shown)) if progress else None
        found = attach_thumbnails(shown, ImageResolver(root), tick)
        if found < len(shown):
            view.images_note = f"{found:,} of {len(shown):,} images found under {root}"
    elif shown:
        view.images_note = "images not available: pass --images PATH to show thumbnails"
    return view
