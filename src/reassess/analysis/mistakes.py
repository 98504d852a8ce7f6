"""Sort every top-1 mistake by kind and score its severity, keeping the evidence that decided it.

The taxonomy is that of Vasudevan et al. 2022, "When does dough become a bagel? Analyzing the
remaining mistakes on ImageNet" (NeurIPS), where experts sorted the mistakes of two models by
hand; here every rule is automatic, uses published label data, another model's confusions and,
optionally, a CLIP model looking at the image. A *mistake* is a sample with a known single label
whose top-1 prediction differs from it. The analysis answers two questions in turn.

**Is it a mistake at all?** (the verdict; first rule that applies)

1. ``not_a_mistake``: the prediction is a valid label of the image, or the same object under
   another class name as one (:mod:`reassess.labels.equivalences`). *Expert precedence*: where the
   expert multi-labels (``--multilabel-file``) annotate the image, their accepted set alone
   decides; ReaL and the other human multi-label sets decide only where the experts are silent.
2. ``known_label_error``: only where the experts are silent, the original label is a
   crowd-validated error (cleanlab, :mod:`reassess.labels.label_errors`) and the crowd chose the
   prediction instead (``correctable``), or accepted both (``multi-label``). Errors where the crowd
   agreed on no label (``neither``, ``non-agreement``) fall through to the kinds below; the
   ``cleanlab_category`` column keeps the flag as evidence.

**What kind of mistake is it?** (the ``kind`` column, given for every row; it is the category of
every row that rules 1-2 do not forgive). *Valid labels* are the expert set where it annotates
the image, else the original label (the crowd's, for a correctable error) and every class of the
human multi-label sets; the prediction itself never counts as its own relative.

3. ``fine_grained``: the prediction is a close relative of a valid label: same fine WordNet
   superclass, tree distance <= :attr:`TaxonomyRules.fine_grained_max_distance`, two organisms of
   one taxon (dog breeds, birds, snakes), or a pair another model confuses (the cross-validated
   ResNet-50 of cleanlab mistakes one for the other on >= :attr:`TaxonomyRules.confusable_min`
   other val images; the analysed image is left out).
4. ``fine_grained_oov``: not close to a valid label, and the image shows a kind the 1000 classes
   lack: the experts accepted no class, or a CLIP model prefers an out-of-vocabulary WordNet
   relative of the prediction to every in-vocabulary one (:mod:`reassess.inference.oov_clip`, Peychev
   et al. 2023; ``reassess analyze --images DIR --oov-clip SPEC``). Without either, the ``oov``
   column says ``undecidable``: it is never guessed from label data.
5. ``spurious_correlation``: the prediction co-occurs with a valid label it is no relative of:
   at least :attr:`TaxonomyRules.spurious_min_cooccurrences` *other* images have both in their
   human multi-label set (ReaL's 50,000 val sets and ImageNetV2's 10,000), and the two lie in
   different coarse superclasses (the filter of Peychev et al. 2023). What this detects is a *scene-level* correlation: the predicted object is one that
   appears next to the labelled one in other photos (a reel beside a tench); it does not look at
   whether the object is present in this image.
6. ``unexplained``: none of the above. Label data alone cannot say why the model erred.

Non-prototypical images are a *flag*, not a kind: ``atypical`` marks images that ImageNet-X
(Idrissi et al. 2023) found to differ from their class prototypes in one of
:data:`ATYPICAL_FACTORS`. Measured against the experts' 627 hand-sorted mistakes, the flag
hardly singles out their non-prototypical ones: it marks 23 of those 47 (annotated) and 219 of
the other 567, so a flagged mistake is non-prototypical in 10% of cases against 8% overall; it
never overrides a kind.

**Severity** (:mod:`reassess.analysis.severity`) is scored per mistake from the WordNet distance
to the nearest valid label, the ReaL raters' score for the prediction and the other model's
confusions: ``minor``, ``borderline`` or ``major``, independent of the kind; ``none`` for rows
rules 1-2 forgive.

**Measured agreement** (``benchmarks/bench_taxonomy.py``): thresholds and severity model fit on
the 378 ViT-3B mistakes Vasudevan et al. sorted by hand, scored on their 249 Greedy Soups
mistakes, with ReaL as the only multi-labels and no CLIP check. Precision of each kind (share of
reassess's calls the experts agree with): fine-grained 80% (152/189), spurious 33% (5/15);
``unexplained`` has no expert counterpart (45 calls); out-of-vocabulary is never called without
images (recall 0 of 26). Kind kappa 0.21 (0.16 on the 85 images the ViT-3B file does not hold),
severity kappa 0.39 (0.40). Without expert labels, rule 1 forgives 27% of these expert-confirmed
mistakes because ReaL accepts the prediction, rule 2 another 4%; with them, none (expert
precedence). Fit on Greedy Soups and scored on ViT-3B instead: kind 0.22, severity 0.31.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from reassess.analysis.evidence import (
    FACTORS,
    Confusability,
    ImageNetX,
    RaterScores,
    human_cooccurrence,
    human_multilabel_sets,
    imagenet_x,
    real_rater_scores,
    resnet50_confusability,
)
from reassess.analysis.severity import (
    NO_SEVERITY,
    SeverityModel,
    default_severity_model,
    severity_features,
)
from reassess.inference.oov_clip import OOVVerdict
from reassess.labels.equivalences import canonical_class
from reassess.labels.hierarchy import ImageNetHierarchy, imagenet_hierarchy
from reassess.labels.imagenet import NUM_CLASSES, imagenet_classes
from reassess.labels.label_errors import LabelErrors, known_label_errors
from reassess.labels.label_sets import LabelSets

#: Rule 3: classes under this WordNet node (organism) that share a coarse superclass (dog, bird,
#: reptile, insect, ...) are one taxon, so confusing them is fine-grained at any tree distance.
TAXON_ROOT_WNID = "n00004475"
#: Rule 3: coarse superclasses under organism that only collect leftovers (mammal, invertebrate).
TAXON_CATCH_ALL_WNIDS: tuple[str, ...] = ("n01861778", "n01905661")
#: ImageNet-X factors that cannot mark an image atypical: flagged for 28-87% of images (pose,
#: background, pattern, color), or a property of the scene, not the object (multiple_objects).
COMMON_OR_SCENE_FACTORS: tuple[str, ...] = (
    "pose",
    "background",
    "pattern",
    "color",
    "multiple_objects",
)
#: ImageNet-X factors that flag an image as atypical (each flagged for < 10% of images).
ATYPICAL_FACTORS: tuple[str, ...] = tuple(f for f in FACTORS if f not in COMMON_OR_SCENE_FACTORS)
#: Rule 2: cleanlab categories whose crowd label counts as right (the prediction then is).
FORGIVING_LABEL_ERRORS = ("correctable", "multi-label")


@dataclass(frozen=True)
class TaxonomyRules:
    """Every threshold the kinds use (recorded in ``analysis.json``).

    The defaults were chosen on the ViT-3B mistakes of Vasudevan et al. only (their Greedy Soups
    mistakes are the held-out check), by :func:`reassess.analysis.agreement.fit_rules`;
    ``scripts/build_severity_model.py`` checks that they still are.
    """

    #: Rule 3: WordNet tree distance that still counts as a close relative (2: siblings).
    fine_grained_max_distance: int = 5
    #: Rule 3: other val images on which the reference model confuses the pair (either way).
    confusable_min: int = 3
    #: Rule 5: other images whose ReaL / ImageNetV2 multi-labels hold both classes (Peychev et al.: 2).
    spurious_min_cooccurrences: int = 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


VERDICTS: tuple[str, ...] = ("not_a_mistake", "known_label_error")
KINDS: tuple[str, ...] = (
    "fine_grained",
    "fine_grained_oov",
    "spurious_correlation",
    "unexplained",
)
CATEGORIES: tuple[str, ...] = (*VERDICTS, *KINDS)
CATEGORY_TITLES = {
    "not_a_mistake": "Not a mistake",
    "known_label_error": "Known label error",
    "fine_grained": "Fine-grained",
    "fine_grained_oov": "Fine-grained out-of-vocabulary",
    "spurious_correlation": "Spurious correlation",
    "unexplained": "Unexplained",
}
#: The same, short enough for a table cell.
CATEGORY_SHORT_TITLES = {
    "not_a_mistake": "not a mistake",
    "known_label_error": "label error",
    "fine_grained": "fine-grained",
    "fine_grained_oov": "fine-grained OOV",
    "spurious_correlation": "spurious",
    "unexplained": "unexplained",
}
#: How evidence texts and tables name the label sources.
SOURCE_TITLES = {
    "real": "ReaL",
    "multilabel": "ImageNetV2 multi-label",
    "valid_labels": "valid-label",
    "expert": "expert",
}


def rule_texts(rules: TaxonomyRules) -> dict[str, str]:
    """One sentence per category: the rule as applied, with its thresholds."""
    return {
        "not_a_mistake": "prediction in the experts' accepted set where they annotate the image, "
        "else in a human multi-label set, or equivalent to a valid label",
        "known_label_error": "experts silent; the original label is a cleanlab crowd-validated "
        "error and the crowd chose the prediction (correctable) or accepted both (multi-label)",
        "fine_grained": f"prediction and a valid label share the fine superclass, are within "
        f"WordNet distance {rules.fine_grained_max_distance}, are organisms of one taxon, or "
        f"another model confuses them on >= {rules.confusable_min} other val images",
        "fine_grained_oov": "not fine-grained, and the experts accepted no class or CLIP prefers "
        "an out-of-vocabulary WordNet relative of the prediction",
        "spurious_correlation": f"prediction and a valid label of another coarse superclass share "
        f"the ReaL / ImageNetV2 multi-labels of >= {rules.spurious_min_cooccurrences} other images",
        "unexplained": "none of the above",
    }


@dataclass(frozen=True)
class Evidence:
    """The data the rules consult (defaults: :func:`default_evidence`).

    ``cooccurrence[a, b]`` counts images whose multi-label set holds classes ``a`` and ``b``;
    ``cooccurrence_sets`` are those sets (keyed by sample id) so an image's own set can be
    subtracted. ``confusability``, ``rater_scores``, ``label_errors`` and ``imagenet_x`` may be
    None (their evidence is then absent).
    """

    hierarchy: ImageNetHierarchy
    cooccurrence: np.ndarray
    cooccurrence_sets: LabelSets | None = None
    confusability: Confusability | None = None
    rater_scores: RaterScores | None = None
    label_errors: LabelErrors | None = None
    imagenet_x: ImageNetX | None = None
    cooccurrence_source: str = "multi-label"


@lru_cache(maxsize=1)
def default_evidence() -> Evidence:
    """The shipped evidence: WordNet, co-occurrence in ReaL and ImageNetV2 multi-labels, ReaL rater
    scores, the ResNet-50's confusions, cleanlab and ImageNet-X."""
    return Evidence(
        hierarchy=imagenet_hierarchy(),
        cooccurrence=human_cooccurrence(),
        cooccurrence_sets=human_multilabel_sets(),
        cooccurrence_source="ReaL and ImageNetV2",
        confusability=resnet50_confusability(),
        rater_scores=real_rater_scores(),
        label_errors=known_label_errors(),
        imagenet_x=imagenet_x(),
    )


