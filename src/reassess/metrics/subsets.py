"""Scoring on a class subset: ImageNet-A/-R (200 classes) and ObjectNet (113 classes).

The literature scores these test sets by the model's argmax among the dataset's classes only
(Hendrycks et al. 2021; the imagenet-testbed of Taori et al. 2020). A *class map* says how: a
(1000,) array where ``class_map[c]`` is the class a prediction of ImageNet class ``c`` counts as
(``c`` itself for ImageNet-A/-R, its ObjectNet group's label for ObjectNet) and -1 marks classes
outside the dataset, which are never predicted. Built by
:func:`reassess.datasets.base.scoring_class_map` from the class map each dataset family registers.
"""

from __future__ import annotations

import numpy as np

from reassess.store.predictions import Predictions


def restrict_ranking(
    predictions: Predictions, class_map: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rank each sample's predictions among the dataset's classes only.

    With stored logits the ranking is exact (a group of classes scores its best member's logit,
    which makes the group's top-1 the argmax over its members, as imagenet-testbed scores
    ObjectNet). Otherwise the stored top-K are mapped and de-duplicated in order, which fixes
    only the first ``determined[i]`` ranks of sample ``i``: a class ranked below K may be the
    best one of the subset.

    Parameters
    ----------
    predictions : stored predictions over ImageNet's 1000 classes.
    class_map : (1000,) int array, see the module docstring.

    Returns
    -------
    ranked : (N, K) int array of mapped classes, best first, -1 where not determined (with
        logits: (N, max(K, 5)), every rank determined).
    determined : (N,) number of leading ranks of each row that are known.

    Examples
    --------
    >>> preds = Predictions(np.array(["a"]), np.array([2]), np.array([[7, 2, 3]], dtype=np.int16))
    >>> ranked, determined = restrict_ranking(preds, np.array([-1, -1, 2, 3, -1, -1, -1, -1]))
    >>> ranked.tolist(), determined.tolist()
    ([[2, 3, -1]], [2])
    """
    class_map = np.asarray(class_map, dtype=np.int64)
    n, k = predictions.topk.shape
    if predictions.logits is not None and predictions.logits.shape[1] == len(class_map):
        groups, scores = _group_scores(predictions.logits, class_map)
        width = min(max(k, 5), len(groups))
        order = np.argsort(-scores, axis=1, kind="stable")[:, :width]
        return groups[order], np.full(n, width)
    ranked = np.full((n, k), -1, dtype=np.int64)
    mapped = class_map[predictions.topk.astype(np.int64)]
    filled = np.zeros(n, dtype=np.int64)
    rows = np.arange(n)
    for j in range(k):
        candidate = mapped[:, j]
        fresh = (candidate >= 0) & ~(ranked == candidate[:, None]).any(axis=1)
        ranked[rows[fresh], filled[fresh]] = candidate[fresh]
        filled += fresh
    return ranked, filled


def _group_scores(logits: np.ndarray, class_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The scored classes and, per sample, each one's best member logit."""
    groups = np.unique(class_map[class_map >= 0])
    logits = np.asarray(logits, dtype=np.float32)
    scores = np.empty((len(logits), len(groups)), dtype=np.float32)
    for j, group in enumerate(groups):
        scores[:, j] = logits[:, class_map == group].max(axis=1)
    return groups, scores


def restrict_predictions(
    predictions: Predictions, class_map: np.ndarray
) -> tuple[Predictions, str | None]:
    """Predictions re-ranked among the dataset's classes, and a note when ranks are lost.

    The result keeps as many ranks as every sample has determined (see
    :func:`restrict_ranking`); its labels are mapped too (ObjectNet labels already are).
    Probabilities are kept when the ranking is unchanged (runs restricted at inference) or
    recomputed as a softmax over the scored classes from stored logits; otherwise dropped.
    """
    class_map = np.asarray(class_map, dtype=np.int64)
    ranked, determined = restrict_ranking(predictions, class_map)
    width = int(determined.min()) if len(determined) else predictions.k
    topk = ranked[:, :width]
    labels = np.where(predictions.labels >= 0, class_map[np.maximum(predictions.labels, 0)], -1)
    probs = None
    if predictions.logits is not None and predictions.logits.shape[1] == len(class_map):
        groups, scores = _group_scores(predictions.logits, class_map)
        scores = scores - scores.max(axis=1, keepdims=True)
        softmax = np.exp(scores)
        softmax /= softmax.sum(axis=1, keepdims=True)
        probs = np.take_along_axis(softmax, np.searchsorted(groups, topk), axis=1)
    elif (
        width > 0
        and predictions.probs is not None
        and np.array_equal(topk, predictions.topk[:, :width].astype(np.int64))
    ):
        probs = predictions.probs[:, :width]
    note = None
    if width < min(predictions.k, 5):
        short = int((determined < predictions.k).sum())
        note = (
            f"scored among the dataset's {np.unique(class_map[class_map >= 0]).size} classes: "
            f"{short:,} of {len(determined):,} samples have fewer than {predictions.k} of them "
            f"among their stored top-{predictions.k}, so only top-{width} can be scored "
            "(store logits with --keep-logits, or evaluate with reassess so it restricts scores)"
        )
    restricted = Predictions(
        sample_ids=predictions.sample_ids,
        labels=labels.astype(np.int32),
        topk=topk.astype(np.int16),
        probs=None if probs is None else probs.astype(np.float32),
        logits=None,
    )
    return restricted, note
