"""The report's figures: five per run (categories, superclasses, ImageNet-X, reliability, worst
classes) and two across runs (multi-label against top-1, ImageNetV2 against ImageNet).

Per-run figures draw on ``analysis.json`` (as :func:`reassess.analysis.summary.summarize_mistakes`
writes it), ``per_class.csv`` and ``metrics.json``; each says why it is left out when its source
is missing. Figures across runs never mix test sets: one panel per data set (:func:`data_groups`).
Every drawn figure carries an SVG and a PNG data URI and a file name for its download links.
"""

from __future__ import annotations

import math
import re
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
MIN_SUPERCLASS_SUPPORT = 5  # superclasses with fewer images are left out of their figure
RELIABILITY_BINS = 15
ACCURACY_AXIS = "top-1 accuracy (%), 95% Clopper-Pearson interval"


def _draw(fig: Figure, drawn, name: str) -> None:
    """Render a matplotlib figure into the view's SVG source, PNG download and file name."""
    drawing = plots.render(drawn)
    fig.src, fig.png = drawing.svg, drawing.png
    fig.filename = download_name(name, fig.key)


def _draw_panels(fig: Figure, panels: list[plots.Panel], xlabel: str, ylabel: str) -> None:
    """A comparison scatter, one panel per test set; several panels span the report's width."""
    _draw(fig, plots.scatter_panels(panels, xlabel=xlabel, ylabel=ylabel), "comparison")
    fig.wide = len(panels) > 1


def download_name(*parts: str) -> str:
    """A file name for a figure download: the parts joined by '-', in safe characters.

    >>> download_name("runs/resnet 50", "reliability")
    'runs-resnet-50-reliability'
    """
    text = "-".join(p for p in parts if p)
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-.")[:120] or "figure"


def data_key(run: RunView) -> tuple[str, int | None]:
    """What makes two runs' test sets the same: the dataset (its spec for folders) and its size."""
    name = run.data_name if run.data_name and run.data_name != "folder" else run.data
    return name, run.num_samples


def data_groups(runs: list[RunView]) -> list[tuple[str, list[RunView]]]:
    """Runs grouped by test set, in order of first appearance, each with a title (name, images)."""
    groups: dict[tuple[str, int | None], list[RunView]] = {}
    for run in runs:
        groups.setdefault(data_key(run), []).append(run)
    return [
        (f"{name} ({n:,} images)" if n else name, members) for (name, n), members in groups.items()
    ]


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
                (
                    b["lo"],
                    b["hi"],
                    b["confidence"],
                    b["accuracy"]["value"],
                    int(b["count"]),
                    _bin_interval(b["accuracy"], int(b["count"])),
                )
                for b in stored["bins"]
            ]
            ece = metrics["ece"]["value"]
            ece_ci = _finite_interval(metrics["ece"].get("ci95"))
        except (KeyError, TypeError, ValueError) as exc:
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
            (b.lo, b.hi, b.confidence, b.accuracy.value, b.count, b.accuracy.ci95)
            for b in result.bins
            if b.count
        ]
        ece, ece_ci = result.ece, None  # not bootstrapped here: the report says so
    columns = (list(col) for col in zip(*bins, strict=True))
    lower, upper, confidence, accuracy, counts, accuracy_ci = columns
    return {
        "lower": lower,
        "upper": upper,
        "confidence": confidence,
        "accuracy": accuracy,
        "counts": counts,
        "accuracy_ci": accuracy_ci,
        "ece": ece,
        "ece_ci": ece_ci,
        "n": sum(counts),
    }


def _few_images_note(run: RunDir, n: int) -> str:
    """Below :data:`MIN_CALIBRATION_IMAGES`, the ECE a perfectly calibrated model would score on
    as many images with the same confidences: the noise floor the run's ECE is to be read against."""
    from reassess.metrics.calibration import MIN_CALIBRATION_IMAGES, calibrated_ece_floor

    if n >= MIN_CALIBRATION_IMAGES or not run.predictions_file.exists():
        return ""
    predictions = run.read_predictions()
    known = predictions.labels >= 0
    if predictions.probs is None or not known.any():
        return ""
    mean, p95 = calibrated_ece_floor(predictions.probs[known, 0])
    return (
        f" Too few images to judge calibration: on {n:,} images a perfectly calibrated model with "
        f"these confidences scores an ECE of {100 * mean:.1f}% on average (95th percentile "
        f"{100 * p95:.1f}%)."
    )


