"""The report's figures: five per run (categories, superclasses, ImageNet-X, reliability, worst
classes) and two across runs (multi-label against top-1, ImageNetV2 against ImageNet).

Per-run figures draw on ``analysis.json`` (as :func:`reassess.analysis.summary.summarize_mistakes`
writes it), ``per_class.csv`` and ``metrics.json``; each says why it is left out when its source
is missing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from reassess.metrics.stats import clopper_pearson
from reassess.report import plots
from reassess.report.paired import v2_pairs
from reassess.report.view import Card, Figure, MistakesView, RunView
from reassess.store.run import RunDir
from reassess.store.schema import RunFolderError

WORST_CLASSES = 15
MIN_CLASS_SUPPORT = 5  # worst classes are shown only when classes have this many images (median)
RELIABILITY_BINS = 15
ACCURACY_AXIS = "top-1 accuracy (%), 95% Clopper-Pearson interval"


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


def analysis_superclass_bars(analysis: dict[str, Any]) -> list[plots.Bar]:
    """Top-1 accuracy per superclass from ``analysis.json``'s ``superclasses``, lowest first."""
    bars = []
    for row in analysis.get("superclasses") or []:
        top1 = row["top1"]
        if top1["value"] is None or not math.isfinite(top1["value"]):
            continue
        lo, hi = top1["ci95"]
        bars.append(plots.Bar(row["name"], float(top1["value"]), lo, hi, int(row["n"])))
    return sorted(bars, key=lambda b: (b.value, b.label))


def worst_class_bars(per_class: list[dict[str, Any]], count: int) -> list[plots.Bar]:
    """The ``count`` classes with the lowest single-label top-1 in per-class rows."""
    rows = [r for r in per_class if r["support"] > 0]
    rows.sort(key=lambda r: (r["top1"], -r["support"], r["name"]))
    return [_class_bar(r["name"], r["top1"] * r["support"], r["support"]) for r in rows[:count]]


def imagenet_x_bars(analysis: dict[str, Any] | None) -> list[plots.Bar]:
    """Error ratio per ImageNet-X factor, from ``analysis.json``'s ``imagenet_x.factors``."""
    factors = ((analysis or {}).get("imagenet_x") or {}).get("factors") or []
    return [
        plots.Bar(f["factor"].replace("_", " "), float(f["error_ratio"]), None, None, f["n"])
        for f in factors
        if f["error_ratio"] is not None and math.isfinite(f["error_ratio"])
    ]


def reliability_table(metrics: dict[str, Any], run: RunDir) -> dict[str, Any] | None:
    """Reliability bins and ECE: from metrics.json's ``calibration``, else from the predictions.

    Runs scored before calibration was part of ``metrics.json`` still have their probabilities;
    for them the same :func:`reassess.metrics.calibration.calibration` is computed here.
    Returns None when the run stored no probabilities.
    """
    stored = metrics.get("calibration")
    if stored and stored.get("bins"):
        try:
            bins = [
                (b["lo"], b["hi"], b["confidence"], b["accuracy"]["value"], int(b["count"]))
                for b in stored["bins"]
            ]
            ece = metrics["ece"]["value"]
        except (KeyError, TypeError) as exc:
            raise RunFolderError(f"{run.metrics_file}: unreadable calibration ({exc!r})") from exc
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


def _accuracy_dots(bars: list[plots.Bar], overall: Card | None) -> str:
    return plots.interval_dots(
        bars,
        xlabel=ACCURACY_AXIS,
        reference=overall.value if overall else None,
        reference_label="overall" if overall else None,
    )


def run_figures(
    run: RunDir,
    metrics: dict[str, Any],
    analysis: dict[str, Any] | None,
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
        rows = [(c, mistakes.severities[c]) for c, _ in mistakes.categories]
        fig.src = plots.category_bars(rows, total)
        fig.caption = (
            f"{mistakes.total:,} top-1 mistakes on {total:,} images, sorted into the categories of "
            '"When does dough become a bagel?" (Vasudevan et al. 2022).'
        )
    else:
        fig.reason = f"the mistakes are not categorised yet: {analyze_hint}"
    figures.append(fig)

    fig = Figure("superclasses", "Accuracy per superclass")
    bars, source = analysis_superclass_bars(analysis or {}), "the analysis summary"
    if not bars and per_class:
        bars = superclass_bars(per_class)
        source = "per_class.csv, grouped by coarse WordNet superclass"
    if bars:
        fig.src = _accuracy_dots(bars, overall)
        fig.caption = f"Single-label top-1 accuracy per superclass, lowest first (from {source})."
    else:
        fig.reason = "no per-class table (per_class.csv) in the run folder"
    figures.append(fig)

    fig = Figure("imagenet_x", "ImageNet-X: error ratio per factor")
    bars = imagenet_x_bars(analysis)
    if bars:
        fig.src = plots.ratio_bars(bars, xlabel="error ratio  (1 - acc on factor) / (1 - acc)")
        fig.caption = (
            "How much more often the model errs on images annotated with each ImageNet-X factor "
            "(Idrissi et al. 2023) than overall; above 1 = harder."
        )
    elif analysis is None:
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
            fig.src = _accuracy_dots(worst_class_bars(per_class, WORST_CLASSES), overall)
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
