"""Summarise classified mistakes: shares per category, the accuracy ladder, confusions, factors.

Everything here is a pure function of arrays, label sets and a :class:`~reassess.analysis.
mistakes.Mistakes` table; ``reassess analyze`` writes the result as ``analysis.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from reassess.analysis.evidence import FACTORS, ImageNetX
from reassess.analysis.mistakes import (
    CATEGORIES,
    CATEGORY_TITLES,
    KINDS,
    SOURCE_TITLES,
    Mistakes,
    rule_texts,
)
from reassess.analysis.severity import FORGIVEN_SEVERITIES, NO_SEVERITY, SEVERITIES
from reassess.labels.hierarchy import ImageNetHierarchy, imagenet_hierarchy
from reassess.labels.imagenet import imagenet_classes
from reassess.labels.label_sets import LabelSets
from reassess.metrics.accuracy import set_hits
from reassess.metrics.stats import Proportion


def value_counts(values: np.ndarray) -> dict[str, int]:
    """How often each distinct value occurs, as ``{str(value): count}`` in sorted order.

    >>> value_counts(np.array(["real", "expert", "real"], dtype=object))
    {'expert': 1, 'real': 2}
    """
    distinct, counts = np.unique(np.asarray(values).astype(str), return_counts=True)
    return {str(v): int(k) for v, k in zip(distinct, counts, strict=True)}


def _set_title(name: str) -> str:
    return SOURCE_TITLES.get(name, name)


def real_identity(
    mistakes: Mistakes,
    labels: np.ndarray,
    predictions: np.ndarray,
    sets: LabelSets,
    name: str,
) -> dict[str, Any]:
    """Check that the mistakes with the prediction in a label set are what set accuracy implies.

    Identity: a top-1 mistake whose prediction lies in the image's set is exactly an image that
    is *set-correct and original-wrong*, counted on set-evaluable images with a known label.
    The left side comes from the mistake table (``in_<name>``), the right side from
    :func:`reassess.metrics.accuracy.set_hits`, the function behind ``real_top1``. Every such
    mistake is classified ``not_a_mistake`` with that set as evidence, except where the expert
    multi-labels annotate the image: there the experts decide instead (expert precedence).

    Returns
    -------
    dict
        ``mistakes_in_set``, ``not_a_mistake_by_set``, ``decided_by_experts``,
        ``set_correct_original_wrong``, ``set_evaluable`` and ``holds`` (the counts agree).
    """
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    labelled = labels >= 0
    hits = set_hits(predictions[:, None], sets, k=1)
    right_side = int((sets.evaluable & labelled & hits & (predictions != labels)).sum())
    column = mistakes.columns.get(f"in_{name}")
    left_side = int(column.sum()) if column is not None else 0
    by_rule1 = int(
        ((mistakes.category == "not_a_mistake") & (mistakes["evidence_source"] == name)).sum()
    )
    by_experts = 0
    if column is not None:
        by_experts = int((column & mistakes["expert_decides"]).sum())
    return {
        "set": name,
        "mistakes_in_set": left_side,
        "not_a_mistake_by_set": by_rule1,
        "decided_by_experts": by_experts,
        "set_correct_original_wrong": right_side,
        "set_evaluable": int(sets.evaluable.sum()),
        "holds": left_side == right_side == by_rule1 + by_experts,
    }


def _proportion(hits: np.ndarray) -> dict[str, Any]:
    return Proportion.from_hits(hits).to_dict()


#: Keys and titles of the ladder's fixed rungs (the set rungs are ``{set}_top1``, "{title} top-1").
LADDER_TOP1, LADDER_NOT_A_MISTAKE, LADDER_MINOR = "top1", "not_a_mistake_forgiven", "minor_forgiven"
LADDER_TITLES = {
    LADDER_TOP1: "Top-1 (original labels)",
    LADDER_NOT_A_MISTAKE: "Top-1, 'not a mistake' forgiven",
    LADDER_MINOR: "Top-1, minor mistakes forgiven",
}


def ladder_changes(ladder: list[dict[str, Any]]) -> list[float | None]:
    """Each rung's change from the rung before, as a fraction (None for the first rung).

    The one place the terminal (``reassess analyze``) and the HTML report take the steps from.

    >>> ladder_changes([{"value": 0.5}, {"value": 0.75}, {"value": 0.625}])
    [None, 0.25, -0.125]
    """
    values = [float(rung["value"]) for rung in ladder]
    return [None if i == 0 else v - values[i - 1] for i, v in enumerate(values)]


def accuracy_ladder(
    mistakes: Mistakes,
    labels: np.ndarray,
    predictions: np.ndarray,
    *,
    label_sets: Mapping[str, LabelSets] | None = None,
    expert: LabelSets | None = None,
) -> list[dict[str, Any]]:
    """Top-1 -> multi-label -> "not a mistake" forgiven -> minor forgiven, each with a 95% CI.

    The multi-label rungs are set accuracies on each set's evaluable images (ReaL: Beyer et al.
    2020; expert labels: Shankar et al. 2020 / Vasudevan et al. 2022). The two forgiving rungs use
    the top-1 denominator (all images with a label): an image counts when its prediction is right
    or its mistake is ``not_a_mistake`` (resp. anything but ``major``: forgiven verdicts and minor
    or borderline mistakes), the "minor-forgiven" accuracy of Vasudevan et al. 2022.
    """
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    labelled = labels >= 0
    correct = labelled & (predictions == labels)
    rows = mistakes["row"]
    not_a_mistake = np.zeros(len(labels), dtype=bool)
    not_a_mistake[rows[mistakes.category == "not_a_mistake"]] = True
    minor = np.zeros(len(labels), dtype=bool)
    minor[rows[np.isin(mistakes.severity, FORGIVEN_SEVERITIES)]] = True
    ladder = [
        {
            "key": LADDER_TOP1,
            "title": LADDER_TITLES[LADDER_TOP1],
            **_proportion(correct[labelled]),
        }
    ]
    for name, sets in [*(label_sets or {}).items(), *([("expert", expert)] if expert else [])]:
        hits = set_hits(predictions[:, None], sets, k=1)
        if sets.evaluable.any():
            ladder.append(
                {
                    "key": f"{name}_top1",
                    "title": f"{_set_title(name)} top-1",
                    **_proportion(hits[sets.evaluable]),
                }
            )
    ladder.append(
        {
            "key": LADDER_NOT_A_MISTAKE,
            "title": LADDER_TITLES[LADDER_NOT_A_MISTAKE],
            **_proportion((correct | not_a_mistake)[labelled]),
        }
    )
    ladder.append(
        {
            "key": LADDER_MINOR,
            "title": LADDER_TITLES[LADDER_MINOR],
            **_proportion((correct | minor)[labelled]),
        }
    )
    return ladder


def confused_pairs(mistakes: Mistakes, top: int = 20) -> list[dict[str, Any]]:
    """The most frequent (label -> prediction) pairs among the mistakes, most frequent first."""
    if not len(mistakes):
        return []
    key = mistakes["label"] * 1000 + mistakes["prediction"]
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    order = np.lexsort((uniq, -counts))[:top]
    names = imagenet_classes().names
    out = []
    for u in order:
        members = inverse == u
        cats, cat_counts = np.unique(mistakes.category[members].astype(str), return_counts=True)
        label, pred = divmod(int(uniq[u]), 1000)
        first = int(np.flatnonzero(members)[0])
        out.append(
            {
                "label": label,
                "label_name": names[label],
                "prediction": pred,
                "prediction_name": names[pred],
                "count": int(counts[u]),
                "categories": {str(c): int(k) for c, k in zip(cats, cat_counts, strict=True)},
                "wordnet_distance": int(mistakes["wordnet_distance"][first]),
            }
        )
    return out


def superclass_accuracy(
    mistakes: Mistakes,
    labels: np.ndarray,
    predictions: np.ndarray,
    *,
    level: str = "coarse",
    hierarchy: ImageNetHierarchy | None = None,
) -> list[dict[str, Any]]:
    """Top-1 and minor-forgiven accuracy per WordNet superclass of the label, worst top-1 first."""
    h = hierarchy or imagenet_hierarchy()
    group_of, groups = h.superclass_array(level)
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    labelled = labels >= 0
    correct = labelled & (predictions == labels)
    minor = np.zeros(len(labels), dtype=bool)
    minor[mistakes["row"][np.isin(mistakes.severity, FORGIVEN_SEVERITIES)]] = True
    major = np.zeros(len(labels), dtype=bool)
    major[mistakes["row"][mistakes.severity == "major"]] = True
    group = np.where(labelled, group_of[np.clip(labels, 0, None)], -1)
    out = []
    for g in np.unique(group[labelled]):
        members = group == g
        out.append(
            {
                "wnid": groups[g][0],
                "name": groups[g][1],
                "level": level,
                "num_classes": int((group_of == g).sum()),
                "n": int(members.sum()),
                "top1": _proportion(correct[members]),
                "minor_forgiven": _proportion((correct | minor)[members]),
                "major_mistakes": int(major[members].sum()),
            }
        )
    out.sort(key=lambda r: (r["top1"]["value"], r["name"]))
    return out


def imagenet_x_error_ratios(
    sample_ids: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    annotations: ImageNetX,
    *,
    which: str = "top",
) -> dict[str, Any] | None:
    """ImageNet-X error ratio per factor: ``(1 - acc_factor) / (1 - acc_overall)``.

    As in ImageNet-X (Idrissi et al. 2023, Section 4 and ``imagenet_x.error_ratio``): only
    annotated images whose label is ImageNet-X's and that are not class prototypes count;
    ``acc_overall`` is top-1 accuracy on them and ``acc_factor`` on those showing the factor,
    under the *top* factor (one per image, ImageNet-X's default) or the *multi* factor annotation.
    A ratio above 1 means the factor makes the model err more often than usual. None when the
    run holds no annotated image.
    """
    if which not in ("top", "multi"):
        raise ValueError(f"which must be 'top' or 'multi', got {which!r}")
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    rows = annotations.rows_for(np.asarray(sample_ids, dtype=object), labels)
    use = rows >= 0
    use[use] = ~annotations.prototype[rows[use]]
    if not use.any():
        return None
    correct = (predictions == labels)[use]
    if which == "top":
        present = np.zeros((int(use.sum()), len(FACTORS)), dtype=bool)
        top = annotations.top_factor[rows[use]].astype(np.int64)
        has = top >= 0
        present[np.flatnonzero(has), top[has]] = True
    else:
        present = annotations.factors[rows[use]]
    overall = Proportion.from_hits(correct)
    factors = []
    for f, name in enumerate(FACTORS):
        acc = Proportion.from_hits(correct[present[:, f]])
        ratio = (1 - acc.value) / (1 - overall.value) if acc.n and overall.value < 1 else None
        factors.append(
            {"factor": name, "n": acc.n, "accuracy": acc.to_dict(), "error_ratio": ratio}
        )
    return {"which_factor": which, "accuracy": overall.to_dict(), "factors": factors}


def summarize_mistakes(
    mistakes: Mistakes,
    sample_ids: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    *,
    label_sets: Mapping[str, LabelSets] | None = None,
    expert: LabelSets | None = None,
    imagenet_x: ImageNetX | None = None,
    hierarchy: ImageNetHierarchy | None = None,
    top_pairs: int = 20,
) -> dict[str, Any]:
    """Everything ``analysis.json`` holds about a run's mistakes (see the CLI docs for the schema).

    Parameters
    ----------
    mistakes : the output of :func:`reassess.analysis.mistakes.classify_mistakes` for the run.
    sample_ids, labels, predictions : the run's ids, single labels (-1: none) and top-1 classes.
    label_sets, expert : the same aligned label sets the mistakes were classified with.
    imagenet_x : ImageNet-X annotations for the error ratios (None: left out).
    hierarchy : WordNet hierarchy for the per-superclass table (default: the shipped one).
    top_pairs : how many confused pairs to list.

    Returns
    -------
    dict
        JSON-ready summary: counts, ``categories``, ``severity``, ``kinds``, ``atypical``,
        ``not_a_mistake_sources``, ``identities``, ``oov``, ``oov_sources``, ``ladder``,
        ``confused_pairs``, ``superclasses``, ``imagenet_x`` and ``rules``.

    Examples
    --------
    >>> from reassess.analysis.mistakes import classify_mistakes
    >>> ids = np.array(["a", "b", "c"], dtype=object)
    >>> y, p = np.array([185, 0, 1]), np.array([186, 758, 1])
    >>> s = summarize_mistakes(classify_mistakes(ids, y, p), ids, y, p)
    >>> s["num_mistakes"], s["ladder"][-1]["value"]
    (2, 0.6666666666666666)
    """
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    label_sets = dict(label_sets or {})
    labelled = labels >= 0
    n_mistakes = len(mistakes)
    rules = rule_texts(mistakes.rules)
    categories = []
    for c in CATEGORIES:
        members = mistakes.category == c
        categories.append(
            {
                "key": c,
                "title": CATEGORY_TITLES[c],
                "count": int(members.sum()),
                "share_of_mistakes": _proportion(members),
                "share_of_images": int(members.sum()) / max(int(labelled.sum()), 1),
                **{s: int((members & (mistakes.severity == s)).sum()) for s in SEVERITIES},
                "rule": rules[c],
            }
        )
    oov = mistakes["oov"][~mistakes.null["oov"]].astype(str) if n_mistakes else np.array([])
    result: dict[str, Any] = {
        "num_samples": len(labels),
        "num_labelled": int(labelled.sum()),
        "num_correct": int((labelled & (predictions == labels)).sum()),
        "num_mistakes": n_mistakes,
        "categories": categories,
        "severity": {s: int((mistakes.severity == s).sum()) for s in (NO_SEVERITY, *SEVERITIES)},
        "kinds": {k: int((mistakes["kind"] == k).sum()) for k in KINDS},
        "atypical": {
            "flagged": int(mistakes["atypical"].sum()),
            "annotated": int((~mistakes.null["atypical"]).sum()),
        },
        "not_a_mistake_sources": value_counts(
            mistakes["evidence_source"][mistakes.category == "not_a_mistake"]
        ),
        "identities": {
            name: real_identity(mistakes, labels, predictions, sets, name)
            for name, sets in label_sets.items()
        },
        "oov": {v: int((oov == v).sum()) for v in ("yes", "no", "undecidable")},
        "oov_sources": value_counts(mistakes["oov_source"][~mistakes.null["oov_source"]]),
        "ladder": accuracy_ladder(
            mistakes, labels, predictions, label_sets=label_sets, expert=expert
        ),
        "confused_pairs": confused_pairs(mistakes, top=top_pairs),
        "superclasses": superclass_accuracy(mistakes, labels, predictions, hierarchy=hierarchy),
        "imagenet_x": (
            imagenet_x_error_ratios(sample_ids, labels, predictions, imagenet_x)
            if imagenet_x is not None
            else None
        ),
        "rules": {
            "order": list(CATEGORIES),
            "rules": rules,
            "thresholds": mistakes.rules.to_dict(),
            "severity_model": mistakes.severity_model,
        },
    }
    return result
