"""Gather run folders into the report's view model, and render it to one self-contained HTML file.

A run folder holds ``run.json``, ``metrics.json``, ``per_class.csv`` and, after ``reassess
analyze``, ``mistakes.parquet`` and an analysis summary. The report shows whatever of these a run
has: every ``{"value", "n", "ci95"}`` entry of ``metrics.json`` whatever its key, the columns of
``mistakes.parquet`` it recognises, and, for each part it cannot show, one line saying why.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reassess.datasets.image_files import ImageResolver
from reassess.metrics.stats import clopper_pearson
from reassess.metrics.suite import MetricOptions
from reassess.metrics.titles import metric_title as key_title
from reassess.report import plots
from reassess.report.images import thumbnail_uri
from reassess.runs import compare_runs, dataset_index, recorded_expert_file
from reassess.store.atomic import atomic_write_text
from reassess.store.run import RunDir

MISTAKES_FILE = "mistakes.parquet"
SUMMARY_FILES = ("analysis.json", "analysis_summary.json", "mistakes_summary.json", "summary.json")
DEFAULT_MAX_MISTAKES = 240
WORST_CLASSES = 15
MIN_CLASS_SUPPORT = 5  # worst classes are shown only when classes have this many images (median)
RELIABILITY_BINS = 15
NOT_ANALYSED = "not analysed"

# The order of "When does dough become a bagel?" (Vasudevan et al., 2022), then anything else.
CATEGORY_ORDER = (
    "notamistake",
    "knownlabelerror",
    "finegrained",
    "finegrainedoutofvocabulary",
    "finegrainedoov",
    "spuriouscorrelation",
    "nonprototypical",
    "unexplained",
    "major",
)


# --- view model ---------------------------------------------------------------------------------


@dataclass
class Card:
    """One accuracy with its 95% interval, as shown in a headline card or the metrics table."""

    key: str
    title: str
    value: float
    n: int
    lo: float
    hi: float
    note: str = ""

    @property
    def count(self) -> int:
        return round(self.value * self.n)

    @property
    def ci(self) -> tuple[float, float]:
        return (self.lo, self.hi)


@dataclass
class Missing:
    """A part of the report that could not be shown, and why."""

    title: str
    reason: str


@dataclass
class Figure:
    """A rendered plot (``src`` is a data URI) or, when ``src`` is None, why it is left out."""

    key: str
    title: str
    caption: str = ""
    src: str | None = None
    reason: str = ""


@dataclass
class LadderStep:
    title: str
    card: Card
    delta: float | None = None  # change from the previous step, as a fraction


@dataclass
class MistakeRow:
    """One top-1 mistake as the gallery and the table show it."""

    sample_id: str
    label: str
    prediction: str
    valid_labels: list[str] | None  # None: not in mistakes.parquet, filled from the label sets
    category: str
    severity: str
    confidence: float | None
    evidence: str
    factors: str = ""  # ImageNet-X factors of the image, when mistakes.parquet has them
    thumbnail: str | None = None


@dataclass
class MistakesView:
    total: int
    categories: list[tuple[str, int]]
    rows: list[MistakeRow]
    source: str  # where the rows came from, in words
    analysed: bool
    images_note: str = ""

    @property
    def has_thumbnails(self) -> bool:
        return any(r.thumbnail for r in self.rows)

    @property
    def has_confidence(self) -> bool:
        return any(r.confidence is not None for r in self.rows)

    @property
    def has_evidence(self) -> bool:
        return any(r.evidence or r.factors for r in self.rows)


@dataclass
class RunView:
    """Everything the report shows about one run."""

    anchor: str
    path: str
    model: str
    data: str
    data_name: str
    num_samples: int | None
    created: str
    status: str
    cards: list[Card]
    missing_cards: list[Missing]
    ladder: list[LadderStep]
    metric_rows: list[Card]
    other_numbers: list[tuple[str, str]]
    skipped: list[Missing]
    notes: list[str]
    figures: list[Figure]
    mistakes: MistakesView | None
    metrics: dict[str, Any] = field(repr=False, default_factory=dict)
    forgiven: Card | None = None

    @property
    def title(self) -> str:
        return f"{self.model} on {self.data}"

    def card(self, slot: str) -> Card | None:
        return next((c for c in self.cards if c.key == slot), None)


@dataclass
class PairedTest:
    """``reassess compare`` of two runs on the same images: one row per metric."""

    a: str
    b: str
    rows: list[dict[str, str]]
    resamples: int | None = None


@dataclass
class ReportView:
    title: str
    generated: str
    version: str
    runs: list[RunView]
    leaderboard_columns: list[tuple[str, str]]
    figures: list[Figure]
    paired: list[PairedTest]
    paired_notes: list[str]


# --- reading a run folder -------------------------------------------------------------------


def _proportion(entry: Any) -> bool:
    return isinstance(entry, dict) and {"value", "n", "ci95"} <= entry.keys()


def _card(key: str, title: str, entry: dict[str, Any], note: str = "") -> Card | None:
    try:
        value, n = float(entry["value"]), int(entry["n"])
        lo, hi = (float(x) for x in entry["ci95"])
    except (TypeError, ValueError, KeyError):
        return None
    if not math.isfinite(value):
        return None
    return Card(key, title, value, n, lo, hi, note)


def iter_proportions(metrics: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict]]:
    """Every ``{"value", "n", "ci95"}`` entry of a metrics dictionary, nested ones as ``a.b``."""
    for key, entry in metrics.items():
        if key == "skipped":
            continue
        name = f"{prefix}{key}"
        if _proportion(entry):
            yield name, entry
        elif isinstance(entry, dict) and prefix.count(".") < 2:
            yield from iter_proportions(entry, f"{name}.")


NOT_RESULTS = ("options", "label_files", "notes", "skipped")


def iter_numbers(metrics: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every plain number of a metrics dictionary that is not part of a proportion entry."""
    for key, entry in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(entry, bool) or (not prefix and key in NOT_RESULTS):
            continue
        if isinstance(entry, int | float):
            yield name, float(entry)
        elif isinstance(entry, dict) and not _proportion(entry) and prefix.count(".") < 2:
            yield from iter_numbers(entry, f"{name}.")