@dataclass(frozen=True)
class Mistakes:
    """One entry per top-1 mistake: ``columns`` holds equally long arrays (see :func:`classify_mistakes`).

    ``null`` holds, for nullable columns, the mask of entries that have no value.
    """

    columns: dict[str, np.ndarray]
    null: dict[str, np.ndarray] = field(default_factory=dict)
    label_set_names: tuple[str, ...] = ()
    has_expert: bool = False
    rules: TaxonomyRules = field(default_factory=TaxonomyRules)
    severity_model: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.columns["row"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def category(self) -> np.ndarray:
        return self.columns["category"]

    @property
    def severity(self) -> np.ndarray:
        return self.columns["severity"]

    def to_table(self) -> Any:
        """The mistakes as a pyarrow Table (the schema of ``mistakes.parquet``)."""
        import pyarrow as pa

        arrays = {}
        for name, values in self.columns.items():
            mask = self.null.get(name)
            if name in LIST_COLUMNS:
                arrays[name] = pa.array(values.tolist(), type=LIST_COLUMNS[name](), mask=mask)
            elif values.dtype == object:
                arrays[name] = pa.array(values.tolist(), type=pa.string(), mask=mask)
            else:
                arrays[name] = pa.array(values, mask=mask)
        return pa.table(arrays)


@lru_cache(maxsize=4)
def _taxon_of_class(h: ImageNetHierarchy) -> np.ndarray:
    """Coarse superclass id of each organism class (rule 3's taxon), -1 for the rest."""
    coarse_ids, groups = h.superclass_array("coarse")
    organism = np.array([h.is_a(c, TAXON_ROOT_WNID) for c in range(NUM_CLASSES)])
    catch_all = np.array([groups[g][0] in TAXON_CATCH_ALL_WNIDS for g in coarse_ids])
    return np.where(organism & ~catch_all, coarse_ids, -1)


def _int16_list() -> Any:
    import pyarrow as pa

    return pa.list_(pa.int16())


def _str_list() -> Any:
    import pyarrow as pa

    return pa.list_(pa.string())


#: Columns of list type in ``mistakes.parquet`` and their pyarrow types.
LIST_COLUMNS = {"valid_labels": _int16_list, "imagenet_x_factors": _str_list}


def _object_array(items: list) -> np.ndarray:
    """A 1-D object array holding ``items`` (lists stay lists, not a 2-D array)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _gather(sets: LabelSets, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position in ``rows``, class) of every label of the sample rows ``rows``."""
    counts = sets.counts[rows]
    starts = sets.indptr[rows]
    total = int(counts.sum())
    pos = np.repeat(np.arange(len(rows)), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return pos, sets.indices[np.repeat(starts, counts) + offsets].astype(np.int64)


def _pick(pos: np.ndarray, n: int, ok: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Per row, the index of its ``ok`` pair that is smallest by ``keys`` (first key first).

    -1 for rows with no ``ok`` pair (or no pair at all).
    """
    out = np.full(n, -1, dtype=np.int64)
    if not len(pos):
        return out
    order = np.lexsort((*reversed(keys), ~ok, pos))
    starts = np.searchsorted(pos[order], np.arange(n))
    has = starts < len(order)
    has[has] = pos[order][starts[has]] == np.arange(n)[has]
    first = order[starts[has]]
    out[has] = np.where(ok[first], first, -1)
    return out


def _take(values: np.ndarray, index: np.ndarray, default: np.ndarray) -> np.ndarray:
    """``values[index]`` per row, ``default`` where ``index`` is -1 (no such pair)."""
    found = index >= 0
    out = np.array(default, copy=True)
    out[found] = values[index[found]]
    return out


def _any_per_row(pos: np.ndarray, n: int, flags: np.ndarray) -> np.ndarray:
    return np.bincount(pos[flags], minlength=n) > 0


def _max_per_row(pos: np.ndarray, n: int, values: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=np.int64)
    np.maximum.at(out, pos, values)
    return out


def _label_error_lookup(
    errors: LabelErrors | None, sample_ids: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sample: cleanlab category ('' if not flagged), crowd label (-1) and votes row (-1).

    Only samples whose label is the one cleanlab's workers saw are looked up.
    """
    n = len(sample_ids)
    category = np.full(n, "", dtype=object)
    guessed = np.full(n, -1, dtype=np.int64)
    err_row = np.full(n, -1, dtype=np.int64)
    if errors is None or n == 0:
        return category, guessed, err_row
    position = {f: i for i, f in enumerate(errors.file_names.tolist())}
    rows = np.fromiter((position.get(s, -1) for s in sample_ids.tolist()), np.int64, count=n)
    found = rows >= 0
    found[found] = errors.given[rows[found]] == labels[found]
    cats = errors.category
    category[found] = cats[rows[found]]
    guessed[found] = errors.guessed[rows[found]]
    err_row[found] = rows[found]
    return category, guessed, err_row


def _check_inputs(
    sample_ids: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    sets: list[tuple[str, LabelSets | None]],
) -> None:
    n_all = len(sample_ids)
    if len(labels) != n_all or len(predictions) != n_all:
        raise ValueError(
            f"{n_all} sample ids, {len(labels)} labels and {len(predictions)} predictions"
        )
    for name, s in sets:
        if s is not None and len(s) != n_all:
            raise ValueError(f"{name} label sets cover {len(s)} samples, the run has {n_all}")
    if predictions.size and (predictions.min() < 0 or predictions.max() >= NUM_CLASSES):
        raise ValueError(f"predictions must be ImageNet-1k class indices 0..{NUM_CLASSES - 1}")
    if labels.size and labels.max() >= NUM_CLASSES:
        raise ValueError(f"labels must be ImageNet-1k class indices 0..{NUM_CLASSES - 1} or -1")


def classify_mistakes(
    sample_ids: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    *,
    label_sets: Mapping[str, LabelSets] | None = None,
    expert: LabelSets | None = None,
    evidence: Evidence | None = None,
    confidence: np.ndarray | None = None,
    oov_verdicts: Mapping[str, OOVVerdict] | None = None,
    rules: TaxonomyRules | None = None,
    severity_model: SeverityModel | None = None,
) -> Mistakes:
    """Classify every top-1 mistake as the module docstring describes, and score its severity.

    Parameters
    ----------
    sample_ids : (N,) array of str
        Sample ids of the run (val file names for ImageNet val).
    labels : (N,) int array
        Single labels; -1 marks a sample without one (never a mistake).
    predictions : (N,) int array
        Top-1 predicted classes.
    label_sets : dict of name -> LabelSets, optional
        Human multi-label sets aligned to ``sample_ids`` (e.g. ``{"real": ...}``), in the order
        their evidence is named.
    expert : LabelSets, optional
        The experts' accepted classes aligned to ``sample_ids``
        (``ExpertLabels.accepted().align(sample_ids)``); where it annotates a sample it alone
        decides rule 1 and the valid labels.
    evidence : Evidence, optional
        Hierarchy, co-occurrence, confusability, rater scores, label errors, ImageNet-X; the
        shipped data by default.
    confidence : (N,) float array, optional
        Top-1 probability of each sample, copied to the ``confidence`` column.
    oov_verdicts : dict of sample id -> OOVVerdict, optional
        CLIP's out-of-vocabulary verdicts (:mod:`reassess.inference.oov_clip`); a verdict made for
        another prediction than the sample's is ignored.
    rules : TaxonomyRules, optional
        Thresholds (the shipped defaults otherwise).
    severity_model : SeverityModel, optional
        The severity score (the shipped model for the evidence at hand otherwise).

    Returns
    -------
    Mistakes
        Columns: ``row`` (index into the run), ``sample_id``, ``label``, ``prediction`` (+
        ``_name``), ``category``, ``kind``, ``severity`` (``none`` for rows rules 1-2 forgive),
        ``severity_if_mistake`` (the score's label for every row), ``major_probability``, ``evidence``
        (the sentence that decided it), ``evidence_source``, ``reference_label`` (+ ``_name``:
        the valid label the decision refers to), ``wordnet_distance`` (label to prediction),
        ``nearest_distance`` (nearest valid label to prediction), ``lca_wnid``/``lca_name``,
        ``label_fine``/``prediction_fine``/``label_coarse``/``prediction_coarse`` superclass
        names (+ ``_wnid``), ``in_<set>`` per label set, ``in_expert``, ``expert_decides``,
        ``equivalent``, ``cleanlab_category``, ``oov`` (yes/no/undecidable where rule 4 was
        asked), ``oov_source``, ``oov_best``, ``cooccurrences``, ``confusability``,
        ``rater_score``, ``valid_labels``, ``confidence``, ``atypical``, ``x_annotated``,
        ``imagenet_x_factors`` (names), ``x_<factor>``, ``x_top_factor``, ``x_prototype``.

    Examples
    --------
    A Norfolk terrier (185) taken for a Norwich terrier (186), and a tench (0) taken for a reel
    (758), which ReaL lists together with tench on other images:

    >>> m = classify_mistakes(np.array(["a", "b"], dtype=object), np.array([185, 0]),
    ...                       np.array([186, 758]))
    >>> m.category.tolist()
    ['fine_grained', 'spurious_correlation']
    """
    ev = evidence if evidence is not None else default_evidence()
    rules = rules or TaxonomyRules()
    label_sets = dict(label_sets or {})
    sample_ids = np.asarray(sample_ids, dtype=object)
    labels = np.asarray(labels).astype(np.int64)
    predictions = np.asarray(predictions).astype(np.int64)
    _check_inputs(sample_ids, labels, predictions, [*label_sets.items(), ("expert", expert)])

    idx = np.flatnonzero((labels >= 0) & (predictions != labels))
    m = len(idx)
    ids, lab, pred = sample_ids[idx], labels[idx], predictions[idx]
    h = ev.hierarchy
    dist = h.distance_matrix()
    fine_ids, fine_groups = h.superclass_array("fine")
    coarse_ids, coarse_groups = h.superclass_array("coarse")
    names = np.asarray(imagenet_classes().names, dtype=object)

    # --- who decides: the experts where they annotate the image --------------------------------
    expert_decides = expert.annotated[idx] if expert is not None else np.zeros(m, dtype=bool)
    le_cat, le_guessed, le_row = _label_error_lookup(ev.label_errors, ids, lab)
    correctable = (le_cat == "correctable") & ~expert_decides
    forgiving = np.isin(le_cat, FORGIVING_LABEL_ERRORS) & ~expert_decides

    # --- valid labels as (row position, class, source priority) pairs ---------------------------
    source_names = [*label_sets, *(["expert"] if expert is not None else [])]
    source_sets = [*label_sets.values(), *([expert] if expert is not None else [])]
    in_source: dict[str, np.ndarray] = {}  # the set holds the prediction
    forgiven_by: dict[str, np.ndarray] = {}  # ... and the set decides rule 1 for the image
    own = np.flatnonzero(~expert_decides & ~correctable)
    crowd = np.flatnonzero(forgiving)
    pos_parts = [own, crowd]
    cls_parts = [lab[own], le_guessed[crowd]]
    pri_parts = [np.zeros(len(own), np.int64), np.zeros(len(crowd), np.int64)]
    for s, (name, sets) in enumerate(zip(source_names, source_sets, strict=True), start=1):
        p, c = _gather(sets, idx)
        in_source[name] = _any_per_row(p, m, c == pred[p])
        decides_row = expert_decides if name == "expert" else ~expert_decides
        forgiven_by[name] = in_source[name] & decides_row
        decides = decides_row[p]
        pos_parts.append(p[decides])
        cls_parts.append(c[decides])
        pri_parts.append(np.full(int(decides.sum()), s, np.int64))
    pos = np.concatenate(pos_parts)
    cls = np.concatenate(cls_parts)
    pri = np.concatenate(pri_parts)
    order = np.lexsort((pri, pos))
    pos, cls, pri = pos[order], cls[order], pri[order]
    _, first = np.unique(pos * NUM_CLASSES + cls, return_index=True)
    keep = np.sort(first)
    pos, cls, pri = pos[keep], cls[keep], pri[keep]
    p_of = pred[pos]

    # --- rule 1: not a mistake ------------------------------------------------------------------
    canon = canonical_class(np.arange(NUM_CLASSES))
    equivalent = _any_per_row(pos, m, (canon[cls] == canon[p_of]) & (cls != p_of))
    rule1 = np.logical_or.reduce([equivalent, *forgiven_by.values()])

    # --- rule 2: known label error ------------------------------------------------------------
    rule2 = forgiving & (pred == le_guessed)

    # --- the kind: valid labels other than the prediction ---------------------------------------
    other = cls != p_of
    k_pos, k_cls, k_pri = pos[other], cls[other], pri[other]
    k_pred = pred[k_pos]
    d_pair = dist[k_cls, k_pred]
    same_fine = fine_ids[k_cls] == fine_ids[k_pred]
    by_distance = d_pair <= rules.fine_grained_max_distance
    taxon = _taxon_of_class(h)
    same_taxon = (taxon[k_cls] >= 0) & (taxon[k_cls] == taxon[k_pred])
    if ev.confusability is not None:
        confusions = ev.confusability.pairs(ids[k_pos], k_cls, k_pred)
    else:
        confusions = np.zeros(len(k_pos), dtype=np.int64)
    # rule 5 evidence: co-occurrence in other images' human multi-labels, across coarse superclasses
    co_pair = ev.cooccurrence[k_cls, k_pred].astype(np.int64)
    if ev.cooccurrence_sets is not None and m:
        own_sets = ev.cooccurrence_sets.align(ids.tolist())
        own_pos, own_cls = _gather(own_sets, np.arange(m))
        own_keys = own_pos * NUM_CLASSES + own_cls
        own_has_pred = np.isin(np.arange(m) * NUM_CLASSES + pred, own_keys)
        own_has_ref = np.isin(k_pos * NUM_CLASSES + k_cls, own_keys)
        co_pair = co_pair - (own_has_ref & own_has_pred[k_pos])
    cross = coarse_ids[k_cls] != coarse_ids[k_pred]
    co_occurring = (co_pair >= rules.spurious_min_cooccurrences) & cross
    by_confusion = confusions >= rules.confusable_min
    by_wordnet = same_fine | by_distance | same_taxon
    best_close = _pick(k_pos, m, by_wordnet | by_confusion, ~by_wordnet, d_pair, k_pri)
    close = best_close >= 0
    nearest = _pick(k_pos, m, np.ones(len(k_pos), bool), d_pair, k_pri)
    has_valid = nearest >= 0
    nearest_d = _take(d_pair, nearest, dist[lab, pred])
    max_confusion = _max_per_row(k_pos, m, confusions)

    # rule 4: out of vocabulary
    oov = np.full(m, "undecidable", dtype=object)
    oov_source = np.full(m, "", dtype=object)
    oov_best = np.full(m, None, dtype=object)
    experts_empty = expert_decides & ~has_valid
    if expert is not None:
        experts_empty &= expert.counts[idx] == 0
    oov[experts_empty] = "yes"
    oov_source[experts_empty] = "expert"
    clip_probability = np.full(m, np.nan)
    for j, sid in enumerate(ids.tolist() if oov_verdicts else []):
        verdict = oov_verdicts.get(sid)
        if verdict is None or verdict.prediction != pred[j] or experts_empty[j]:
            continue
        oov[j] = "yes" if verdict.oov else "no"
        oov_source[j] = "clip"
        oov_best[j] = verdict.best_lemma
        clip_probability[j] = verdict.probability
    is_oov = ~close & (oov == "yes")

    best_co = _pick(k_pos, m, co_occurring, -co_pair, k_pri)
    spurious = best_co >= 0

    kind_index = np.select([close, is_oov, spurious], [0, 1, 2], default=3)
    kind = np.asarray(KINDS, dtype=object)[kind_index]
    category = kind.copy()
    category[rule2] = "known_label_error"
    category[rule1] = "not_a_mistake"

    # --- severity -------------------------------------------------------------------------------
    rater_score = (
        ev.rater_scores.lookup(ids, pred) if ev.rater_scores is not None else np.full(m, np.nan)
    )
    scored = ev.rater_scores is not None and bool(m) and bool(np.isfinite(rater_score).any())
    model = severity_model or default_severity_model(rater_scores=scored)
    major_probability = model.probability(severity_features(nearest_d, rater_score, max_confusion))
    severity_if_mistake = model.label(major_probability)
    severity = severity_if_mistake.copy()
    severity[np.isin(category, VERDICTS)] = NO_SEVERITY

    # --- ImageNet-X flags -----------------------------------------------------------------------
    factor_cols = np.zeros((m, len(FACTORS)), dtype=bool)
    top_factor = np.full(m, -1, dtype=np.int64)
    prototype = np.zeros(m, dtype=bool)
    x_rows = np.full(m, -1, dtype=np.int64)
    if ev.imagenet_x is not None and m:
        x_rows = ev.imagenet_x.rows_for(ids, lab)
        covered = x_rows >= 0
        factor_cols[covered] = ev.imagenet_x.factors[x_rows[covered]]
        top_factor[covered] = ev.imagenet_x.top_factor[x_rows[covered]]
        prototype[covered] = ev.imagenet_x.prototype[x_rows[covered]]
    x_covered = x_rows >= 0
    atypical_idx = [FACTORS.index(f) for f in ATYPICAL_FACTORS]
    atypical = x_covered & ~prototype & factor_cols[:, atypical_idx].any(axis=1)

    # --- reference label and evidence text ------------------------------------------------------
    nearest_label = _take(k_cls, nearest, lab)
    reference = _take(
        k_cls, np.where(close, best_close, np.where(spurious, best_co, -1)), nearest_label
    )
    reference = np.where(rule2, le_guessed, reference)
    reference = np.where(rule1, pred, reference).astype(np.int64)

    def kind_sentence(j: int) -> tuple[str, str]:
        """The sentence (and its source) that says why mistake ``j`` is of its kind."""
        p, which = int(pred[j]), int(kind_index[j])
        near = int(nearest_label[j]) if has_valid[j] else -1
        if which == 0:
            k = best_close[j]
            r = int(k_cls[k])
            if same_fine[k]:
                return (
                    f"'{names[p]}' ~ '{names[r]}': same fine superclass '{fine_groups[fine_ids[r]][1]}'",
                    "wordnet",
                )
            if by_distance[k]:
                return f"'{names[p]}' ~ '{names[r]}': WordNet distance {int(d_pair[k])}", "wordnet"
            if same_taxon[k]:
                taxon = coarse_groups[coarse_ids[r]][1]
                return (
                    f"'{names[p]}' ~ '{names[r]}': same taxon '{taxon}', WordNet distance "
                    f"{int(d_pair[k])}",
                    "wordnet",
                )
            source = ev.confusability.source if ev.confusability is not None else "another model"
            return (
                f"'{names[p]}' ~ '{names[r]}': confused on {int(confusions[k])} other val images by the "
                f"{source}; WordNet distance {int(d_pair[k])}",
                "confusability",
            )
        if which == 1:
            if oov_source[j] == "expert":
                return "the experts accepted no ImageNet class for this image", "expert"
            return (
                f"CLIP sees '{oov_best[j]}', not an ImageNet class, among the WordNet relatives of "
                f"'{names[p]}'",
                "clip",
            )
        if which == 2:
            k = best_co[j]
            r = int(k_cls[k])
            images = int(co_pair[k])
            share = images / max(int(ev.cooccurrence[r, r]), 1)
            return (
                f"'{names[p]}' and '{names[r]}' share the {ev.cooccurrence_source} labels of {images} "
                f"other images ({share:.0%} of '{names[r]}' images); superclasses "
                f"'{coarse_groups[coarse_ids[p]][1]}' / '{coarse_groups[coarse_ids[r]][1]}'",
                "real_cooccurrence",
            )
        oov_note = {
            "no": "CLIP sees an ImageNet class",
            "undecidable": "out-of-vocabulary undecidable without images (analyze --images --oov-clip)",
        }.get(str(oov[j]), "")
        if near >= 0:
            where = f"nearest valid label '{names[near]}' at WordNet distance {nearest_d[j]}"
        else:
            where = (
                f"no valid label besides the prediction ({nearest_d[j]} from the original label)"
            )
        parts = [where, "not confusable, no co-occurrence", oov_note]
        return "; ".join(part for part in parts if part), "none"

    evidence_text = np.empty(m, dtype=object)
    evidence_source = np.empty(m, dtype=object)
    votes = ev.label_errors.votes if ev.label_errors is not None else None
    for j in range(m):
        p = int(pred[j])
        if rule1[j]:
            src = next((s for s in source_names if forgiven_by[s][j]), "equivalence")
            evidence_source[j] = src
            if src == "equivalence":
                verdict_text = f"'{names[p]}' names the same object as a valid label"
            else:
                verdict_text = f"the {SOURCE_TITLES.get(src, src)} set holds '{names[p]}'"
        elif rule2[j]:
            evidence_source[j] = "cleanlab"
            g, y = int(le_guessed[j]), int(lab[j])
            v = votes[le_row[j]].tolist()
            outcome = "chose the prediction" if le_cat[j] == "correctable" else "accepts both"
            verdict_text = (
                f"cleanlab crowd ({le_cat[j]}): '{names[y]}' {v[0]}/5, '{names[g]}' {v[1]}/5, "
                f"both {v[2]}/5, neither {v[3]}/5; the crowd {outcome}"
            )
        else:
            verdict_text = ""
        kind_text, kind_source = kind_sentence(j)
        if verdict_text:
            evidence_text[j] = f"{verdict_text} (if it were a mistake: {kind_text})"
        else:
            evidence_source[j] = kind_source
            evidence_text[j] = kind_text

    lca = h.lowest_common_ancestor(lab, pred) if m else np.zeros(0, dtype=object)
    lca = np.asarray(lca, dtype=object).reshape(-1)
    node_names = {w: h.name_of(w) for w in set(lca.tolist())}

    def group_cols(prefix: str, ids_: np.ndarray, groups: list, classes_: np.ndarray) -> dict:
        g = ids_[classes_]
        return {
            f"{prefix}_wnid": np.array([groups[i][0] for i in g], dtype=object),
            prefix: np.array([groups[i][1] for i in g], dtype=object),
        }

    columns: dict[str, np.ndarray] = {
        "row": idx.astype(np.int64),
        "sample_id": ids,
        "label": lab,
        "label_name": names[lab],
        "prediction": pred,
        "prediction_name": names[pred],
        "category": category,
        "kind": kind,
        "severity": severity,
        "severity_if_mistake": severity_if_mistake,
        "major_probability": major_probability.astype(np.float64),
        "evidence": evidence_text,
        "evidence_source": evidence_source,
        "reference_label": reference,
        "reference_name": names[reference],
        "wordnet_distance": dist[lab, pred].astype(np.int64),
        "nearest_distance": np.asarray(nearest_d, dtype=np.int64),
        "lca_wnid": lca,
        "lca_name": np.array([node_names[w] for w in lca], dtype=object),
        **group_cols("label_fine", fine_ids, fine_groups, lab),
        **group_cols("prediction_fine", fine_ids, fine_groups, pred),
        **group_cols("label_coarse", coarse_ids, coarse_groups, lab),
        **group_cols("prediction_coarse", coarse_ids, coarse_groups, pred),
    }
    null: dict[str, np.ndarray] = {}
    for name in label_sets:
        columns[f"in_{name}"] = in_source[name]
        null[f"in_{name}"] = ~label_sets[name].annotated[idx]
    if expert is not None:
        columns["in_expert"] = in_source["expert"]
        null["in_expert"] = ~expert_decides
    columns["expert_decides"] = expert_decides
    columns["equivalent"] = equivalent
    columns["cleanlab_category"] = np.where(le_cat == "", None, le_cat).astype(object)
    null["cleanlab_category"] = le_cat == ""
    oov_null = kind_index == 0
    columns["oov"] = np.where(oov_null, None, oov).astype(object)
    null["oov"] = oov_null
    columns["oov_source"] = np.where(oov_source == "", None, oov_source).astype(object)
    null["oov_source"] = oov_source == ""
    columns["oov_best"] = oov_best
    null["oov_best"] = np.array([b is None for b in oov_best.tolist()], dtype=bool)
    columns["oov_clip_probability"] = clip_probability
    null["oov_clip_probability"] = ~np.isfinite(clip_probability)
    columns["cooccurrences"] = _max_per_row(k_pos, m, np.where(cross, co_pair, 0))
    columns["confusability"] = max_confusion
    columns["rater_score"] = rater_score.astype(np.float64)
    null["rater_score"] = ~np.isfinite(rater_score)
    starts = np.searchsorted(pos, np.arange(m + 1))
    columns["valid_labels"] = _object_array(
        [cls[starts[j] : starts[j + 1]].tolist() for j in range(m)]
    )
    columns["confidence"] = (
        np.asarray(confidence, dtype=np.float32)[idx]
        if confidence is not None
        else np.zeros(m, dtype=np.float32)
    )
    null["confidence"] = np.full(m, confidence is None)
    columns["atypical"] = atypical
    null["atypical"] = ~x_covered
    columns["x_annotated"] = x_covered
    columns["imagenet_x_factors"] = _object_array(
        [[f for f, on in zip(FACTORS, row, strict=True) if on] for row in factor_cols.tolist()]
    )
    null["imagenet_x_factors"] = ~x_covered
    for i, f in enumerate(FACTORS):
        columns[f"x_{f}"] = factor_cols[:, i]
        null[f"x_{f}"] = ~x_covered
    columns["x_top_factor"] = np.array(
        [FACTORS[t] if t >= 0 else None for t in top_factor.tolist()], dtype=object
    )
    null["x_top_factor"] = top_factor < 0
    columns["x_prototype"] = prototype
    null["x_prototype"] = ~x_covered
    return Mistakes(
        columns=columns,
        null=null,
        label_set_names=tuple(label_sets),
        has_expert=expert is not None,
        rules=rules,
        severity_model=model.to_dict(),
    )
