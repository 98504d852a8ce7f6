"""The numbers of a run: headline cards, the accuracy ladder, every metric row and scoring notes.

Everything here reads ``metrics.json`` (as :meth:`reassess.store.run.RunDir.read_metrics` returns
it: metric keys -> ``{"value", "n", "ci95"}``, titled by :mod:`reassess.metrics.registry`) and,
for an analysed run, ``analysis.json``'s ladder (the rungs ``reassess analyze`` prints, steps from
the same :func:`reassess.analysis.summary.ladder_changes`); nothing is recomputed that a file
already holds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from reassess.analysis.summary import LADDER_MINOR, ladder_changes
from reassess.metrics.registry import metric_title as registered_title
from reassess.metrics.stats import clopper_pearson
from reassess.report.view import Card, LadderStep, Missing, MistakeRow

#: The key of the "minor mistakes forgiven" rung of ``analysis.json``'s ``ladder``.
MINOR_FORGIVEN = LADDER_MINOR
FORGIVEN_TITLE = "Minor errors forgiven"
FORGIVEN_NOTE = "only major mistakes count (Vasudevan et al. 2022)"
#: Top-level keys of metrics.json that say how it was scored rather than hold results.
NOT_RESULTS = ("options", "label_files", "notes", "skipped")


def is_proportion(entry: Any) -> bool:
    """Whether a metrics.json entry is a ``{"value", "n", "ci95"}`` proportion."""
    return isinstance(entry, dict) and {"value", "n", "ci95"} <= entry.keys()


def card_of(key: str, title: str, entry: dict[str, Any], note: str = "") -> Card | None:
    """A proportion entry as a card; None when it holds no finite value."""
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
        if is_proportion(entry):
            yield name, entry
        elif isinstance(entry, dict) and prefix.count(".") < 2:
            yield from iter_proportions(entry, f"{name}.")


def iter_numbers(metrics: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every plain number of a metrics dictionary that is not part of a proportion entry."""
    for key, entry in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(entry, bool) or (not prefix and key in NOT_RESULTS):
            continue
        if isinstance(entry, int | float):
            yield name, float(entry)
        elif isinstance(entry, dict) and not is_proportion(entry) and prefix.count(".") < 2:
            yield from iter_numbers(entry, f"{name}.")


def metric_title(key: str) -> str:
    """A readable name for a metrics.json key, nested keys (``a.b``) part by part."""
    return " · ".join(registered_title(part) for part in key.split("."))


