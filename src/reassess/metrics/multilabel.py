"""Multi-label accuracies: expert multi-label top-1, ImageNet-M, variable top-k and ASMA.

Every function takes arrays and :class:`LabelSets` aligned to the predictions and scores them
through the one hit-matrix step, :meth:`LabelSets.contains`. Results are :class:`Proportion`
objects; averages over classes or subgroups get a Clopper-Pearson interval at the effective
sample size of the weighted estimate (Korn & Graubard 1998, "Confidence intervals for
proportions with small expected number of positive counts estimated from survey data").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reassess.labels.label_sets import LabelSets
from reassess.metrics.stats import Proportion, clopper_pearson


def mean_proportion(values: np.ndarray, groups: np.ndarray | None = None) -> Proportion:
    """Mean of per-item scores in [0, 1], or the unweighted mean of per-group means.

    Binary scores without groups give the exact Clopper-Pearson interval of
    :meth:`Proportion.from_hits`. Otherwise the interval is Clopper-Pearson at the effective
    sample size ``n_eff = p (1 - p) / var(p_hat)`` (Korn & Graubard 1998), capped at the number
    of items, where ``var(p_hat)`` is the plug-in variance of the (group-averaged) mean.

    Examples
    --------
    >>> p = mean_proportion(np.array([1, 1, 0, 1.0]), np.array([0, 0, 0, 1]))
    >>> round(p.value, 4)  # (2/3 + 1) / 2
    0.8333
    """
    values = np.asarray(values, dtype=np.float64)
    n = int(values.size)
    if n == 0:
        return Proportion(float("nan"), 0, (float("nan"), float("nan")))
    binary = bool(np.isin(values, (0.0, 1.0)).all())
    if groups is None and binary:
        return Proportion.from_hits(values.astype(bool))
    if groups is None:
        value = float(values.mean())
        variance = float(values.var()) / n
    else:
        _, inverse = np.unique(np.asarray(groups), return_inverse=True)
        counts = np.bincount(inverse)
        sums = np.bincount(inverse, weights=values)
        squares = np.bincount(inverse, weights=values * values)
        means = sums / counts
        within = np.maximum(squares / counts - means * means, 0.0)
        value = float(means.mean())
        variance = float((within / counts).sum()) / len(counts) ** 2
    value = min(max(value, 0.0), 1.0)
    if variance <= 0 or value in (0.0, 1.0):
        n_eff = float(n)
    else:
        n_eff = min(float(n), value * (1 - value) / variance)
    return Proportion(value=value, n=n, ci95=clopper_pearson(value * n_eff, n_eff))


@dataclass(frozen=True)
class MultiLabelTop1:
    """Expert multi-label top-1: averaged per class then over classes, and over images."""

    per_class: Proportion
    per_image: Proportion
    num_classes: int


def multilabel_top1_hits(top1: np.ndarray, accepted: LabelSets) -> tuple[np.ndarray, np.ndarray]:
    """Rows that count (annotated, i.e. not problematic) and whether top-1 is accepted there.

    An annotated image with no accepted class counts as a miss, as in the authors' notebook.
    """
    include = np.flatnonzero(accepted.annotated)
    hits = accepted.contains(np.asarray(top1))[include]
    return include, hits


def multilabel_top1(top1: np.ndarray, accepted: LabelSets, classes: np.ndarray) -> MultiLabelTop1:
    """Multi-label top-1 accuracy on the expert labels (Shankar et al. 2020; Vasudevan et al. 2022).

    Parameters
    ----------
    top1 : (N,) predicted classes.
    accepted : expert label sets aligned to the predictions, problematic images left out
        (``ExpertLabels.accepted(strict=...)``): correct and unclear classes (lenient, the
        authors' choice) or correct only (strict).
    classes : (N,) original ImageNet label of each image; accuracy is averaged within each
        original class, then over classes, as the dataset's authors recommend.

    Returns
    -------
    MultiLabelTop1 with the class-averaged and the plain (per-image) accuracy.

    Examples
    --------
    >>> sets = LabelSets.from_lists("e", ["a", "b", "c"], [[1, 2], [3], [4]])
    >>> r = multilabel_top1(np.array([2, 0, 4]), sets, np.array([1, 1, 4]))
    >>> r.per_image.value, r.per_class.value  # classes 1: 1/2, 4: 1/1
    (0.6666666666666666, 0.75)
    """
    include, hits = multilabel_top1_hits(top1, accepted)
    classes = np.asarray(classes)[include]
    known = classes >= 0
    per_class = mean_proportion(hits[known].astype(float), classes[known])
    return MultiLabelTop1(
        per_class=per_class,
        per_image=Proportion.from_hits(hits),
        num_classes=int(np.unique(classes[known]).size),
    )


def imagenet_m_accuracy(top1: np.ndarray, sets: LabelSets) -> Proportion:
    """ImageNet-M: hits of the 68 "major mistake" images (Vasudevan et al. 2022).

    A hit when the top-1 is among the correct or unclear classes; ``sets`` is
    ``ExpertLabels.imagenet_m_sets()`` aligned to the predictions. The count of hits is
    ``Proportion.count`` (the paper reports e.g. 19 of 68 for Greedy Soups).
    """
    hits = sets.contains(np.asarray(top1))
    return Proportion.from_hits(hits[sets.annotated])


@dataclass(frozen=True)
class Subgroup:
    """Variable top-k accuracy of the images that have ``labels`` valid labels."""

    labels: int
    strict: Proportion
    soft: Proportion

    def to_dict(self) -> dict:
        return {"labels": self.labels, "strict": self.strict.to_dict(), "soft": self.soft.to_dict()}


@dataclass(frozen=True)
class VariableTopK:
    """Variable top-k accuracy (k = number of valid labels), its subgroups and ASMA."""

    strict: Proportion
    soft: Proportion
    asma: Proportion
    asma_soft: Proportion
    subgroups: list[Subgroup]
    excluded_too_many_labels: int


def variable_topk_scores(
    topk: np.ndarray, sets: LabelSets
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows that count, their label counts and the fraction of their labels found in the top k.

    An image counts when it has valid labels and no more of them than ranked predictions are
    stored. Since the k predictions are distinct classes, the number of hits among the first k
    is the number of the image's labels found.
    """
    topk = np.asarray(topk)
    if topk.ndim == 1:
        topk = topk[:, None]
    counts = sets.counts
    include = np.flatnonzero(sets.evaluable & (counts <= topk.shape[1]))
    hits = sets.contains(topk)
    within = np.arange(topk.shape[1])[None, :] < counts[:, None]
    found = (hits & within).sum(axis=1)
    k = counts[include]
    return include, k, found[include] / k


def variable_topk(topk: np.ndarray, sets: LabelSets) -> VariableTopK:
    """Variable top-k accuracy and ASMA ("Re-assessing ImageNet", Anzaku et al. 2024).

    For an image with k valid labels the model gets its top k predictions: a strict hit needs
    all k labels among them, a soft hit scores the fraction found. Images are grouped by k;
    ASMA is the unweighted mean of the subgroup accuracies, so the many single-label images do
    not drown the multi-label ones. Images with more labels than stored predictions are left out
    (counted in ``excluded_too_many_labels``).

    Examples
    --------
    >>> sets = LabelSets.from_lists("m", ["a", "b", "c"], [[1], [2, 3], [4, 5]])
    >>> r = variable_topk(np.array([[1, 9], [3, 2], [4, 9]]), sets)
    >>> r.strict.value, r.soft.value, r.asma.value  # k=1: 1/1; k=2: 1/2 strict
    (0.6666666666666666, 0.8333333333333334, 0.75)
    """
    topk = np.asarray(topk)
    width = 1 if topk.ndim == 1 else topk.shape[1]
    include, k, fraction = variable_topk_scores(topk, sets)
    strict = fraction >= 1.0
    subgroups = [
        Subgroup(
            labels=int(g),
            strict=Proportion.from_hits(strict[k == g]),
            soft=mean_proportion(fraction[k == g]),
        )
        for g in np.unique(k)
    ]
    too_many = int((sets.evaluable & (sets.counts > width)).sum())
    return VariableTopK(
        strict=Proportion.from_hits(strict),
        soft=mean_proportion(fraction),
        asma=mean_proportion(strict.astype(float), k),
        asma_soft=mean_proportion(fraction, k),
        subgroups=subgroups,
        excluded_too_many_labels=too_many,
    )


def multilabel_share(sets: LabelSets) -> Proportion:
    """Share of the annotated images that have two or more valid labels.

    Examples
    --------
    >>> multilabel_share(LabelSets.from_lists("m", ["a", "b", "c"], [[1], [2, 3], []])).value
    0.3333333333333333
    """
    return Proportion.from_hits(sets.counts[sets.annotated] >= 2)
