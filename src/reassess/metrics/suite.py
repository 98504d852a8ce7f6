"""All metrics a run's predictions and label sets allow, in one dictionary (``metrics.json``).

Every accuracy is first computed as per-image outcomes (:func:`metric_outcomes`), the same ones
``reassess compare`` pairs between two runs; :func:`compute_metrics` summarises them with 95%
Clopper-Pearson intervals and adds what is not a per-image mean (subgroup tables, calibration).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from reassess.labels.equivalences import expand_equivalents, single_label_sets
from reassess.labels.label_sets import LabelSets
from reassess.metrics.accuracy import per_class_accuracy, set_hits, single_label_hits
from reassess.metrics.calibration import calibration
from reassess.metrics.compare import Outcome
from reassess.metrics.multilabel import (
    multilabel_share,
    multilabel_top1_hits,
    variable_topk,
    variable_topk_scores,
)
from reassess.metrics.subsets import restrict_predictions
from reassess.store.predictions import Predictions

if TYPE_CHECKING:
    from reassess.labels.expert import ExpertLabels

#: label sets whose images can have several valid labels (variable top-k, ASMA, 2+ share)
MULTI_LABEL_SETS = ("real", "multilabel", "expert", "expert_strict")


@dataclass(frozen=True)
class MetricOptions:
    """How to score: expert labels (and strictness), class equivalences, calibration bins."""

    expert: ExpertLabels | None = None
    strict: bool = False
    equivalences: bool = False
    calibration_bins: int = 15
    #: datasets scored on a class subset (ImageNet-A/-R, ObjectNet): see reassess.metrics.subsets
    class_map: np.ndarray | None = field(default=None, compare=False)

    def describe(self) -> dict[str, Any]:
        """The options as recorded in metrics.json."""
        return {
            "strict": self.strict,
            "equivalences": self.equivalences,
            "calibration_bins": self.calibration_bins,
        }


def _expert_key(options: MetricOptions) -> str:
    return "expert_strict" if options.strict else "expert"


def prepared_label_sets(
    predictions: Predictions,
    label_sets: dict[str, LabelSets] | None,
    options: MetricOptions,
) -> dict[str, LabelSets]:
    """The run's label sets plus expert ones, aligned, with equivalents added if asked."""
    sets = dict(label_sets or {})
    ids = predictions.sample_ids.tolist()
    if options.expert is not None:
        sets[_expert_key(options)] = options.expert.accepted(strict=options.strict).align(ids)
        sets["imagenet_m"] = options.expert.imagenet_m_sets().align(ids)
    if options.equivalences:
        sets = {name: expand_equivalents(s) for name, s in sets.items()}
    return sets


def metric_outcomes(
    predictions: Predictions,
    label_sets: dict[str, LabelSets] | None = None,
    options: MetricOptions | None = None,
) -> tuple[dict[str, Outcome], dict[str, str]]:
    """Per-image outcomes of every accuracy the data allows, and why the others were skipped.

    Keys: ``top1``/``top5`` (original labels), ``<set>_top1``/``<set>_top5`` for each label set
    (``real``, ``multilabel`` for ImageNetV2, ``corrected``/``cleaned`` for the known label
    errors), ``expert_top1`` (class-averaged) and ``expert_top1_images`` (plain average; with
    ``strict`` the prefix is ``expert_strict``), ``imagenet_m``, and for multi-label sets
    ``<set>_vtopk``, ``<set>_vtopk_soft``, ``<set>_asma``. With ``equivalences`` also
    ``top1_equiv``/``top5_equiv``.
    """
    options = options or MetricOptions()
    if options.class_map is not None:
        predictions, _ = restrict_predictions(predictions, options.class_map)
    sets = prepared_label_sets(predictions, label_sets, options)
    return _outcomes(predictions, sets, options)


