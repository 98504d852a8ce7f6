"""Every metric of ``metrics.json``, declared once with the function that computes it.

Grep a key's pattern here (``"{set}_top{k}"``, ``"ece"``, ...) to find where it is made. The
:data:`STAGES` order is the order of ``metrics.json``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from reassess.labels.equivalences import expand_equivalents, single_label_sets
from reassess.metrics.accuracy import set_hits, single_label_hits
from reassess.metrics.calibration import calibration
from reassess.metrics.compare import Outcome
from reassess.metrics.metric import (
    NO_EXPERT_FILE,
    Compute,
    Metric,
    MetricFamily,
    Scoring,
    Skipped,
    Stage,
)
from reassess.metrics.multilabel import (
    multilabel_share,
    multilabel_top1_hits,
    variable_topk,
    variable_topk_scores,
)

if TYPE_CHECKING:
    from reassess.metrics.calibration import Calibration


def _num_samples(scoring: Scoring, metric: Metric) -> int:
    return scoring.num_samples


def _scored_classes(scoring: Scoring, metric: Metric) -> int | None:
    if scoring.scored_classes is None:
        return None
    if scoring.restriction_note:
        scoring.notes[metric.key] = scoring.restriction_note
    return scoring.scored_classes


def _original_topk(scoring: Scoring, metric: Metric) -> Outcome | Skipped:
    predictions, known = scoring.predictions, scoring.known_rows
    if known.size == 0:
        return Skipped("the dataset has no single labels")
    if predictions.k < metric.k:
        return Skipped(f"only top-{predictions.k} predictions are stored")
    hits = single_label_hits(predictions.topk[known], predictions.labels[known], k=metric.k)
    return Outcome(known, hits.astype(float))


def _merged_topk(scoring: Scoring, metric: Metric) -> Outcome | None:
    predictions = scoring.predictions
    if not scoring.options.equivalences or scoring.known_rows.size == 0:
        return None
    if predictions.k < metric.k:
        return None
    merged = scoring.cached(
        "original labels, equivalents merged",
        lambda: expand_equivalents(
            single_label_sets("original", predictions.sample_ids, predictions.labels)
        ),
    )
    rows = np.flatnonzero(merged.evaluable)
    hits = set_hits(predictions.topk, merged, k=metric.k)[rows]
    return Outcome(rows, hits.astype(float))


def _set_topk(scoring: Scoring, metric: Metric) -> Outcome | Skipped:
    predictions, sets = scoring.predictions, scoring.sets[metric.label_set]
    if predictions.k < metric.k:
        return Skipped(f"only top-{predictions.k} predictions are stored")
    if not sets.evaluable.any():
        return Skipped(f"no sample of this run has {metric.label_set} labels")
    rows = np.flatnonzero(sets.evaluable)
    return Outcome(rows, set_hits(predictions.topk, sets, k=metric.k)[rows].astype(float))


def _expert_hits(scoring: Scoring, name: str) -> tuple[np.ndarray, np.ndarray]:
    return scoring.cached(
        ("expert top-1 hits", name),
        lambda: multilabel_top1_hits(scoring.predictions.top1, scoring.sets[name]),
    )


def _expert_top1_images(scoring: Scoring, metric: Metric) -> Outcome | None:
    if not scoring.sets[metric.label_set].annotated.any():
        return None  # the skip is reported under the per-class key
    rows, hits = _expert_hits(scoring, metric.label_set)
    return Outcome(rows, hits.astype(float))


def _expert_top1_per_class(scoring: Scoring, metric: Metric) -> Outcome | Skipped:
    accepted = scoring.sets.get(metric.label_set)
    if accepted is None:
        return Skipped(NO_EXPERT_FILE)
    if not accepted.annotated.any():
        return Skipped("no image of this run is in the expert multi-label file")
    rows, hits = _expert_hits(scoring, metric.label_set)
    classes = scoring.predictions.labels[rows]
    with_class = classes >= 0
    if not with_class.any():
        return Skipped("per-class averaging needs the original labels")
    return Outcome(rows[with_class], hits[with_class].astype(float), classes[with_class])


def _class_count(scoring: Scoring, outcome: Outcome) -> dict[str, int]:
    return {"classes": int(np.unique(outcome.groups).size)}


def _imagenet_m(scoring: Scoring, metric: Metric) -> Outcome | Skipped:
    sets = scoring.sets.get(metric.label_set)
    if sets is None:
        return Skipped(NO_EXPERT_FILE)
    if not sets.annotated.any():
        return Skipped("no ImageNet-M image is in this run")
    rows = np.flatnonzero(sets.annotated)
    hits = sets.contains(scoring.predictions.top1)[rows]
    return Outcome(rows, hits.astype(float))


def _imagenet_m_counts(scoring: Scoring, outcome: Outcome) -> dict[str, int]:
    counts = {"hits": int(outcome.values.sum())}
    if scoring.options.expert is not None:
        counts["of"] = len(scoring.options.expert.imagenet_m)
    return counts


def _variable_topk_scores(
    scoring: Scoring, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | Skipped | None:
    """Rows, k and fraction of labels found (see variable_topk_scores), or why there are none."""
    sets = scoring.sets[name]
    if not sets.evaluable.any():
        return None
    if scoring.predictions.k < 2:
        return Skipped("variable top-k needs at least top-2 stored predictions")
    rows, k, fraction = scoring.cached(
        ("variable top-k", name), lambda: variable_topk_scores(scoring.predictions.topk, sets)
    )
    if rows.size == 0:
        return Skipped(
            f"every image has more {name} labels than the {scoring.predictions.k} stored "
            "predictions"
        )
    return rows, k, fraction


def _variable_topk(scoring: Scoring, metric: Metric) -> Outcome | Skipped | None:
    scores = _variable_topk_scores(scoring, metric.label_set)
    if scores is None or isinstance(scores, Skipped):
        return scores
    rows, _, fraction = scores
    return Outcome(rows, (fraction >= 1.0).astype(float))


def _variable_topk_soft(scoring: Scoring, metric: Metric) -> Outcome | None:
    scores = _variable_topk_scores(scoring, metric.label_set)
    if scores is None or isinstance(scores, Skipped):
        return None  # the skip is reported under {set}_vtopk
    rows, _, fraction = scores
    return Outcome(rows, fraction)


def _asma(scoring: Scoring, metric: Metric) -> Outcome | None:
    scores = _variable_topk_scores(scoring, metric.label_set)
    if scores is None or isinstance(scores, Skipped):
        return None  # the skip is reported under {set}_vtopk
    rows, k, fraction = scores
    return Outcome(rows, (fraction >= 1.0).astype(float), k)


def _share_2plus(scoring: Scoring, metric: Metric) -> dict[str, Any] | None:
    sets = scoring.sets[metric.label_set]
    if not sets.annotated.any():
        return None
    return multilabel_share(sets).to_dict()


def _variable_topk_subgroups(scoring: Scoring, metric: Metric) -> dict[str, Any] | None:
    predictions, name = scoring.predictions, metric.label_set
    sets = scoring.sets[name]
    if not sets.annotated.any() or predictions.k < 2:
        return None
    result = variable_topk(predictions.topk, sets)
    if result.excluded_too_many_labels:
        scoring.notes[VARIABLE_TOPK.key(name)] = (
            f"{result.excluded_too_many_labels:,} images have more valid labels than the "
            f"{predictions.k} stored predictions and are left out"
        )
    if not result.subgroups:
        return None
    return {
        "subgroups": [g.to_dict() for g in result.subgroups],
        "asma_soft": result.asma_soft.to_dict(),
        "excluded_too_many_labels": result.excluded_too_many_labels,
    }


def _calibration_of(scoring: Scoring) -> Calibration | None:
    """Calibration of the top-1 confidence on the single-labelled images, if probabilities exist."""
    predictions = scoring.predictions
    known = predictions.labels >= 0
    if predictions.probs is None or not known.any():
        return None
    return scoring.cached(
        "calibration",
        lambda: calibration(
            predictions.probs[known, 0],
            predictions.top1[known] == predictions.labels[known],
            num_bins=scoring.options.calibration_bins,
        ),
    )


def _ece(scoring: Scoring, metric: Metric) -> dict[str, Any] | None:
    result = _calibration_of(scoring)
    if result is None:
        return None  # the skip is reported under "calibration"
    return {"value": result.ece, "n": result.n, "ci95": list(result.ece_ci95)}


def _reliability_bins(scoring: Scoring, metric: Metric) -> dict[str, Any] | Skipped:
    if scoring.predictions.probs is None:
        return Skipped("no probabilities are stored (imported top-k without scores)")
    result = _calibration_of(scoring)
    if result is None:
        return Skipped("the dataset has no single labels")
    return {
        "mean_confidence": result.mean_confidence,
        "accuracy": result.accuracy,
        "bins": [b.to_dict() for b in result.bins if b.count],
    }


def _options(scoring: Scoring, metric: Metric) -> dict[str, Any]:
    return scoring.options.describe()


def _label_files(scoring: Scoring, metric: Metric) -> dict[str, Any] | None:
    expert = scoring.options.expert
    return {"expert": expert.describe()} if expert is not None else None


def _notes(scoring: Scoring, metric: Metric) -> dict[str, str]:
    return scoring.notes


def _skipped(scoring: Scoring, metric: Metric) -> dict[str, str]:
    return scoring.skipped


# --- the declarations: one per key pattern, in metrics.json order ------------------------------


def _record(pattern: str, title: str, description: str, compute: Compute) -> MetricFamily:
    """A once-per-run entry saying how the run was scored, not how well."""
    return MetricFamily(
        pattern=pattern,
        title=title,
        direction="neither",
        group="run",
        kind="record",
        description=description,
        compute=compute,
    )


NUM_SAMPLES = _record(
    "num_samples",
    "Images",
    "Images the run has predictions for.",
    _num_samples,
)
SCORED_CLASSES = _record(
    "scored_classes",
    "Classes scored",
    (
        "Classes of a dataset scored on a class subset (ImageNet-A/-R, ObjectNet): predictions "
        "are re-ranked among them."
    ),
    _scored_classes,
)
TOPK = MetricFamily(
    pattern="top{k}",
    title="Top-{k} (original labels)",
    direction="higher",
    group="accuracy",
    kind="outcome",
    description=(
        "Share of the single-labelled images whose top-{k} predictions include the original label."
    ),
    compute=_original_topk,
    ks=(1, 5),
    headline=True,
    label_set="original",
)
MERGED_TOPK = MetricFamily(
    pattern="top{k}_equiv",
    title="Top-{k}, equivalent classes merged",
    direction="higher",
    group="accuracy",
    kind="outcome",
    description=(
        "Top-{k} on the original labels where either class of a duplicate pair "
        "(sunglass/sunglasses, laptop/notebook, ...) counts as right (--equivalences)."
    ),
    compute=_merged_topk,
    ks=(1, 5),
    label_set="original",
)
SET_TOPK = MetricFamily(
    pattern="{set}_top{k}",
    title="{topk}",
    direction="higher",
    group="accuracy",
    kind="outcome",
    description=(
        "Share of the images with labels in {labels} whose top-{k} predictions include one of them."
    ),
    compute=_set_topk,
    sets="labels",
    ks=(1, 5),
    headline=True,
)
EXPERT_TOP1_IMAGES = MetricFamily(
    pattern="{set}_top1_images",
    title="{topk} (per image)",
    direction="higher",
    group="multi-label",
    kind="outcome",
    description=(
        "Share of the expert-labelled images whose top-1 prediction is an accepted class: "
        "{labels}; a plain average over images."
    ),
    compute=_expert_top1_images,
    sets="expert",
    ks=(1,),
)
EXPERT_TOP1 = MetricFamily(
    pattern="{set}_top1",
    title="{topk} (per class)",
    direction="higher",
    group="multi-label",
    kind="outcome",
    description=(
        "Top-1 on {labels}, averaged per class of the original labels and then over the classes, "
        "as Shankar et al. 2020 report it; 'classes' counts the classes."
    ),
    compute=_expert_top1_per_class,
    sets="expert",
    ks=(1,),
    extras=_class_count,
    reports_absence=True,
)
IMAGENET_M = MetricFamily(
    pattern="{set}",
    title="{set}",
    direction="higher",
    group="multi-label",
    kind="outcome",
    description=(
        "Share of {labels} whose top-1 prediction is accepted; 'hits' counts them and 'of' is the"
        " split's size."
    ),
    compute=_imagenet_m,
    sets="imagenet_m",
    ks=(1,),
    extras=_imagenet_m_counts,
    reports_absence=True,
)
VARIABLE_TOPK = MetricFamily(
    pattern="{set}_vtopk",
    title="{set} variable top-k",
    direction="higher",
    group="multi-label",
    kind="outcome",
    description=(
        "Variable top-k on {labels}: an image with k valid labels is right when all k are among "
        "its top k predictions (Anzaku et al. 2024)."
    ),
    compute=_variable_topk,
    sets="multi_label",
)
VARIABLE_TOPK_SOFT = MetricFamily(
    pattern="{set}_vtopk_soft",
    title="{set} variable top-k, soft",
    direction="higher",
    group="multi-label",
    kind="outcome",
    description=(
        "Variable top-k on {labels}, scoring the fraction of an image's k labels among its top k."
    ),
    compute=_variable_topk_soft,
    sets="multi_label",
)
ASMA = MetricFamily(
    pattern="{set}_asma",
    title="{set} ASMA",
    direction="higher",
    group="multi-label",
    kind="outcome",
    description=(
        "ASMA on {labels}: variable top-k averaged per number of labels, then over those "
        "subgroups (Anzaku et al. 2024)."
    ),
    compute=_asma,
    sets="multi_label",
)
SHARE_2PLUS = MetricFamily(
    pattern="{set}_share_2plus",
    title="{set} images with 2+ labels",
    direction="neither",
    group="labels",
    kind="proportion",
    description="Share of the images with labels in {labels} that have two or more valid labels.",
    compute=_share_2plus,
    sets="multi_label",
)
VARIABLE_TOPK_SUBGROUPS = MetricFamily(
    pattern="{set}_vtopk_subgroups",
    title="{set} variable top-k by number of labels",
    direction="higher",
    group="multi-label",
    kind="table",
    description=(
        "Variable top-k (strict and soft) per number of valid labels in {labels}: the terms of "
        "ASMA."
    ),
    compute=_variable_topk_subgroups,
    sets="multi_label",
)
ECE = MetricFamily(
    pattern="ece",
    title="Expected calibration error",
    direction="lower",
    group="calibration",
    kind="proportion",
    description=(
        "Expected calibration error of the top-1 confidence on the single-labelled images: the "
        "image-weighted mean gap between confidence and accuracy over confidence bins."
    ),
    compute=_ece,
)
CALIBRATION = MetricFamily(
    pattern="calibration",
    title="Calibration (reliability bins)",
    direction="neither",
    group="calibration",
    kind="table",
    description=(
        "Mean confidence, accuracy, and per confidence bin the images, their mean confidence and "
        "accuracy (the reliability diagram)."
    ),
    compute=_reliability_bins,
)
OPTIONS = _record(
    "options",
    "Scoring options",
    "How the run was scored: strict expert labels, equivalences, calibration bins.",
    _options,
)
LABEL_FILES = _record(
    "label_files",
    "Label files",
    "The label files given (the expert file: path, sha256, verified, counts).",
    _label_files,
)
NOTES = _record(
    "notes",
    "Notes",
    "Metric key -> caveat.",
    _notes,
)
SKIPPED = _record(
    "skipped",
    "Skipped metrics",
    "Metric key -> why the run's data does not allow it.",
    _skipped,
)


#: metrics.json in order: per-image accuracies of every label set come before the summaries
STAGES = (
    Stage((NUM_SAMPLES, SCORED_CLASSES, TOPK, MERGED_TOPK)),
    Stage(
        (
            SET_TOPK,
            EXPERT_TOP1_IMAGES,
            EXPERT_TOP1,
            IMAGENET_M,
            VARIABLE_TOPK,
            VARIABLE_TOPK_SOFT,
            ASMA,
        ),
        per_label_set=True,
    ),
    Stage((SHARE_2PLUS, VARIABLE_TOPK_SUBGROUPS), per_label_set=True),
    Stage((ECE, CALIBRATION, OPTIONS, LABEL_FILES, NOTES, SKIPPED)),
)
