"""All metrics a run's predictions and label sets allow, in one dictionary (``metrics.json``).

Each key is declared once in :mod:`reassess.metrics.registry` with its title, direction and the
function that makes it; this module prepares a run (:func:`prepare_scoring`) and walks the registry.
Every accuracy is first computed as per-image outcomes (:func:`metric_outcomes`), the same ones
``reassess compare`` pairs between two runs; :func:`compute_metrics` summarises them with 95%
Clopper-Pearson intervals and adds what is not a per-image mean (subgroup tables, calibration).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from reassess.labels.equivalences import expand_equivalents
from reassess.labels.label_sets import LabelSets
from reassess.metrics.accuracy import per_class_accuracy
from reassess.metrics.compare import Outcome
from reassess.metrics.metric import Scoring, expert_set_name
from reassess.metrics.registry import walk
from reassess.metrics.subsets import restrict_predictions
from reassess.store.predictions import Predictions

if TYPE_CHECKING:
    from reassess.labels.expert import ExpertLabels


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


def prepared_label_sets(
    predictions: Predictions,
    label_sets: dict[str, LabelSets] | None,
    options: MetricOptions,
) -> dict[str, LabelSets]:
    """The run's label sets plus expert ones, aligned, with equivalents added if asked."""
    sets = dict(label_sets or {})
    ids = predictions.sample_ids.tolist()
    if options.expert is not None:
        expert = options.expert.accepted(strict=options.strict).align(ids)
        sets[expert_set_name(options.strict)] = expert
        sets["imagenet_m"] = options.expert.imagenet_m_sets().align(ids)
    if options.equivalences:
        sets = {name: expand_equivalents(s) for name, s in sets.items()}
    return sets


def prepare_scoring(
    predictions: Predictions,
    label_sets: dict[str, LabelSets] | None = None,
    options: MetricOptions | None = None,
) -> Scoring:
    """A run ready to be scored: predictions restricted to a class subset, label sets prepared."""
    options = options or MetricOptions()
    num_samples, scored_classes, note = len(predictions), None, None
    if options.class_map is not None:
        predictions, note = restrict_predictions(predictions, options.class_map)
        scored_classes = int(np.unique(options.class_map[options.class_map >= 0]).size)
    sets = prepared_label_sets(predictions, label_sets, options)
    return Scoring(predictions, sets, options, num_samples, scored_classes, note)


def metric_outcomes(
    predictions: Predictions,
    label_sets: dict[str, LabelSets] | None = None,
    options: MetricOptions | None = None,
) -> tuple[dict[str, Outcome], dict[str, str]]:
    """Per-image outcomes of every accuracy the data allows, and why the others were skipped.

    These are the registry's ``outcome`` metrics (see :mod:`reassess.metrics.registry`):
    ``top1``/``top5`` (original labels), ``<set>_top1``/``<set>_top5`` for each label set
    (``real``, ``multilabel`` for ImageNetV2, ``corrected``/``cleaned`` for the known label
    errors), ``expert_top1`` (class-averaged) and ``expert_top1_images`` (plain average; with
    ``strict`` the prefix is ``expert_strict``), ``imagenet_m``, and for multi-label sets
    ``<set>_vtopk``, ``<set>_vtopk_soft``, ``<set>_asma``. With ``equivalences`` also
    ``top1_equiv``/``top5_equiv``.
    """
    run = prepare_scoring(predictions, label_sets, options)
    for metric in walk(run, kinds=("outcome",)):
        run.evaluate(metric)
    return run.outcomes, run.skipped


def compute_metrics(
    predictions: Predictions,
    label_sets: dict[str, LabelSets] | None = None,
    options: MetricOptions | None = None,
) -> dict[str, Any]:
    """Every metric the run's data and labels allow: the registry walked in metrics.json order.

    Outcome metrics (those of :func:`metric_outcomes`) are ``{"value", "n", "ci95"}``; besides
    them: ``<set>_share_2plus`` (share of images with 2+ labels), ``<set>_vtopk_subgroups``
    (accuracy per number of labels, the terms of ASMA), ``imagenet_m`` also has ``hits`` and
    ``of``, ``ece`` and ``calibration`` (the reliability table, when probabilities are stored),
    ``options``, ``notes`` (metric -> caveat) and ``skipped`` (metric -> why not). Each key's
    title, direction and meaning: :data:`reassess.metrics.registry.REGISTRY`.
    """
    run = prepare_scoring(predictions, label_sets, options)
    metrics: dict[str, Any] = {}
    for metric in walk(run):
        value = run.evaluate(metric)
        if value is not None:
            metrics[metric.key] = metric.entry(run, value)
    return metrics


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