def metric_title(key: str) -> str:
    """A readable name for a metrics.json key, nested keys (``a.b``) part by part."""
    return " · ".join(key_title(part) for part in key.split("."))


def _find_key(
    keys: list[str], preferred: tuple[str, ...], test: Callable[[str], bool]
) -> str | None:
    found = next((k for k in preferred if k in keys), None)
    return found or next((k for k in keys if test(k)), None)


def _is_multilabel_top1(key: str) -> bool:
    k = key.lower()
    return (
        "multilabel" in k
        and "top1" in k
        and not any(w in k for w in ("strict", "top5", "images", "vtopk", "soft", "imagenet_m"))
    )


# slot, card title, metrics.json keys in order of preference, fallback test, what it measures
HEADLINES: tuple[tuple[str, str, tuple[str, ...], Callable[[str], bool], str], ...] = (
    ("top1", "Top-1", ("top1",), lambda k: False, "original single labels"),
    ("top5", "Top-5", ("top5",), lambda k: False, "original single labels"),
    ("real", "ReaL top-1", ("real_top1",), lambda k: False, "ReaL labels (Beyer et al. 2020)"),
    (
        "multilabel",
        "Multi-label top-1",
        ("expert_top1", "expert_strict_top1", "multilabel_top1", "valid_labels_top1"),
        _is_multilabel_top1,
        "",
    ),
    (
        "imagenet_m",
        "ImageNet-M",
        ("imagenet_m",),
        lambda k: k.lower().startswith("imagenet_m"),
        "68 hard images (Vasudevan et al. 2022)",
    ),
)
MULTILABEL_NOTES = {
    "expert_top1": "expert multi-labels, per-class average (Shankar et al. 2020)",
    "expert_strict_top1": "expert multi-labels, strict, per-class average",
    "multilabel_top1": "ImageNetV2 multi-labels (Re-assessing ImageNet)",
    "valid_labels_top1": "any valid label of the sample photos",
}

WHY_MISSING = {
    "top1": "the data has no single labels",
    "top5": "fewer than 5 ranked predictions are stored",
    "real": "ReaL labels exist for the ImageNet validation images only",
    "multilabel": "no multi-labels for this data (expert labels for ImageNet val need "
    "--multilabel-file; ImageNetV2 MatchedFrequency and the samples have their own)",
    "imagenet_m": "needs the expert multi-label file (ImageNet val with --multilabel-file)",
}


def headline_cards(metrics: dict[str, Any]) -> tuple[list[Card], list[Missing]]:
    """The headline accuracies a metrics dictionary holds, and a reason for each it lacks."""
    proportions = dict(iter_proportions(metrics))
    keys = list(proportions)
    skipped = metrics.get("skipped") if isinstance(metrics.get("skipped"), dict) else {}
    cards, missing = [], []
    for slot, title, preferred, test, note in HEADLINES:
        key = _find_key(keys, preferred, test)
        card = _card(slot, title, proportions[key], note) if key else None
        if card is not None:
            card.note = note or MULTILABEL_NOTES.get(key) or metric_title(key)
            cards.append(card)
            continue
        reason = next((str(skipped[k]) for k in preferred if k in skipped), None) or next(
            (str(v) for k, v in skipped.items() if test(k)), WHY_MISSING[slot]
        )
        missing.append(Missing(title, f"not in metrics.json: {reason}"))
    return cards, missing


def metric_notes(metrics: dict[str, Any]) -> list[str]:
    """What metrics.json says about how it was scored: options, label files, caveats."""
    lines = []
    options = metrics.get("options")
    if isinstance(options, dict) and options:
        lines.append("options: " + ", ".join(f"{k} = {v}" for k, v in options.items()))
    files = metrics.get("label_files")
    for name, info in files.items() if isinstance(files, dict) else []:
        if isinstance(info, dict):
            state = "sha256 verified" if info.get("verified") else "sha256 NOT verified"
            lines.append(f"{name} labels: {info.get('file', '?')} ({state})")
    notes = metrics.get("notes")
    for key, note in notes.items() if isinstance(notes, dict) else []:
        lines.append(f"note on {metric_title(key)}: {note}")
    return lines


