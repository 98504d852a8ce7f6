"""All metrics a run's predictions and label sets allow, in one dictionary (``metrics.json``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from reassess.labels.label_sets import LabelSets
from reassess.metrics.accuracy import per_class_accuracy, set_accuracy, topk_accuracy
from reassess.store.predictions import Predictions


def compute_metrics(
    predictions: Predictions, label_sets: dict[str, LabelSets] | None = None
) -> dict[str, Any]:
    """Single-label top-1/top-5 and, per label set, set-based top-1/top-5.

    Keys are ``top1``, ``top5`` and ``<set>_top1``, ``<set>_top5`` (``real_top1`` for ReaL), each
    ``{"value", "n", "ci95"}``. ``skipped`` maps each metric that could not be computed to why.
    """
    metrics: dict[str, Any] = {"num_samples": len(predictions)}
    skipped: dict[str, str] = {}
    known = predictions.labels >= 0
    for k in (1, 5):
        key = f"top{k}"
        if not known.any():
            skipped[key] = "the dataset has no single labels"
        elif predictions.k < k:
            skipped[key] = f"only top-{predictions.k} predictions are stored"
        else:
            metrics[key] = topk_accuracy(predictions.topk, predictions.labels, k=k).to_dict()
    for name, sets in (label_sets or {}).items():
        for k in (1, 5):
            key = f"{name}_top{k}"
            if predictions.k < k:
                skipped[key] = f"only top-{predictions.k} predictions are stored"
            elif not sets.evaluable.any():
                skipped[key] = f"no sample of this run has {name} labels"
            else:
                metrics[key] = set_accuracy(predictions.topk, sets, k=k).to_dict()
    metrics["skipped"] = skipped
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