def _outcomes(
    predictions: Predictions, sets: dict[str, LabelSets], options: MetricOptions
) -> tuple[dict[str, Outcome], dict[str, str]]:
    outcomes: dict[str, Outcome] = {}
    skipped: dict[str, str] = {}
    k_stored = predictions.k
    known = np.flatnonzero(predictions.labels >= 0)
    for k in (1, 5):
        key = f"top{k}"
        if known.size == 0:
            skipped[key] = "the dataset has no single labels"
        elif k_stored < k:
            skipped[key] = f"only top-{k_stored} predictions are stored"
        else:
            hits = single_label_hits(predictions.topk[known], predictions.labels[known], k=k)
            outcomes[key] = Outcome(known, hits.astype(float))
    if options.equivalences and known.size:
        sets_eq = expand_equivalents(
            single_label_sets("original", predictions.sample_ids, predictions.labels)
        )
        for k in (1, 5):
            if k_stored >= k:
                rows = np.flatnonzero(sets_eq.evaluable)
                hits = set_hits(predictions.topk, sets_eq, k=k)[rows]
                outcomes[f"top{k}_equiv"] = Outcome(rows, hits.astype(float))
    expert_key = _expert_key(options)
    for name, s in sets.items():
        if name == expert_key:
            _expert_outcomes(name, predictions, s, outcomes, skipped)
            continue
        if name == "imagenet_m":
            if not s.annotated.any():
                skipped[name] = "no ImageNet-M image is in this run"
            else:
                rows = np.flatnonzero(s.annotated)
                hits = s.contains(predictions.top1)[rows]
                outcomes[name] = Outcome(rows, hits.astype(float))
            continue
        for k in (1, 5):
            key = f"{name}_top{k}"
            if k_stored < k:
                skipped[key] = f"only top-{k_stored} predictions are stored"
            elif not s.evaluable.any():
                skipped[key] = f"no sample of this run has {name} labels"
            else:
                rows = np.flatnonzero(s.evaluable)
                outcomes[key] = Outcome(
                    rows, set_hits(predictions.topk, s, k=k)[rows].astype(float)
                )
        if name in MULTI_LABEL_SETS and s.evaluable.any():
            _variable_topk_outcomes(name, predictions, s, outcomes, skipped)
    if options.expert is None and "real" in sets:  # an ImageNet val run without the expert file
        why = "no --multilabel-file given (the expert human_accuracy_v3.0.0.json)"
        skipped[f"{expert_key}_top1"] = why
        skipped["imagenet_m"] = why
    return outcomes, skipped


def _expert_outcomes(
    name: str,
    predictions: Predictions,
    accepted: LabelSets,
    outcomes: dict[str, Outcome],
    skipped: dict[str, str],
) -> None:
    if not accepted.annotated.any():
        skipped[f"{name}_top1"] = "no image of this run is in the expert multi-label file"
        return
    rows, hits = multilabel_top1_hits(predictions.top1, accepted)
    classes = predictions.labels[rows]
    with_class = classes >= 0
    outcomes[f"{name}_top1_images"] = Outcome(rows, hits.astype(float))
    if with_class.any():
        outcomes[f"{name}_top1"] = Outcome(
            rows[with_class], hits[with_class].astype(float), classes[with_class]
        )
    else:
        skipped[f"{name}_top1"] = "per-class averaging needs the original labels"
    if accepted.evaluable.any():
        _variable_topk_outcomes(name, predictions, accepted, outcomes, skipped)


def _variable_topk_outcomes(
    name: str,
    predictions: Predictions,
    sets: LabelSets,
    outcomes: dict[str, Outcome],
    skipped: dict[str, str],
) -> None:
    if predictions.k < 2:
        skipped[f"{name}_vtopk"] = "variable top-k needs at least top-2 stored predictions"
        return
    rows, k, fraction = variable_topk_scores(predictions.topk, sets)
    if rows.size == 0:
        skipped[f"{name}_vtopk"] = (
            f"every image has more {name} labels than the {predictions.k} stored predictions"
        )
        return
    outcomes[f"{name}_vtopk"] = Outcome(rows, (fraction >= 1.0).astype(float))
    outcomes[f"{name}_vtopk_soft"] = Outcome(rows, fraction)
    outcomes[f"{name}_asma"] = Outcome(rows, (fraction >= 1.0).astype(float), k)