def _finite_interval(ci: Any) -> tuple[float, float] | None:
    """A stored ``[lo, hi]`` as floats, or None when absent or not finite (no bootstrap)."""
    if ci is None:
        return None
    lo, hi = (float("nan") if v is None else float(v) for v in ci)
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None


def _bin_interval(accuracy: dict[str, Any], count: int) -> tuple[float, float]:
    """A bin's stored 95% interval, or the Clopper-Pearson one of its accuracy and count."""
    stored = _finite_interval(accuracy.get("ci95"))
    if stored is not None:
        return stored
    if count == 0:
        return (float("nan"), float("nan"))
    return clopper_pearson(round(accuracy["value"] * count), count)


def _accuracy_dots(bars: list[plots.Bar], overall: Card | None):
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

    name = run.path.name
    fig = Figure("categories", "Mistakes by category")
    if mistakes and mistakes.analysed and mistakes.categories:
        rows = [(c, mistakes.severities[c]) for c, _ in mistakes.categories]
        _draw(fig, plots.category_bars(rows, total), name)
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
    shown = [b for b in bars if (b.n or 0) >= MIN_SUPERCLASS_SUPPORT]
    if shown:
        _draw(fig, _accuracy_dots(shown, overall), name)
        fig.caption = f"Single-label top-1 accuracy per superclass, lowest first (from {source})."
        if len(shown) < len(bars):
            fig.caption += (
                f" {len(bars) - len(shown)} superclass(es) with fewer than "
                f"{MIN_SUPERCLASS_SUPPORT} images left out."
            )
    elif bars:
        fig.reason = (
            f"every superclass has fewer than {MIN_SUPERCLASS_SUPPORT} images "
            f"({len(bars)} left out): too few for an accuracy"
        )
    else:
        fig.reason = "no per-class table (per_class.csv) in the run folder"
    figures.append(fig)

    fig = Figure("imagenet_x", "ImageNet-X: error ratio per factor")
    bars = imagenet_x_bars(analysis)
    if bars:
        drawn = plots.ratio_bars(bars, xlabel="error ratio  (1 - acc on factor) / (1 - acc)")
        _draw(fig, drawn, name)
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
        drawn = plots.reliability_diagram(
            table["lower"],
            table["upper"],
            table["confidence"],
            table["accuracy"],
            table["counts"],
            table["ece"],
            accuracy_ci=table["accuracy_ci"],
            ece_ci=table["ece_ci"],
        )
        _draw(fig, drawn, name)
        fig.caption = (
            f"Single-label top-1 accuracy against top-1 confidence on {table['n']:,} images "
            "(equal-width bins; empty bins left out; whiskers: 95% Clopper-Pearson intervals of "
            "each bin's accuracy); ECE as in Guo et al. 2017"
            + (
                ", with a bootstrap 95% interval over images."
                if table["ece_ci"]
                else "; metrics.json holds no interval for it (rerun reassess metrics)."
            )
            + _few_images_note(run, table["n"])
        )
    else:
        fig.reason = "the run stored no probabilities (only class indices)"
    figures.append(fig)

    fig = Figure("worst_classes", f"The {WORST_CLASSES} worst classes")
    if per_class:
        median = float(np.median([r["support"] for r in per_class]))
        if median >= MIN_CLASS_SUPPORT:
            _draw(fig, _accuracy_dots(worst_class_bars(per_class, WORST_CLASSES), overall), name)
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


BASELINE_SHIFT = "imagenetv2"  # the testbed's shift whose test set is ImageNetV2 MatchedFrequency
BASELINE_DATA = "imagenetv2-matched-frequency"