def read_per_class(path: Path) -> list[dict[str, Any]]:
    """Rows of ``per_class.csv`` (class, wnid, name, support, top1) with numbers parsed."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            try:
                rows.append(
                    {
                        "class": int(row["class"]),
                        "name": row.get("name") or row.get("wnid") or row["class"],
                        "support": int(row["support"]),
                        "top1": float(row["top1"]),
                    }
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}: line {i} is not a per-class row ({exc})") from exc
    return rows


def read_summary(run: RunDir) -> tuple[dict[str, Any] | None, str | None]:
    """The analysis summary of a run (JSON written by ``reassess analyze``), if there is one."""
    for name in SUMMARY_FILES:
        path = run.path / name
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: not valid JSON ({exc})") from exc
            if isinstance(data, dict):
                return data, name
    return None, None


def _find_in(data: Any, words: tuple[str, ...], depth: int = 0) -> Any:
    """The first value under a key that contains every word (depth-first, up to 3 levels)."""
    if not isinstance(data, dict) or depth > 3:
        return None
    for key, value in data.items():
        if all(w in key.lower() for w in words):
            return value
    for value in data.values():
        found = _find_in(value, words, depth + 1)
        if found is not None:
            return found
    return None


def _records(table: Any, name_keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """A summary table as records: a list of dicts, or a dict of name -> dict/number."""
    if isinstance(table, list):
        return [r for r in table if isinstance(r, dict)]
    if isinstance(table, dict):
        out = []
        for name, value in table.items():
            record = dict(value) if isinstance(value, dict) else {"value": value}
            record.setdefault(name_keys[0], name)
            out.append(record)
        return out
    return []


def _pick(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((record[k] for k in keys if record.get(k) is not None), None)


def imagenet_x_bars(summary: dict[str, Any] | None) -> list[plots.Bar]:
    """Error ratio per ImageNet-X factor, from ``analysis.json``'s ``imagenet_x.factors``."""
    factors = ((summary or {}).get("imagenet_x") or {}).get("factors") or []
    bars = []
    for factor in factors:
        ratio = factor.get("error_ratio")
        if ratio is None or not math.isfinite(float(ratio)):
            continue
        bars.append(
            plots.Bar(
                str(factor["factor"]).replace("_", " "), float(ratio), None, None, factor.get("n")
            )
        )
    return bars


def _summary_bars(
    summary: dict[str, Any] | None, words: tuple[str, ...], value_keys: tuple[str, ...]
) -> list[plots.Bar]:
    """Bars from a summary table found by key words; rows without a finite value are dropped."""
    if not summary:
        return []
    name_keys = ("name", "superclass", "factor", "label", "key")
    bars = []
    for record in _records(_find_in(summary, words), name_keys):
        value = _pick(record, value_keys)
        if isinstance(value, dict):
            record, value = {**record, **value}, value.get("value")
        try:
            value = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(value):
            continue
        ci = record.get("ci95")
        lo, hi = (float(ci[0]), float(ci[1])) if isinstance(ci, list | tuple) else (None, None)
        n = _pick(record, ("n", "support", "count", "num_images"))
        bars.append(
            plots.Bar(
                str(_pick(record, name_keys)),
                value,
                lo,
                hi,
                int(n) if isinstance(n, int | float) else None,
            )
        )
    return bars


# --- mistakes ---------------------------------------------------------------------------------


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(text).lower())


def pretty_category(raw: Any) -> str:
    """``fine_grained_oov`` -> ``Fine-grained out-of-vocabulary`` (the analysis' own titles);
    an unknown key -> its words capitalised; None -> ``not analysed``."""
    from reassess.analysis.mistakes import CATEGORY_TITLES

    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return NOT_ANALYSED
    if str(raw) in CATEGORY_TITLES:
        return CATEGORY_TITLES[str(raw)]
    text = str(raw).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else NOT_ANALYSED


def _category_rank(name: str) -> int:
    norm = _normal(name)
    return CATEGORY_ORDER.index(norm) if norm in CATEGORY_ORDER else len(CATEGORY_ORDER)


SET_NAMES = {"real": "ReaL", "multilabel": "multi-labels", "valid_labels": "valid"}

COLUMN_NAMES = {
    "sample_id": ("sample_id", "image", "file", "file_name", "id"),
    "label": ("label", "label_index", "original_label", "true_label", "target"),
    "prediction": ("prediction", "pred", "predicted", "top1", "prediction_index", "pred_index"),
    "label_name": ("label_name", "original_label_name", "label_class"),
    "prediction_name": ("prediction_name", "pred_name", "predicted_name"),
    "category": ("category", "kind", "mistake_category"),
    "severity": ("severity",),
    "valid": ("valid_labels", "multilabels", "multi_labels", "multilabel", "label_set"),
    "confidence": ("confidence", "prob", "probability", "top1_prob", "score"),
    "evidence": ("evidence", "reason", "why"),
    "factors": ("imagenet_x_factors", "imagenet_x", "factors"),
}


def _column(table, role: str) -> list | None:
    for name in COLUMN_NAMES[role]:
        if name in table.column_names:
            return table.column(name).to_pylist()
    return None


def _class_name(value: Any, names: tuple[str, ...]) -> str:
    if isinstance(value, int | np.integer) and 0 <= int(value) < len(names):
        return names[int(value)]
    if isinstance(value, str) and value.isdigit() and int(value) < len(names):
        return names[int(value)]
    return "" if value is None else str(value)


