"""Sort every top-1 mistake into one of seven kinds, keeping the evidence that decided it.

The taxonomy is that of Vasudevan et al. 2022, "When does dough become a bagel? Analyzing the
remaining mistakes on ImageNet" (NeurIPS), where experts sorted mistakes by hand; here every
rule is automatic and uses only published label data. A *mistake* is a sample with a known
single label whose top-1 prediction differs from it. Every mistake gets exactly one category:
the first of the rules below that applies (the order is the order of precedence).

*Reference labels* of an image: its original label (replaced by the crowd's label when cleanlab
validated the original as a correctable error; for a "multi-label" error both count), every class
of each human multi-label set of the run (ReaL for ImageNet val, the MatchedFrequency multi-labels
for ImageNetV2) and every class the experts accepted (correct or unclear, when
``--multilabel-file`` is given). Closeness and co-occurrence are measured against the nearest
reference label, so a prediction close to *any* valid label of the image counts.

1. ``not_a_mistake`` (minor): the prediction is in the image's human multi-label set (ReaL /
   ImageNetV2 multi-labels), in the experts' accepted set, or is the same object under another
   class name as a reference label (:mod:`reassess.labels.equivalences`). The model is right and
   the single label is incomplete. Evidence: the first source, in that order, holding it.
2. ``known_label_error`` (minor): the original label is a crowd-validated error (cleanlab;
   fewer than 3 of 5 workers chose it, :mod:`reassess.labels.label_errors`) and the crowd does
   not contradict the prediction: the prediction is the label the crowd chose instead
   (correctable / multi-label), or no label was agreed on (neither / non-agreement). A correctable error whose crowd label is a third
   class falls through to the rules below, with the crowd's label as reference.
3. ``fine_grained`` (minor): the prediction is a close relative of a reference label in the
   WordNet hierarchy of the 1000 classes: same fine superclass (lowest ancestor grouping 2..60
   classes, e.g. terrier, snake), or tree distance <= :data:`FINE_GRAINED_MAX_DISTANCE` (siblings
   and cousins), or two organisms of the same taxon (same coarse superclass under organism, e.g.
   two dog breeds, two birds, two reptiles; not the leftover groups mammal and invertebrate),
   or a pair the ViT-3B of Vasudevan et al. confused at tree distance <=
   :data:`CONFUSED_PAIR_MAX_DISTANCE`. That list also holds the ViT-3B's spurious and
   non-prototypical confusions (tench/reel-like pairs), so it only widens the distance bound.
4. ``fine_grained_oov`` (minor): as 3, but the multi-labels say that no ImageNet class fits the
   object (a kind the 1000 classes lack, so the model names a close relative). Decided by the
   first multi-label source that annotates the image, experts first: its set is empty (ReaL's
   raters or the experts accepted no class). When no source annotates the image, the ``oov``
   column says ``undecidable`` and the mistake stays ``fine_grained``.
5. ``spurious_correlation`` (major): the prediction co-occurs with a reference label: the ReaL
   sets of at least :data:`SPURIOUS_MIN_COOCCURRENCES` *other* val image(s) hold both classes
   (a 1000x1000 count matrix built once; the image's own set is subtracted). The model named
   another object of the scene, not the labelled one; Vasudevan et al. rated 59 of their 84
   spurious-correlation mistakes major.
6. ``non_prototypical`` (minor when the prediction is within
   :data:`NON_PROTOTYPICAL_MINOR_MAX_DISTANCE` of a reference label, else major): ImageNet-X
   marks the image atypical, i.e. it differs from its class prototypes in at least one of
   :data:`NON_PROTOTYPICAL_FACTORS` (the object-appearance and imaging factors that ImageNet-X
   flags for under 10% of images; pose, background, pattern and color are flagged for 28-87%
   and so cannot single out atypical images; multiple_objects describes the scene). ImageNet-X's
   prototype images are never atypical.
7. ``major`` (major): none of the above: the prediction is far from every reference label in
   the hierarchy, does not co-occur with one, and the image is not marked atypical.

Severity is ``minor`` for 1-4, ``major`` for 5 and 7, and by distance for 6 (above). Sources that
do not cover an image (ImageNet-X, cleanlab: val only; expert labels: 20,000 val images) simply
give no evidence; the ``evidence`` text of a mistake says what decided it.

Calibration: the thresholds were checked against the 627 mistakes of a ViT-3B and a Greedy Soups
model that Vasudevan et al. sorted by hand (``metadata/*_mistakes.json`` in
google-research/imagenet-mistakes; not shipped). Rule 3's closeness holds for 329 of their 413
fine-grained mistakes but for 17 of 84 spurious ones; with one co-occurring image, rule 5 finds
more of their spurious mistakes and fewer false ones than with two. Of their 49 non-prototypical
mistakes, 34 lie within WordNet distance 6 (30 of them rated minor or borderline), 15 beyond it
(9 rated major). ImageNet-X factors and ReaL's empty sets agree only loosely with the experts'
non-prototypical and out-of-vocabulary calls, so categories 4 and 6 are the rules' best reading
of the published data, not a reproduction of the experts' judgement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from reassess.analysis.evidence import (
    FACTORS,
    ImageNetX,
    imagenet_x,
    real_cooccurrence,
    vit3b_confusions,
)
from reassess.labels.equivalences import canonical_class
from reassess.labels.hierarchy import ImageNetHierarchy, imagenet_hierarchy
from reassess.labels.imagenet import imagenet_classes
from reassess.labels.label_errors import LabelErrors, known_label_errors
from reassess.labels.label_sets import LabelSets

NUM_CLASSES = 1000

# --- thresholds (every number a rule uses) --------------------------------------------------------
#: Rule 3: WordNet tree distance that still counts as a close relative (2: siblings, 3-4: cousins).
FINE_GRAINED_MAX_DISTANCE = 4
#: Rule 3: classes under this WordNet node (organism) that share a coarse superclass (dog, bird,
#: reptile, insect, ...) are one taxon, so confusing them is fine-grained at any tree distance.
TAXON_ROOT_WNID = "n00004475"
#: Rule 3: coarse superclasses under organism that only collect leftovers (mammal, invertebrate).
TAXON_CATCH_ALL_WNIDS: tuple[str, ...] = ("n01861778", "n01905661")
#: Rule 3: a pair the ViT-3B confused is fine-grained up to this tree distance.
CONFUSED_PAIR_MAX_DISTANCE = 6
#: Rule 3: how often the ViT-3B must have confused a pair for it to count.
CONFUSED_PAIR_MIN_COUNT = 1
#: Rule 5: other val images whose ReaL set holds both classes ("appears among other images'
#: multi-labels together with the label's class").
SPURIOUS_MIN_COOCCURRENCES = 1
#: Rule 6: ImageNet-X factors that cannot mark an image atypical: flagged for 28-87% of images
#: (pose, background, pattern, color), or a property of the scene, not the object (multiple_objects).
COMMON_OR_SCENE_FACTORS: tuple[str, ...] = (
    "pose",
    "background",
    "pattern",
    "color",
    "multiple_objects",
)
#: Rule 6: ImageNet-X factors that mark an image as atypical (each flagged for < 10% of images).
NON_PROTOTYPICAL_FACTORS: tuple[str, ...] = tuple(
    f for f in FACTORS if f not in COMMON_OR_SCENE_FACTORS
)
#: Rule 6: an atypical image's mistake is minor when the prediction is this close (tree distance).
NON_PROTOTYPICAL_MINOR_MAX_DISTANCE = 6
#: Rule 2: cleanlab categories where no label was agreed on, so no prediction is contradicted.
UNRESOLVED_LABEL_ERRORS = ("neither", "non-agreement")

THRESHOLDS = {
    "FINE_GRAINED_MAX_DISTANCE": FINE_GRAINED_MAX_DISTANCE,
    "TAXON_ROOT_WNID": TAXON_ROOT_WNID,
    "TAXON_CATCH_ALL_WNIDS": list(TAXON_CATCH_ALL_WNIDS),
    "CONFUSED_PAIR_MAX_DISTANCE": CONFUSED_PAIR_MAX_DISTANCE,
    "CONFUSED_PAIR_MIN_COUNT": CONFUSED_PAIR_MIN_COUNT,
    "SPURIOUS_MIN_COOCCURRENCES": SPURIOUS_MIN_COOCCURRENCES,
    "NON_PROTOTYPICAL_FACTORS": list(NON_PROTOTYPICAL_FACTORS),
    "NON_PROTOTYPICAL_MINOR_MAX_DISTANCE": NON_PROTOTYPICAL_MINOR_MAX_DISTANCE,
    "UNRESOLVED_LABEL_ERRORS": list(UNRESOLVED_LABEL_ERRORS),
}

#: How evidence texts and tables name the label sources.
SOURCE_TITLES = {
    "real": "ReaL",
    "multilabel": "ImageNetV2 multi-label",
    "valid_labels": "valid-label",
    "expert": "expert",
}

CATEGORIES: tuple[str, ...] = (
    "not_a_mistake",
    "known_label_error",
    "fine_grained",
    "fine_grained_oov",
    "spurious_correlation",
    "non_prototypical",
    "major",
)
CATEGORY_TITLES = {
    "not_a_mistake": "Not a mistake",
    "known_label_error": "Known label error",
    "fine_grained": "Fine-grained",
    "fine_grained_oov": "Fine-grained out-of-vocabulary",
    "spurious_correlation": "Spurious correlation",
    "non_prototypical": "Non-prototypical",
    "major": "Major",
}
#: The severity rule of each category, as written in analysis.json.
SEVERITY_RULES = {
    "not_a_mistake": "minor",
    "known_label_error": "minor",
    "fine_grained": "minor",
    "fine_grained_oov": "minor",
    "spurious_correlation": "major",
    "non_prototypical": (
        f"minor if the prediction is within WordNet distance "
        f"{NON_PROTOTYPICAL_MINOR_MAX_DISTANCE} of a reference label, else major"
    ),
    "major": "major",
}
RULES = {
    "not_a_mistake": "prediction in the human multi-label set, the experts' accepted set, or "
    "equivalent to a reference label",
    "known_label_error": "original label is a cleanlab crowd-validated error and the crowd does not "
    "contradict the prediction",
    "fine_grained": f"prediction and a reference label share the fine superclass, are within "
    f"WordNet distance {FINE_GRAINED_MAX_DISTANCE}, are organisms of one taxon (coarse "
    f"superclass), or were confused by the ViT-3B at distance "
    f"<= {CONFUSED_PAIR_MAX_DISTANCE}; out-of-vocabulary 'no' or 'undecidable'",
    "fine_grained_oov": "as fine_grained, and the first multi-label source annotating the image "
    "(experts, then ReaL) accepted no class",
    "spurious_correlation": f"prediction and a reference label share the ReaL sets of >= "
    f"{SPURIOUS_MIN_COOCCURRENCES} other val image(s)",
    "non_prototypical": "ImageNet-X flags one of "
    + ", ".join(NON_PROTOTYPICAL_FACTORS)
    + " (prototype images excluded)",
    "major": "none of the above",
}


@dataclass(frozen=True)
class Evidence:
    """The label data the rules consult (defaults: :func:`default_evidence`).

    ``cooccurrence[a, b]`` counts images whose multi-label set holds classes ``a`` and ``b``;
    ``cooccurrence_sets`` are those sets (keyed by sample id) so an image's own set can be
    subtracted. ``confusions[a, b]`` counts ViT-3B confusions. ``label_errors`` and
    ``imagenet_x`` may be None (rules 2 and 6 then never apply).
    """

    hierarchy: ImageNetHierarchy
    confusions: np.ndarray
    cooccurrence: np.ndarray
    cooccurrence_sets: LabelSets | None = None
    label_errors: LabelErrors | None = None
    imagenet_x: ImageNetX | None = None
    cooccurrence_source: str = "ReaL"


@lru_cache(maxsize=1)
def default_evidence() -> Evidence:
    """The shipped evidence: WordNet, ViT-3B confusions, ReaL co-occurrence, cleanlab, ImageNet-X."""
    from reassess.datasets.imagenet import real_label_sets

    return Evidence(
        hierarchy=imagenet_hierarchy(),
        confusions=vit3b_confusions(),
        cooccurrence=real_cooccurrence(),
        cooccurrence_sets=real_label_sets(),
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
    """Per row, the index of the pair that is ``ok`` and smallest by ``keys`` (first key first); -1 if none.

    Every row must own at least one pair.
    """
    order = np.lexsort((*reversed(keys), ~ok, pos))
    first = order[np.searchsorted(pos[order], np.arange(n))]
    return np.where(ok[first], first, -1)


def _any_per_row(pos: np.ndarray, n: int, flags: np.ndarray) -> np.ndarray:
    return np.bincount(pos[flags], minlength=n) > 0


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


def classify_mistakes(
    sample_ids: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    *,
    label_sets: Mapping[str, LabelSets] | None = None,
    expert: LabelSets | None = None,
    evidence: Evidence | None = None,
    confidence: np.ndarray | None = None,
) -> Mistakes:
    """Classify every top-1 mistake into the seven categories of the module docstring.

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
        (``ExpertLabels.accepted().align(sample_ids)``).
    evidence : Evidence, optional
        Hierarchy, co-occurrence, confusions, label errors, ImageNet-X; the shipped data by default.
    confidence : (N,) float array, optional
        Top-1 probability of each sample, copied to the ``confidence`` column.

    Returns
    -------
    Mistakes
        Columns: ``row`` (index into the run), ``sample_id``, ``label``, ``prediction`` (+
        ``_name``), ``category``, ``severity``, ``evidence`` (the sentence that decided it),
        ``evidence_source``, ``reference_label`` (+ ``_name``: the valid label the decision
        refers to), ``wordnet_distance`` (label to prediction), ``nearest_distance`` (nearest
        reference label to prediction), ``lca_wnid``/``lca_name`` (label and prediction),
        ``label_fine``/``prediction_fine``/``label_coarse``/``prediction_coarse`` superclass
        names (+ ``_wnid``), ``in_<set>`` per label set, ``in_expert``, ``equivalent``,
        ``cleanlab_category``, ``oov`` (yes/no/undecidable for fine-grained mistakes),
        ``cooccurrences``, ``vit3b_confusions``, ``valid_labels`` (the reference labels),
        ``confidence``, ``x_annotated``, ``imagenet_x_factors`` (names), ``x_<factor>``,
        ``x_top_factor``, ``x_prototype``.

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
    label_sets = dict(label_sets or {})
    sample_ids = np.asarray(sample_ids, dtype=object)
    labels = np.asarray(labels).astype(np.int64)
    predictions = np.asarray(predictions).astype(np.int64)
    n_all = len(sample_ids)
    if len(labels) != n_all or len(predictions) != n_all:
        raise ValueError(
            f"{n_all} sample ids, {len(labels)} labels and {len(predictions)} predictions"
        )
    for name, sets in [*label_sets.items(), ("expert", expert)]:
        if sets is not None and len(sets) != n_all:
            raise ValueError(f"{name} label sets cover {len(sets)} samples, the run has {n_all}")
    if predictions.size and (predictions.min() < 0 or predictions.max() >= NUM_CLASSES):
        raise ValueError(f"predictions must be ImageNet-1k class indices 0..{NUM_CLASSES - 1}")
    if labels.size and labels.max() >= NUM_CLASSES:
        raise ValueError(f"labels must be ImageNet-1k class indices 0..{NUM_CLASSES - 1} or -1")

    idx = np.flatnonzero((labels >= 0) & (predictions != labels))
    m = len(idx)
    ids, lab, pred = sample_ids[idx], labels[idx], predictions[idx]
    h = ev.hierarchy
    dist = h.distance_matrix()
    fine_ids, fine_groups = h.superclass_array("fine")
    coarse_ids, coarse_groups = h.superclass_array("coarse")

    # --- cleanlab label errors ------------------------------------------------------------------
    le_cat, le_guessed, le_row = _label_error_lookup(ev.label_errors, ids, lab)
    le_is_error = (le_cat != "") & (le_cat != "not an error")

    # --- reference label pairs (pos, class, priority) ------------------------------------------
    source_names = [*label_sets, *(["expert"] if expert is not None else [])]
    source_sets = [*label_sets.values(), *([expert] if expert is not None else [])]
    correctable = le_cat == "correctable"
    multi = le_cat == "multi-label"
    pos_parts = [np.flatnonzero(~correctable), np.flatnonzero(correctable | multi)]
    cls_parts = [lab[~correctable], le_guessed[correctable | multi]]
    pri_parts = [np.zeros(len(pos_parts[0]), np.int64), np.zeros(len(pos_parts[1]), np.int64)]
    in_source: dict[str, np.ndarray] = {}
    for s, sets in enumerate(source_sets, start=1):
        p, c = _gather(sets, idx)
        in_source[source_names[s - 1]] = _any_per_row(p, m, c == pred[p])
        pos_parts.append(p)
        cls_parts.append(c)
        pri_parts.append(np.full(len(p), s, np.int64))
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
    equiv_pair = (canon[cls] == canon[p_of]) & (cls != p_of)
    equivalent = _any_per_row(pos, m, equiv_pair) | ((canon[lab] == canon[pred]) & (lab != pred))
    rule1 = equivalent.copy()
    for name in source_names:
        rule1 |= in_source[name]

    # --- rule 2: known label error ------------------------------------------------------------
    unresolved = np.isin(le_cat, UNRESOLVED_LABEL_ERRORS)
    rule2 = le_is_error & (unresolved | (pred == le_guessed))

    # --- rules 3/4: close relatives -------------------------------------------------------------
    d_pair = dist[cls, p_of]
    same_fine = fine_ids[cls] == fine_ids[p_of]
    conf_pair = ev.confusions[cls, p_of]
    by_distance = d_pair <= FINE_GRAINED_MAX_DISTANCE
    taxon = _taxon_of_class(h)
    same_taxon = (taxon[cls] >= 0) & (taxon[cls] == taxon[p_of])
    by_confusion = (conf_pair >= CONFUSED_PAIR_MIN_COUNT) & (d_pair <= CONFUSED_PAIR_MAX_DISTANCE)
    close_pair = same_fine | by_distance | same_taxon | by_confusion
    best_close = _pick(pos, m, close_pair, d_pair, pri)
    close = best_close >= 0
    nearest = _pick(pos, m, np.ones(len(pos), bool), d_pair, pri)

    oov = np.full(m, "undecidable", dtype=object)
    oov_source = np.full(m, "", dtype=object)
    for name, sets in reversed(list(zip(source_names, source_sets, strict=True))):
        annotated = sets.annotated[idx]
        oov[annotated] = np.where(sets.counts[idx][annotated] == 0, "yes", "no")
        oov_source[annotated] = name
    # --- rule 5: spurious correlation ------------------------------------------------------------
    co_pair = ev.cooccurrence[cls, p_of].astype(np.int64)
    if ev.cooccurrence_sets is not None and m:
        own = ev.cooccurrence_sets.align(ids.tolist())
        own_pos, own_cls = _gather(own, np.arange(m))
        own_keys = own_pos * NUM_CLASSES + own_cls
        own_has_pred = np.isin(np.arange(m) * NUM_CLASSES + pred, own_keys)
        own_has_ref = np.isin(pos * NUM_CLASSES + cls, own_keys)
        co_pair = co_pair - (own_has_ref & own_has_pred[pos])
    best_co = _pick(pos, m, co_pair >= SPURIOUS_MIN_COOCCURRENCES, -co_pair, pri)
    spurious = best_co >= 0

    # --- rule 6: non-prototypical ---------------------------------------------------------------
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
    atypical_idx = [FACTORS.index(f) for f in NON_PROTOTYPICAL_FACTORS]
    atypical = x_covered & ~prototype & factor_cols[:, atypical_idx].any(axis=1)

    # --- precedence --------------------------------------------------------------------------------
    rules = [
        rule1,
        rule2,
        close & (oov != "yes"),
        close & (oov == "yes"),
        spurious,
        atypical,
        np.ones(m, dtype=bool),
    ]
    category_index = np.select(rules, np.arange(len(CATEGORIES)), default=len(CATEGORIES) - 1)
    category = np.asarray(CATEGORIES, dtype=object)[category_index]
    nearest_d = d_pair[nearest] if m else np.zeros(0, np.int64)
    severity = np.where(category_index <= 3, "minor", "major").astype(object)
    nonproto_minor = (category == "non_prototypical") & (
        nearest_d <= NON_PROTOTYPICAL_MINOR_MAX_DISTANCE
    )
    severity[nonproto_minor] = "minor"

    # --- reference label and evidence text ------------------------------------------------------
    classes = imagenet_classes()
    names = np.asarray(classes.names, dtype=object)
    reference = cls[nearest] if m else np.zeros(0, np.int64)
    reference = np.where(np.isin(category_index, [2, 3]), cls[np.maximum(best_close, 0)], reference)
    reference = np.where(category_index == 4, cls[np.maximum(best_co, 0)], reference)
    reference = np.where(category_index == 0, pred, reference)
    reference = np.where(
        category_index == 1, np.where(le_guessed >= 0, le_guessed, lab), reference
    ).astype(np.int64)

    evidence_text = np.empty(m, dtype=object)
    evidence_source = np.empty(m, dtype=object)
    titles = SOURCE_TITLES
    votes = ev.label_errors.votes if ev.label_errors is not None else None
    for j in range(m):
        c = int(category_index[j])
        p, y = int(pred[j]), int(lab[j])
        if c == 0:
            src = next((s for s in source_names if in_source[s][j]), "equivalence")
            evidence_source[j] = src
            if src == "equivalence":
                evidence_text[j] = f"'{names[p]}' names the same object as a valid label"
            else:
                evidence_text[j] = f"the {titles.get(src, src)} set holds '{names[p]}'"
        elif c == 1:
            evidence_source[j] = "cleanlab"
            g = int(le_guessed[j])
            v = votes[le_row[j]].tolist() if votes is not None else ["?"] * 4
            outcome = {
                "correctable": f"the crowd chose '{names[g]}', the prediction",
                "multi-label": f"the crowd accepts both, and '{names[g]}' is the prediction",
            }.get(le_cat[j], "no label was agreed on")
            evidence_text[j] = (
                f"cleanlab crowd ({le_cat[j]}): '{names[y]}' {v[0]}/5, '{names[g]}' {v[1]}/5, "
                f"both {v[2]}/5, neither {v[3]}/5; {outcome}"
            )
        elif c in (2, 3):
            k = best_close[j]
            r = int(cls[k])
            if same_fine[k]:
                how = f"same fine superclass '{fine_groups[fine_ids[r]][1]}'"
                evidence_source[j] = "wordnet"
            elif by_distance[k]:
                how = f"WordNet distance {int(d_pair[k])}"
                evidence_source[j] = "wordnet"
            elif same_taxon[k]:
                how = (
                    f"same taxon '{coarse_groups[coarse_ids[r]][1]}', "
                    f"WordNet distance {int(d_pair[k])}"
                )
                evidence_source[j] = "wordnet"
            else:
                how = f"confused {int(conf_pair[k])}x by ViT-3B, WordNet distance {int(d_pair[k])}"
                evidence_source[j] = "vit3b_confusions"
            if oov[j] == "undecidable":
                tail = "out-of-vocabulary undecidable: no multi-labels for this image"
            elif oov[j] == "yes":
                tail = f"the {titles.get(oov_source[j], oov_source[j])} set accepts no class"
            else:
                tail = f"the {titles.get(oov_source[j], oov_source[j])} set has a class for it"
            evidence_text[j] = f"'{names[p]}' ~ '{names[r]}': {how}; {tail}"
        elif c == 4:
            k = best_co[j]
            r = int(cls[k])
            evidence_source[j] = "real_cooccurrence"
            k_images = int(co_pair[k])
            share = k_images / max(int(ev.cooccurrence[r, r]), 1)
            evidence_text[j] = (
                f"'{names[p]}' and '{names[r]}' share the {ev.cooccurrence_source} labels of "
                f"{k_images} other image{'s' if k_images != 1 else ''} "
                f"({share:.0%} of '{names[r]}' images)"
            )
        elif c == 5:
            evidence_source[j] = "imagenet_x"
            flagged = [FACTORS[i] for i in atypical_idx if factor_cols[j, i]]
            evidence_text[j] = f"ImageNet-X: {', '.join(flagged)}; WordNet distance {nearest_d[j]}"
        else:
            evidence_source[j] = "none"
            r = int(reference[j])
            x_note = "not atypical" if x_covered[j] else "not annotated"
            evidence_text[j] = (
                f"nearest valid label '{names[r]}' at WordNet distance {nearest_d[j]}; "
                f"no co-occurrence; ImageNet-X {x_note}"
            )

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
        "severity": severity,
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
        null["in_expert"] = ~expert.annotated[idx]
    columns["equivalent"] = equivalent
    columns["cleanlab_category"] = np.where(le_cat == "", None, le_cat).astype(object)
    null["cleanlab_category"] = le_cat == ""
    oov_null = ~np.isin(category_index, [2, 3])
    columns["oov"] = np.where(oov_null, None, oov).astype(object)
    null["oov"] = oov_null
    columns["cooccurrences"] = (
        np.maximum.reduceat(co_pair, np.searchsorted(pos, np.arange(m))) if m else np.zeros(0, int)
    ).astype(np.int64)
    columns["vit3b_confusions"] = ev.confusions[lab, pred].astype(np.int64)
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
    )