# slot, card title, metrics.json keys in order of preference, what it measures (None: per key)
HEADLINES: tuple[tuple[str, str, tuple[str, ...], str | None], ...] = (
    ("top1", "Top-1", ("top1",), "original single labels"),
    ("top5", "Top-5", ("top5",), "original single labels"),
    ("real", "ReaL top-1", ("real_top1",), "ReaL labels (Beyer et al. 2020)"),
    (
        "multilabel",
        "Multi-label top-1",
        ("expert_top1", "expert_strict_top1", "multilabel_top1", "valid_labels_top1"),
        None,
    ),
    ("imagenet_m", "ImageNet-M", ("imagenet_m",), "68 hard images (Vasudevan et al. 2022)"),
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
    skipped = metrics.get("skipped") or {}
    cards, missing = [], []
    for slot, title, keys, note in HEADLINES:
        key = next((k for k in keys if is_proportion(metrics.get(k))), None)
        card = card_of(slot, title, metrics[key], note or MULTILABEL_NOTES[key]) if key else None
        if card is not None:
            cards.append(card)
            continue
        reason = next((str(skipped[k]) for k in keys if k in skipped), WHY_MISSING[slot])
        missing.append(Missing(title, f"not in metrics.json: {reason}"))
    return cards, missing


def metric_rows(metrics: dict[str, Any]) -> list[Card]:
    """Every proportion of metrics.json as a row of the metrics table."""
    return [c for k, e in iter_proportions(metrics) if (c := card_of(k, metric_title(k), e))]


def other_numbers(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """Every plain number of metrics.json (counts, sizes) as (title, formatted value)."""
    return [
        (metric_title(k), f"{v:,.4g}" if not float(v).is_integer() else f"{int(v):,}")
        for k, v in iter_numbers(metrics)
    ]


def skipped_metrics(metrics: dict[str, Any]) -> list[Missing]:
    """The metrics metrics.json says it could not compute, with its reason for each."""
    return [Missing(metric_title(k), str(v)) for k, v in (metrics.get("skipped") or {}).items()]


def metric_notes(metrics: dict[str, Any]) -> list[str]:
    """What metrics.json says about how it was scored: options, label files, caveats."""
    lines = []
    options = metrics.get("options")
    if options:
        lines.append("options: " + ", ".join(f"{k} = {v}" for k, v in options.items()))
    for name, info in (metrics.get("label_files") or {}).items():
        if isinstance(info, dict):
            state = "sha256 verified" if info.get("verified") else "sha256 NOT verified"
            lines.append(f"{name} labels: {info.get('file', '?')} ({state})")
    for key, note in (metrics.get("notes") or {}).items():
        lines.append(f"note on {metric_title(key)}: {note}")
    return lines


def forgiven_accuracy(
    analysis: dict[str, Any] | None, all_mistakes: list[MistakeRow], top1: Card | None
) -> Card | None:
    """Accuracy when "not a mistake" and minor errors are forgiven (only major ones count).

    The ``minor_forgiven`` rung of ``analysis.json``'s ladder when the run is analysed; else
    counted from the severities of the mistakes (a mistakes.parquet without its summary).
    """
    if analysis is not None:
        rung = next(
            (r for r in analysis.get("ladder") or [] if r.get("key") == MINOR_FORGIVEN), None
        )
        if rung is not None:
            return card_of("forgiven", FORGIVEN_TITLE, rung, FORGIVEN_NOTE)
    if top1 is None or not any(r.severity for r in all_mistakes):
        return None
    major = sum(r.severity.lower() == "major" for r in all_mistakes)
    k = top1.n - major
    lo, hi = clopper_pearson(k, top1.n)
    return Card("forgiven", FORGIVEN_TITLE, k / top1.n, top1.n, lo, hi, FORGIVEN_NOTE)


#: card slot -> rung title, for a run without ``analysis.json`` (whose ladder is then unknown).
UNANALYSED_LADDER = {
    "top1": "Single-label top-1",
    "real": "ReaL top-1",
    "multilabel": "Multi-label top-1",
    "forgiven": FORGIVEN_TITLE,
}


def analysis_ladder(analysis: dict[str, Any]) -> list[LadderStep]:
    """The rungs of ``analysis.json``'s ladder, with the titles, numbers and steps the terminal shows.

    A rung that holds no finite value is left out and the steps are taken between the rest.
    """
    rungs = [
        card
        for rung in analysis.get("ladder") or []
        if isinstance(rung, dict)
        and (card := card_of(str(rung.get("key", "")), str(rung.get("title", "")), rung))
    ]
    changes = ladder_changes([{"value": card.value} for card in rungs])
    return [LadderStep(c.title, c, d) for c, d in zip(rungs, changes, strict=True)]


def ladder(
    cards: list[Card], forgiven: Card | None, analysis: dict[str, Any] | None = None
) -> list[LadderStep]:
    """The accuracy ladder: ``analysis.json``'s when the run is analysed (as ``reassess analyze``
    prints it: top-1 -> set top-1s -> "not a mistake" forgiven -> minor forgiven); else
    single-label -> ReaL -> multi-label -> minor forgiven from the cards, each with its step."""
    if analysis is not None and analysis.get("ladder"):
        return analysis_ladder(analysis)
    by_key = {c.key: c for c in cards}
    if forgiven is not None:
        by_key["forgiven"] = forgiven
    found = [(title, by_key[key]) for key, title in UNANALYSED_LADDER.items() if key in by_key]
    changes = ladder_changes([{"value": card.value} for _, card in found])
    return [
        LadderStep(title, card, change)
        for (title, card), change in zip(found, changes, strict=True)
    ]


def percent(value: float | None, digits: int = 2) -> str:
    """A fraction as a percentage for display (``–`` for none)."""
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.{digits}f}%"


def points(value: float | None) -> str:
    """A difference of fractions in percentage points, signed (empty for none)."""
    return "" if value is None else f"{100 * value:+.2f} pp"