def imagenetv2_baseline() -> tuple[plots.Curve, tuple[np.ndarray, np.ndarray, str]]:
    """The ImageNetV2 vs ImageNet trend of timm's standard models (logit-linear fit) and the
    models themselves, from :mod:`reassess.analysis.testbed` (Recht et al. 2019's "line")."""
    from reassess.analysis.robustness import fit_baseline
    from reassess.analysis.testbed import load_testbed

    _, acc_in, acc_shift = load_testbed().pairs(BASELINE_SHIFT)
    fit = fit_baseline(acc_in, acc_shift, space="logit", n_bootstrap=0)
    grid = np.linspace(0.005, 0.995, 400)
    curve = plots.Curve(
        f"testbed baseline, top-1 ({fit.space} fit, {fit.n_models:,} standard models)",
        grid,
        np.asarray(fit.predict(grid)),
    )
    return curve, (acc_in, acc_shift, "timm testbed: standard models")


def comparison_figures(runs: list[RunView]) -> list[Figure]:
    """Scatter plots across runs: ReaL / multi-label vs top-1 (one panel per test set), and
    ImageNetV2 vs ImageNet with the testbed's baseline (one panel per ImageNetV2 variant)."""
    figures = []
    fig = Figure("vs_top1", "ReaL and multi-label accuracy against top-1")
    panels = []
    for title, members in data_groups(runs):
        series: dict[str, list[plots.Point]] = {"ReaL top-1": [], "Multi-label top-1": []}
        for run in members:
            top1 = run.card("top1")
            for slot, label in (("real", "ReaL top-1"), ("multilabel", "Multi-label top-1")):
                if top1 and (other := run.card(slot)):
                    series[label].append(_point(run, top1, other))
        if any(series.values()):
            panels.append(plots.Panel(title, series))
    if panels:
        _draw_panels(fig, panels, "single-label top-1 (%)", "accuracy with multi-labels (%)")
        fig.caption = (
            f"Each point is a run, one panel per test set ({len(panels)}); bars are 95% "
            "intervals. Above the diagonal, the single label undercounts the model."
        )
    else:
        fig.reason = "no run has ReaL or multi-label accuracy next to top-1"
    figures.append(fig)

    fig = Figure("v2_vs_val", "ImageNetV2 against ImageNet")
    pairs = v2_pairs(runs)
    by_variant: dict[str, list[tuple[RunView, RunView]]] = {}
    for val, v2 in pairs:
        by_variant.setdefault(v2.data_name, []).append((val, v2))
    panels, baseline_shown = [], False
    for variant, members in by_variant.items():
        single = [
            _point(val, val.card("top1"), v2.card("top1"))
            for val, v2 in members
            if val.card("top1") and v2.card("top1")
        ]
        multi = [
            _point(val, val.card("real"), v2.card("multilabel"))
            for val, v2 in members
            if val.card("real") and v2.card("multilabel")
        ]
        if not (single or multi):
            continue
        curve = cloud = None
        if variant == BASELINE_DATA:
            curve, cloud = imagenetv2_baseline()
            baseline_shown = True
        panels.append(
            plots.Panel(
                variant,
                {"single-label top-1": single, "ReaL (val) vs multi-label (V2)": multi},
                curve=curve,
                cloud=cloud,
            )
        )
    if panels:
        _draw_panels(fig, panels, "ImageNet val accuracy (%)", "ImageNetV2 accuracy (%)")
        fig.caption = (
            f"{len(pairs)} model(s) with runs on both, paired by model spec. The gap to the "
            "diagonal is the V2 drop, with single labels and with multi-labels"
            + (
                "; the solid line is the top-1 trend of timm's standard ImageNet-1k models "
                "(as reassess robustness fits it): above it, more robust than accuracy predicts."
                if baseline_shown
                else "; the testbed baseline exists for MatchedFrequency only."
            )
        )
    else:
        fig.reason = "no model has runs on both ImageNet val and ImageNetV2"
    figures.append(fig)
    return figures