def compute_metrics(
    predictions: Predictions,
    label_sets: dict[str, LabelSets] | None = None,
    options: MetricOptions | None = None,
) -> dict[str, Any]:
    """Every metric the run's data and labels allow, each ``{"value", "n", "ci95"}``.

    Besides the outcome keys of :func:`metric_outcomes`: ``<set>_share_2plus`` (share of images
    with 2+ labels), ``<set>_vtopk_subgroups`` (accuracy per number of labels, the terms of
    ASMA), ``imagenet_m`` also has ``hits`` and ``of``, ``calibration`` (ECE and reliability
    table, when probabilities are stored), ``options``, ``notes`` (metric -> caveat) and
    ``skipped`` (metric -> why not).
    """
    options = options or MetricOptions()
    metrics: dict[str, Any] = {"num_samples": len(predictions)}
    notes: dict[str, str] = {}
    if options.class_map is not None:
        predictions, note = restrict_predictions(predictions, options.class_map)
        metrics["scored_classes"] = int(np.unique(options.class_map[options.class_map >= 0]).size)
        if note:
            notes["scored_classes"] = note
    sets = prepared_label_sets(predictions, label_sets, options)
    outcomes, skipped = _outcomes(predictions, sets, options)
    for key, outcome in outcomes.items():
        metrics[key] = outcome.proportion().to_dict()
    if "imagenet_m" in metrics:
        metrics["imagenet_m"].update(hits=int(outcomes["imagenet_m"].values.sum()))
        if options.expert is not None:
            metrics["imagenet_m"]["of"] = len(options.expert.imagenet_m)
    for name, s in sets.items():
        if name in MULTI_LABEL_SETS and s.annotated.any():
            metrics[f"{name}_share_2plus"] = multilabel_share(s).to_dict()
            if predictions.k < 2:
                continue
            result = variable_topk(predictions.topk, s)
            if result.subgroups:
                metrics[f"{name}_vtopk_subgroups"] = {
                    "subgroups": [g.to_dict() for g in result.subgroups],
                    "asma_soft": result.asma_soft.to_dict(),
                    "excluded_too_many_labels": result.excluded_too_many_labels,
                }
            if result.excluded_too_many_labels:
                notes[f"{name}_vtopk"] = (
                    f"{result.excluded_too_many_labels:,} images have more valid labels than the "
                    f"{predictions.k} stored predictions and are left out"
                )
    if "expert_top1" in outcomes or "expert_strict_top1" in outcomes:
        key = f"{_expert_key(options)}_top1"
        metrics[key]["classes"] = int(np.unique(outcomes[key].groups).size)
    _add_calibration(predictions, options, metrics, skipped)
    metrics["options"] = options.describe()
    if options.expert is not None:
        metrics["label_files"] = {"expert": options.expert.describe()}
    metrics["notes"] = notes
    metrics["skipped"] = skipped
    return metrics


def _add_calibration(
    predictions: Predictions,
    options: MetricOptions,
    metrics: dict[str, Any],
    skipped: dict[str, str],
) -> None:
    known = predictions.labels >= 0
    if predictions.probs is None:
        skipped["calibration"] = "no probabilities are stored (imported top-k without scores)"
        return
    if not known.any():
        skipped["calibration"] = "the dataset has no single labels"
        return
    confidence = predictions.probs[known, 0]
    correct = predictions.top1[known] == predictions.labels[known]
    result = calibration(confidence, correct, num_bins=options.calibration_bins)
    metrics["ece"] = {"value": result.ece, "n": result.n, "ci95": list(result.ece_ci95)}
    metrics["calibration"] = {
        "mean_confidence": result.mean_confidence,
        "accuracy": result.accuracy,
        "bins": [b.to_dict() for b in result.bins if b.count],
    }


def per_class_table(predictions: Predictions, class_names: list[str]) -> dict[str, np.ndarray]:
    """Columns of the per-class table: class index, name, support and top-1 accuracy."""
    accuracy, support = per_class_accuracy(
        predictions.top1, predictions.labels, num_classes=len(class_names)
    )
    return {
        "class": np.arange(len(class_names)),
        "name": np.array(class_names, dtype=object),
        "support": support,
        "top1": accuracy,
    }
