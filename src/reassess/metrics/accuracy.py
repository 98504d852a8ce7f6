"""Single-label and label-set accuracies over top-k predictions."""

from __future__ import annotations

import numpy as np

from reassess.labels.imagenet import NUM_CLASSES
from reassess.labels.label_sets import LabelSets
from reassess.metrics.stats import Proportion


def _check_topk(topk: np.ndarray, k: int) -> np.ndarray:
    topk = np.asarray(topk)
    if topk.ndim == 1:
        topk = topk[:, None]
    if topk.ndim != 2:
        raise ValueError(f"predictions must be (N,) or (N, K), got shape {topk.shape}")
    if not 1 <= k <= topk.shape[1]:
        raise ValueError(f"top-{k} needs at least {k} ranked predictions, have {topk.shape[1]}")
    return topk


def single_label_hits(topk: np.ndarray, labels: np.ndarray, *, k: int = 1) -> np.ndarray:
    """Per-sample hit: the single label is among the first ``k`` predictions."""
    topk = _check_topk(topk, k)
    labels = np.asarray(labels)
    if len(labels) != len(topk):
        raise ValueError(f"{len(topk)} predictions but {len(labels)} labels")
    return (topk[:, :k] == labels[:, None]).any(axis=1)


def topk_accuracy(topk: np.ndarray, labels: np.ndarray, *, k: int = 1) -> Proportion:
    """Top-k accuracy against one label per sample; samples with label < 0 (unknown) are skipped.

    Parameters
    ----------
    topk : (N, K) int array of class indices, best first (or (N,) top-1 predictions).
    labels : (N,) int array of true classes; -1 marks an unlabeled sample.
    k : how many ranked predictions may contain the label.

    Examples
    --------
    >>> topk_accuracy(np.array([[1, 2], [0, 3]]), np.array([2, 1]), k=2).value
    0.5
    """
    labels = np.asarray(labels)
    known = labels >= 0
    hits = single_label_hits(_check_topk(topk, k)[known], labels[known], k=k)
    return Proportion.from_hits(hits)


def set_hits(topk: np.ndarray, label_sets: LabelSets, *, k: int = 1) -> np.ndarray:
    """Per-sample hit: any of the first ``k`` predictions is in the sample's label set."""
    topk = _check_topk(topk, k)
    return label_sets.contains(topk[:, :k]).any(axis=1)


def set_accuracy(topk: np.ndarray, label_sets: LabelSets, *, k: int = 1) -> Proportion:
    """Accuracy against sets of valid labels (ReaL, "Are we done with ImageNet?", Beyer et al. 2020).

    A sample counts as correct when any of its first ``k`` predictions is in its label set.
    Samples with an empty set (the raters found no fitting class) or not covered by the label
    source are excluded from both numerator and denominator, as the paper prescribes.

    Examples
    --------
    >>> sets = LabelSets.from_lists("real", ["a", "b", "c"], [[1, 2], [0], []])
    >>> set_accuracy(np.array([[2], [1], [0]]), sets).value
    0.5
    """
    hits = set_hits(topk, label_sets, k=k)
    return Proportion.from_hits(hits[label_sets.evaluable])


def per_class_accuracy(
    top1: np.ndarray, labels: np.ndarray, *, num_classes: int = NUM_CLASSES
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class top-1 accuracy and support; classes without samples get accuracy NaN."""
    top1, labels = np.asarray(top1), np.asarray(labels)
    known = labels >= 0
    support = np.bincount(labels[known], minlength=num_classes)
    correct = np.bincount(
        labels[known], weights=top1[known] == labels[known], minlength=num_classes
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(support > 0, correct / np.maximum(support, 1), np.nan)
    return accuracy, support