def _evidence_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, "", []))
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def _factors_text(value: Any) -> str:
    """ImageNet-X factors as text, from a list of names, a name -> 0/1 mapping or a string."""
    if isinstance(value, dict):
        value = [k for k, v in value.items() if v]
    if isinstance(value, list | tuple):
        return ", ".join(str(v).replace("_", " ") for v in value)
    return "" if value is None else str(value)


def _valid_labels_from_sets(
    run_info: dict[str, Any], sample_ids: list[str], names: tuple[str, ...]
) -> dict[str, list[str]]:
    """Each sample's valid labels from the label sets of its data (ReaL, multi-labels)."""
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
                title = SET_NAMES.get(set_name, set_name)
                out[sample].append(f"{title}: " + (", ".join(classes) or "no class fits"))
    return out


def read_mistakes(run: RunDir, names: tuple[str, ...]) -> tuple[list[MistakeRow], str, bool]:
    """All top-1 mistakes of a run: from mistakes.parquet, else from the stored predictions."""
    path = run.path / MISTAKES_FILE
    if path.is_file():
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ValueError(f"{path}: not a Parquet file ({exc})") from exc
        ids = _column(table, "sample_id")
        if ids is None:
            raise ValueError(f"{path}: has no sample_id column (columns: {table.column_names})")
        n = len(ids)

        def col(role: str) -> list:
            return _column(table, role) or [None] * n

        labels, preds = col("label"), col("prediction")
        label_names, pred_names = col("label_name"), col("prediction_name")
        valid = _column(table, "valid")
        valid_text = (
            [[", ".join(_class_name(v, names) for v in vs)] if vs else [] for vs in valid]
            if valid is not None
            else [None] * n
        )
        columns = {role: col(role) for role in ("category", "severity", "confidence", "evidence")}
        factors = col("factors")
        rows = []
        for i in range(n):
            conf = columns["confidence"][i]
            rows.append(
                MistakeRow(
                    sample_id=str(ids[i]),
                    label=str(label_names[i] or _class_name(labels[i], names)),
                    prediction=str(pred_names[i] or _class_name(preds[i], names)),
                    valid_labels=valid_text[i],
                    category=pretty_category(columns["category"][i]),
                    severity=str(columns["severity"][i] or ""),
                    confidence=float(conf) if isinstance(conf, int | float) else None,
                    evidence=_evidence_text(columns["evidence"][i]),
                    factors=_factors_text(factors[i]),
                )
            )
        analysed = _column(table, "category") is not None
        return rows, f"{MISTAKES_FILE} ({n:,} rows)", analysed
    predictions = run.read_predictions()
    wrong = np.flatnonzero((predictions.labels >= 0) & (predictions.top1 != predictions.labels))
    ids = [str(s) for s in predictions.sample_ids[wrong]]
    conf = predictions.probs[wrong, 0] if predictions.probs is not None else None
    rows = [
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
    return rows, "predictions.parquet (top-1 differs from the single label)", False


def select_mistakes(rows: list[MistakeRow], limit: int) -> list[MistakeRow]:
    """Up to ``limit`` mistakes, taken in turn from each category, most confident first."""
    by_category: dict[str, list[MistakeRow]] = {}
    for row in rows:
        by_category.setdefault(row.category, []).append(row)
    queues = [
        sorted(group, key=lambda r: (-(r.confidence or 0.0), r.sample_id))
        for _, group in sorted(by_category.items(), key=lambda kv: _category_rank(kv[0]))
    ]
    chosen: list[MistakeRow] = []
    depth = 0
    while len(chosen) < limit and any(depth < len(q) for q in queues):
        for queue in queues:
            if depth < len(queue) and len(chosen) < limit:
                chosen.append(queue[depth])
        depth += 1
    order = {id(r): i for i, r in enumerate(chosen)}
    return sorted(chosen, key=lambda r: (_category_rank(r.category), r.category, order[id(r)]))


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


# --- figures for one run ------------------------------------------------------------------------


def _class_bar(name: str, correct: float, support: int) -> plots.Bar:
    k = round(correct)
    lo, hi = clopper_pearson(k, support)
    return plots.Bar(name, k / support, lo, hi, support)


def superclass_bars(per_class: list[dict[str, Any]]) -> list[plots.Bar]:
    """Top-1 accuracy per coarse WordNet superclass (dog, bird, vehicle, ...) from per-class rows."""
    from reassess.labels.hierarchy import imagenet_hierarchy

    ids, groups = imagenet_hierarchy().superclass_array("coarse")
    correct, support = np.zeros(len(groups)), np.zeros(len(groups), dtype=np.int64)
    for row in per_class:
        g = ids[row["class"]]
        correct[g] += row["top1"] * row["support"]
        support[g] += row["support"]
    bars = [_class_bar(groups[g][1], correct[g], int(support[g])) for g in np.flatnonzero(support)]
    return sorted(bars, key=lambda b: (b.value, b.label))


def worst_class_bars(per_class: list[dict[str, Any]], count: int) -> list[plots.Bar]:
    rows = [r for r in per_class if r["support"] > 0]
    rows.sort(key=lambda r: (r["top1"], -r["support"], r["name"]))
    return [_class_bar(r["name"], r["top1"] * r["support"], r["support"]) for r in rows[:count]]


def reliability_table(metrics: dict[str, Any], run: RunDir) -> dict[str, Any] | None:
    """Reliability bins and ECE: from metrics.json's ``calibration``, else from the predictions.

    Runs scored before calibration was part of ``metrics.json`` still have their probabilities;
    for them the same :func:`reassess.metrics.calibration.calibration` is computed here.
    Returns None when the run stored no probabilities.
    """
    stored = metrics.get("calibration")
    if isinstance(stored, dict) and isinstance(stored.get("bins"), list) and stored["bins"]:
        try:
            bins = [
                (
                    float(b["lo"]),
                    float(b["hi"]),
                    float(b["confidence"]),
                    float(
                        b["accuracy"]["value"] if isinstance(b["accuracy"], dict) else b["accuracy"]
                    ),
                    int(b["count"]),
                )
                for b in stored["bins"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{run.metrics_file}: unreadable calibration bins ({exc})") from exc
        ece = metrics.get("ece")
        ece = ece.get("value") if isinstance(ece, dict) else ece
        ece = float(ece) if isinstance(ece, int | float) else None
    else:
        if not run.predictions_file.exists():
            return None
        from reassess.metrics.calibration import calibration

        predictions = run.read_predictions()
        known = predictions.labels >= 0
        if predictions.probs is None or not known.any():
            return None
        result = calibration(
            predictions.probs[known, 0],
            predictions.top1[known] == predictions.labels[known],
            num_bins=RELIABILITY_BINS,
            resamples=0,
        )
        bins = [
            (b.lo, b.hi, b.confidence, b.accuracy.value, b.count) for b in result.bins if b.count
        ]
        ece = result.ece
    lower, upper, confidence, accuracy, counts = (list(col) for col in zip(*bins, strict=True))
    return {
        "lower": lower,
        "upper": upper,
        "confidence": confidence,
        "accuracy": accuracy,
        "counts": counts,
        "ece": ece,
        "n": sum(counts),
    }


def run_figures(
    run: RunDir,
    metrics: dict[str, Any],
    summary: dict[str, Any] | None,
    per_class: list[dict[str, Any]] | None,
    mistakes: MistakesView | None,
    total: int,
    overall: Card | None,
) -> list[Figure]:
    """The five per-run plots, each drawn or with the reason it is left out."""
    figures = []
    analyze_hint = f"run reassess analyze {run.path}"

    fig = Figure("categories", "Mistakes by category")
    if mistakes and mistakes.analysed and mistakes.categories:
        severity = _category_severity_counts(mistakes)
        rows = [(c, severity.get(c) or {"unknown": n}) for c, n in mistakes.categories]
        fig.src = plots.category_bars(rows, total)
        fig.caption = (
            f"{mistakes.total:,} top-1 mistakes on {total:,} images, sorted into the categories of "
            '"When does dough become a bagel?" (Vasudevan et al. 2022).'
        )
    else:
        fig.reason = f"the mistakes are not categorised yet: {analyze_hint}"
    figures.append(fig)

    fig = Figure("superclasses", "Accuracy per superclass")
    bars = _summary_bars(summary, ("superclass",), ("accuracy", "top1", "acc", "value"))
    source = "the analysis summary"
    if not bars and per_class:
        try:
            bars = superclass_bars(per_class)
            source = "per_class.csv, grouped by coarse WordNet superclass"
        except (ImportError, FileNotFoundError):
            bars = []
    if bars:
        bars = sorted(bars, key=lambda b: (b.value, b.label))
        fig.src = plots.interval_dots(
            bars,
            xlabel="top-1 accuracy (%), 95% Clopper-Pearson interval",
            reference=overall.value if overall else None,
            reference_label="overall" if overall else None,
        )
        fig.caption = f"Single-label top-1 accuracy per superclass, lowest first (from {source})."
    else:
        fig.reason = "no per-class table (per_class.csv) in the run folder"
    figures.append(fig)

    fig = Figure("imagenet_x", "ImageNet-X: error ratio per factor")
    bars = imagenet_x_bars(summary)
    if bars:
        fig.src = plots.ratio_bars(bars, xlabel="error ratio  (1 - acc on factor) / (1 - acc)")
        fig.caption = (
            "How much more often the model errs on images annotated with each ImageNet-X factor "
            "(Idrissi et al. 2023) than overall; above 1 = harder."
        )
    elif summary is None:
        fig.reason = f"no analysis summary: {analyze_hint}"
    else:
        fig.reason = "the analysis summary has no ImageNet-X factors (ImageNet val runs only)"
    figures.append(fig)

    fig = Figure("reliability", "Reliability diagram")
    table = reliability_table(metrics, run)
    if table is not None:
        fig.src = plots.reliability_diagram(
            table["lower"],
            table["upper"],
            table["confidence"],
            table["accuracy"],
            table["counts"],
            table["ece"],
        )
        fig.caption = (
            f"Single-label top-1 accuracy against top-1 confidence on {table['n']:,} images "
            "(equal-width bins; empty bins left out); ECE as in Guo et al. 2017."
        )
    else:
        fig.reason = "the run stored no probabilities (only class indices)"
    figures.append(fig)

    fig = Figure("worst_classes", f"The {WORST_CLASSES} worst classes")
    if per_class:
        median = float(np.median([r["support"] for r in per_class]))
        if median >= MIN_CLASS_SUPPORT:
            bars = worst_class_bars(per_class, WORST_CLASSES)
            fig.src = plots.interval_dots(
                bars,
                xlabel="top-1 accuracy (%), 95% Clopper-Pearson interval",
                reference=overall.value if overall else None,
                reference_label="overall" if overall else None,
            )
            fig.caption = "Classes with the lowest single-label top-1 accuracy (per_class.csv)."
        else:
            fig.reason = (
                f"classes have a median of {median:g} image(s): too few for per-class accuracy "
                f"(needs {MIN_CLASS_SUPPORT})"
            )
    else:
        fig.reason = "no per-class table (per_class.csv) in the run folder"
    figures.append(fig)
    return figures


def _category_severity_counts(mistakes: MistakesView) -> dict[str, dict[str, int]]:
    """Per category, how many of its mistakes have each severity (as the analysis scored them)."""
    counts: dict[str, Counter] = {}
    for row in mistakes.rows:
        counts.setdefault(row.category, Counter())[row.severity.lower() or "unknown"] += 1
    return {c: dict(v) for c, v in counts.items()}


# --- the ladder ---------------------------------------------------------------------------------


def forgiven_accuracy(
    summary: dict[str, Any] | None, all_mistakes: list[MistakeRow], top1: Card | None
) -> Card | None:
    """Accuracy when "not a mistake" and minor errors are forgiven (only major ones count)."""
    title = "Minor errors forgiven"
    note = "only major mistakes count (Vasudevan et al. 2022)"
    if summary:
        for words in (("minor", "forgiven"), ("forgiven",)):
            entry = _find_in(summary, words)
            if _proportion(entry):
                return _card("forgiven", title, entry, note)
            if isinstance(entry, int | float) and top1 is not None:
                k = round(float(entry) * top1.n)
                lo, hi = clopper_pearson(k, top1.n)
                return Card("forgiven", title, float(entry), top1.n, lo, hi, note)
    if top1 is None or not all_mistakes or not any(r.severity for r in all_mistakes):
        return None
    major = sum(r.severity.lower() == "major" for r in all_mistakes)
    k = top1.n - major
    lo, hi = clopper_pearson(k, top1.n)
    return Card("forgiven", title, k / top1.n, top1.n, lo, hi, note)


def ladder(cards: list[Card], forgiven: Card | None) -> list[LadderStep]:
    """Single-label -> ReaL -> multi-label -> minor errors forgiven, with each step's change."""
    titles = {
        "top1": "Single-label top-1",
        "real": "ReaL top-1",
        "multilabel": "Multi-label top-1",
        "forgiven": "Minor errors forgiven",
    }
    by_key = {c.key: c for c in cards}
    if forgiven is not None:
        by_key["forgiven"] = forgiven
    steps: list[LadderStep] = []
    for key, title in titles.items():
        card = by_key.get(key)
        if card is None:
            continue
        delta = card.value - steps[-1].card.value if steps else None
        steps.append(LadderStep(title, card, delta))
    return steps


# --- one run ------------------------------------------------------------------------------------


def gather_run(
    path: Path,
    index: int,
    *,
    images: Path | None = None,
    max_mistakes: int = DEFAULT_MAX_MISTAKES,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> RunView:
    """Read one run folder into its view (cards, ladder, figures, mistakes)."""
    from reassess.labels.imagenet import imagenet_classes

    run = RunDir(path)
    info = run.read_run()
    if not run.metrics_file.exists():
        raise FileNotFoundError(
            f"{run.metrics_file}: no metrics yet; run reassess metrics {run.path}"
        )
    try:
        metrics = run.read_metrics()
    except json.JSONDecodeError as exc:
        raise ValueError(f"{run.metrics_file}: not valid JSON ({exc})") from exc
    if not isinstance(metrics, dict):
        raise ValueError(f"{run.metrics_file}: expected a JSON object")
    names = tuple(imagenet_classes().names)
    summary, _ = read_summary(run)
    per_class = read_per_class(run.per_class_file) if run.per_class_file.exists() else None

    cards, missing = headline_cards(metrics)
    top1 = next((c for c in cards if c.key == "top1"), None)
    metric_rows = [c for k, e in iter_proportions(metrics) if (c := _card(k, metric_title(k), e))]
    other_numbers = [
        (metric_title(k), f"{v:,.4g}" if not float(v).is_integer() else f"{int(v):,}")
        for k, v in iter_numbers(metrics)
    ]
    skipped = [Missing(metric_title(k), str(v)) for k, v in (metrics.get("skipped") or {}).items()]
    notes = metric_notes(metrics)

    mistakes_view = None
    all_rows: list[MistakeRow] = []
    if (run.path / MISTAKES_FILE).is_file() or run.predictions_file.exists():
        all_rows, source, analysed = read_mistakes(run, names)
        counts = Counter(r.category for r in all_rows)
        categories = sorted(counts.items(), key=lambda kv: (_category_rank(kv[0]), -kv[1]))
        shown = select_mistakes(all_rows, max_mistakes)
        unfilled = [r for r in shown if r.valid_labels is None]
        if unfilled:
            from_sets = _valid_labels_from_sets(info, [r.sample_id for r in unfilled], names)
            for row in unfilled:
                row.valid_labels = from_sets.get(row.sample_id, [])
        mistakes_view = MistakesView(len(all_rows), categories, shown, source, analysed)
        root = images or _recorded_root(info)
        if root is not None and shown:
            tick = progress(f"thumbnails for {run.path.name}", len(shown)) if progress else None
            found = attach_thumbnails(shown, ImageResolver(root), tick)
            mistakes_view.images_note = (
                f"{found:,} of {len(shown):,} images found under {root}"
                if found < len(shown)
                else ""
            )
        else:
            mistakes_view.images_note = (
                "images not available: pass --images PATH to show thumbnails" if shown else ""
            )

    forgiven = forgiven_accuracy(summary, all_rows if mistakes_view else [], top1)
    total = top1.n if top1 else int(metrics.get("num_samples") or 0)
    figures = run_figures(run, metrics, summary, per_class, mistakes_view, total, top1)
    model = info.get("model", {})
    data = info.get("data", {})
    return RunView(
        anchor=f"run-{index + 1}",
        path=str(run.path),
        model=str(model.get("name") or model.get("spec") or "unknown model"),
        data=str(data.get("spec") or data.get("name") or "unknown data"),
        data_name=str(data.get("name") or ""),
        num_samples=metrics.get("num_samples") or info.get("num_predictions"),
        created=str(info.get("finished") or info.get("created") or ""),
        status=str(info.get("status") or ""),
        cards=cards,
        missing_cards=missing,
        ladder=ladder(cards, forgiven),
        metric_rows=metric_rows,
        other_numbers=other_numbers,
        skipped=skipped,
        notes=notes,
        figures=figures,
        mistakes=mistakes_view,
        metrics=metrics,
        forgiven=forgiven,
    )


def _recorded_root(info: dict[str, Any]) -> Path | None:
    root = (info.get("data") or {}).get("root")
    return Path(root) if root and Path(root).is_dir() else None


# --- several runs -------------------------------------------------------------------------------

LEADERBOARD = (
    ("top1", "Top-1"),
    ("top5", "Top-5"),
    ("real", "ReaL"),
    ("multilabel", "Multi-label"),
    ("imagenet_m", "ImageNet-M"),
    ("forgiven", "Minor forgiven"),
)


def _point(run: RunView, x: Card, y: Card) -> plots.Point:
    return plots.Point(run.model, x.value, y.value, x.ci, y.ci)


def comparison_figures(runs: list[RunView]) -> list[Figure]:
    """Scatter plots across runs: ReaL / multi-label vs top-1, and ImageNetV2 vs ImageNet."""
    figures = []
    fig = Figure("vs_top1", "ReaL and multi-label accuracy against top-1")
    series: dict[str, list[plots.Point]] = {"ReaL top-1": [], "Multi-label top-1": []}
    for run in runs:
        top1 = run.card("top1")
        for slot, name in (("real", "ReaL top-1"), ("multilabel", "Multi-label top-1")):
            if top1 and (other := run.card(slot)):
                series[name].append(_point(run, top1, other))
    if any(series.values()):
        fig.src = plots.scatter_against(
            series, xlabel="single-label top-1 (%)", ylabel="accuracy with multi-labels (%)"
        )
        fig.caption = (
            "Each point is a run; bars are 95% intervals. Above the diagonal, the single label "
            "undercounts the model."
        )
    else:
        fig.reason = "no run has ReaL or multi-label accuracy next to top-1"
    figures.append(fig)

    fig = Figure("v2_vs_val", "ImageNetV2 against ImageNet")
    pairs = v2_pairs(runs)
    single = [
        _point(val, val.card("top1"), v2.card("top1"))
        for val, v2 in pairs
        if val.card("top1") and v2.card("top1")
    ]
    multi = [
        _point(val, val.card("real"), v2.card("multilabel"))
        for val, v2 in pairs
        if val.card("real") and v2.card("multilabel")
    ]
    if single or multi:
        fig.src = plots.scatter_against(
            {"single-label top-1": single, "ReaL (val) vs multi-label (V2)": multi},
            xlabel="ImageNet val accuracy (%)",
            ylabel="ImageNetV2 accuracy (%)",
        )
        fig.caption = (
            f"{len(pairs)} model(s) with runs on both, paired by model spec. The gap to the "
            "diagonal is the V2 drop, with single labels and with multi-labels."
        )
    else:
        fig.reason = "no model has runs on both ImageNet val and ImageNetV2"
    figures.append(fig)
    return figures


def v2_pairs(runs: list[RunView]) -> list[tuple[RunView, RunView]]:
    """(ImageNet val run, ImageNetV2 run) pairs of the same model spec."""
    val = {r.model: r for r in runs if r.data_name == "imagenet-val"}
    return [
        (val[r.model], r) for r in runs if r.data_name.startswith("imagenetv2") and r.model in val
    ]


def _paired_options(a: RunDir, b: RunDir):
    """Scoring options for comparing two runs: the expert file and options both were scored with.

    An unverified expert file is used as it was recorded; its UnverifiedLabelsWarning is left to
    the caller (the ``report`` command prints it).
    """
    from reassess.labels.expert import load_expert_multilabels

    (path_a, verified_a), (path_b, _) = recorded_expert_file(a), recorded_expert_file(b)
    expert = None
    if path_a is not None and path_a == path_b:
        expert = load_expert_multilabels(path_a, verify=verified_a)
    recorded = [
        (run.read_metrics().get("options") or {}) if run.metrics_file.exists() else {}
        for run in (a, b)
    ]
    same = {k: v for k, v in recorded[0].items() if recorded[1].get(k) == v}
    return MetricOptions(
        expert=expert,
        strict=bool(same.get("strict", False)) and expert is not None,
        equivalences=bool(same.get("equivalences", False)),
    )


def paired_rows(result: dict[str, Any]) -> list[dict[str, str]]:
    """The rows of one ``compare_runs`` result as the report's table shows them."""
    rows = []
    for key, entry in result["metrics"].items():
        lo, hi = entry["ci95"]
        mcnemar = entry.get("mcnemar")
        verdict = "A better" if lo > 0 else "B better" if hi < 0 else "not significant"
        rows.append(
            {
                "metric": key_title(key),
                "A": _pct(entry["a"]["value"]),
                "B": _pct(entry["b"]["value"]),
                "A − B (pp)": f"{100 * entry['difference']:+.2f}",
                "95% CI (paired bootstrap)": f"{100 * lo:+.2f} to {100 * hi:+.2f}",
                "McNemar A-only / B-only, p": (
                    f"{mcnemar['a_only']:,} / {mcnemar['b_only']:,}, {_p_value(mcnemar['p_value'])}"
                    if mcnemar
                    else "–"
                ),
                "images": f"{entry['n']:,}",
                "verdict": verdict,
            }
        )
    return rows


def _p_value(p: float) -> str:
    """An exact p-value for display; below double precision it is shown as a bound."""
    return "p < 1e-300" if p < 1e-300 else f"p = {p:.2g}"


def paired_tests(
    runs: list[RunView], progress: Callable[[str, int], Callable[[int], None]] | None = None
) -> tuple[list[PairedTest], list[str]]:
    """``reassess compare`` of the best run (top-1) on each dataset against every other on it."""
    groups: dict[str, list[RunView]] = {}
    for run in runs:
        groups.setdefault(run.data_name or run.data, []).append(run)
    pairs = []
    for group in groups.values():
        ranked = sorted(group, key=lambda r: -(r.card("top1").value if r.card("top1") else -1))
        pairs += [(ranked[0], other) for other in ranked[1:]]
    if not pairs:
        return [], ["no two runs are on the same data, so there is nothing to pair"]
    tests, notes = [], []
    tick = progress("paired tests", len(pairs)) if progress else None
    for a, b in pairs:
        run_a, run_b = RunDir(a.path), RunDir(b.path)
        try:
            result = compare_runs(run_a, run_b, options=_paired_options(run_a, run_b))
        except (ValueError, FileNotFoundError) as exc:
            notes.append(f"{a.title} vs {b.title}: not paired ({exc})")
        else:
            resamples = result.get("bootstrap", {}).get("resamples")
            tests.append(PairedTest(a.title, b.title, paired_rows(result), resamples))
        if tick:
            tick(1)
    return tests, notes


# --- the whole report ---------------------------------------------------------------------------


def build_report(
    run_dirs: list[Path],
    *,
    images: Path | None = None,
    max_mistakes: int = DEFAULT_MAX_MISTAKES,
    title: str | None = None,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> ReportView:
    """The view model of a report over one or more run folders."""
    from reassess import __version__

    if not run_dirs:
        raise ValueError("give at least one run folder")
    if images is not None and not Path(images).is_dir():
        raise FileNotFoundError(f"{images}: --images must be a folder of images")
    runs = [
        gather_run(Path(p), i, images=images, max_mistakes=max_mistakes, progress=progress)
        for i, p in enumerate(run_dirs)
    ]
    several = len(runs) > 1
    figures = comparison_figures(runs) if several else []
    paired, paired_notes = paired_tests(runs, progress) if several else ([], [])
    used = {c.key for r in runs for c in r.cards} | {"forgiven" for r in runs if r.forgiven}
    columns = [(k, t) for k, t in LEADERBOARD if k in used]
    default_title = runs[0].title if not several else f"{len(runs)} runs compared"
    return ReportView(
        title=title or default_title,
        generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        runs=runs,
        leaderboard_columns=columns,
        figures=figures,
        paired=paired,
        paired_notes=paired_notes,
    )


def render_report(view: ReportView) -> str:
    """The report as one HTML string; every text is escaped by Jinja2's autoescape."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("reassess.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = _pct
    env.filters["pp"] = _pp
    env.filters["thousands"] = lambda n: f"{int(n):,}"
    return env.get_template("report.html.j2").render(report=view)


def _pct(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.{digits}f}%"


def _pp(value: float | None) -> str:
    return "" if value is None else f"{100 * value:+.2f} pp"


def write_report(
    run_dirs: list[Path],
    out: Path,
    *,
    images: Path | None = None,
    max_mistakes: int = DEFAULT_MAX_MISTAKES,
    title: str | None = None,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> ReportView:
    """Build the report of ``run_dirs`` and write it atomically to ``out`` (one HTML file)."""
    view = build_report(
        run_dirs, images=images, max_mistakes=max_mistakes, title=title, progress=progress
    )
    atomic_write_text(Path(out), render_report(view))
    return view
