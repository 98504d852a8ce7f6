"""Evidence the mistake analysis consults: ImageNet-X, another model's confusions, ReaL raters.

Sources (shipped in ``reassess/labels/data``, built by ``scripts/build_analysis_data.py``):

- ``imagenet_x_val.parquet``: ImageNet-X (Idrissi et al. 2023, "ImageNet-X: Understanding Model
  Mistakes with Factor of Variation Annotations", ICLR), PyPI ``imagenet-x`` 0.0.7. Licensed
  **CC BY-NC 4.0: non-commercial use only** (``licenses/imagenet-x.LICENSE``). Annotators
  compared each of 48,868 val images with three prototypical images of its class and marked the
  factors in which it differs (16 factors, :data:`FACTORS`) plus the single main one (the *top*
  factor). The 2,758 val images that serve as prototypes are flagged and, as in ImageNet-X's own
  evaluation, left out of factor statistics.
- ``resnet50_cleanlab_val_predictions.parquet``: a ResNet-50's cross-validated top-1 on all 50,000
  val images (Northcutt et al. 2021, cleanlab/label-errors, Apache-2.0). :class:`Confusability`
  counts, for every class pair, the val images of one class that this *other* model took for the
  other: how easily the two are confused visually, independent of the model being analysed. The
  image being analysed is always left out of its own count.
- ``real_scores.parquet``: the ReaL raters' Dawid & Skene score of every (val image, candidate
  class) pair they judged (Beyer et al. 2020, google-research/reassessed-imagenet, Apache-2.0);
  :class:`RaterScores`. A high score for a wrong prediction means the raters found the predicted
  object plausible in that very image.
- Co-occurrence: :func:`cooccurrence_matrix` counts, for every class pair, the images whose
  human multi-label set holds both; :func:`real_cooccurrence` does it once for the ReaL labels of
  the 50,000 val images (Beyer et al. 2020) and :func:`human_cooccurrence` for those together with
  the multi-labels of the 10,000 ImageNetV2 MatchedFrequency images ("Re-assessing ImageNet").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from reassess.labels.imagenet import NUM_CLASSES
from reassess.labels.label_sets import LabelSets
from reassess.labels.resources import data_file

# The 16 ImageNet-X factors, in ImageNet-X's own order (imagenet_x.utils.FACTORS).
FACTORS: tuple[str, ...] = (
    "pose",
    "background",
    "pattern",
    "color",
    "smaller",
    "shape",
    "partial_view",
    "subcategory",
    "texture",
    "larger",
    "darker",
    "object_blocking",
    "person_blocking",
    "style",
    "brighter",
    "multiple_objects",
)
IMAGENET_X_LICENSE = "CC BY-NC 4.0 (non-commercial use only)"


@dataclass(frozen=True)
class ImageNetX:
    """ImageNet-X val annotations: per image its label, factor bits, top factor and flags.

    ``factors[i, f]`` is the multi-factor annotation (every factor the annotator selected);
    ``top_factor[i]`` indexes :data:`FACTORS` (-1: none given).
    """

    file_names: np.ndarray
    labels: np.ndarray
    factors: np.ndarray
    top_factor: np.ndarray
    prototype: np.ndarray
    metaclass: np.ndarray

    def __len__(self) -> int:
        return len(self.file_names)

    def rows_for(self, sample_ids: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Annotation row of each sample, -1 where ImageNet-X does not cover it.

        A sample is covered when its id is an annotated val file name *and* its label is the class
        ImageNet-X annotated (a different label means the factors describe another question).
        """
        position = {f: i for i, f in enumerate(self.file_names.tolist())}
        rows = np.fromiter(
            (position.get(s, -1) for s in np.asarray(sample_ids, dtype=object).tolist()),
            dtype=np.int64,
            count=len(sample_ids),
        )
        found = rows >= 0
        same = np.zeros(len(rows), dtype=bool)
        same[found] = self.labels[rows[found]] == np.asarray(labels)[found]
        return np.where(same, rows, -1)


@lru_cache(maxsize=1)
def imagenet_x() -> ImageNetX:
    """The shipped ImageNet-X val annotations (CC BY-NC 4.0, non-commercial), loaded once."""
    import pyarrow.parquet as pq

    table = pq.read_table(data_file("imagenet_x_val.parquet"))
    top = table.column("top_factor").to_pylist()
    return ImageNetX(
        file_names=np.array(table.column("file_name").to_pylist(), dtype=object),
        labels=table.column("label").to_numpy().astype(np.int64),
        factors=np.stack([table.column(f).to_numpy(zero_copy_only=False) for f in FACTORS], 1),
        top_factor=np.array([FACTORS.index(t) if t else -1 for t in top], dtype=np.int8),
        prototype=table.column("prototype").to_numpy(zero_copy_only=False),
        metaclass=np.array(table.column("metaclass").to_pylist(), dtype=object),
    )


@dataclass(frozen=True)
class Confusability:
    """How often a reference model confuses two classes on ImageNet val, per image left out.

    ``counts[a, b]`` is the number of val images labelled ``a`` that the reference model predicts
    as ``b``; ``file_names``, ``labels`` and ``predictions`` are its per-image records, so that
    :meth:`pairs` can take the analysed image's own contribution out of the count.
    """

    counts: np.ndarray
    file_names: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    source: str

    def pairs(self, sample_ids: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Symmetric confusions ``counts[a, b] + counts[b, a]`` of each pair, its image left out.

        ``sample_ids[i]`` is the image the pair ``(a[i], b[i])`` comes from; where it is a val
        image, the reference model's own (label, prediction) on it is not counted.
        """
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        out = self.counts[a, b] + self.counts[b, a]
        if len(a) == 0:
            return out.astype(np.int64)
        position = {f: i for i, f in enumerate(self.file_names.tolist())}
        rows = np.fromiter(
            (position.get(s, -1) for s in np.asarray(sample_ids, dtype=object).tolist()),
            dtype=np.int64,
            count=len(a),
        )
        own_label = np.where(rows >= 0, self.labels[np.maximum(rows, 0)], -1)
        own_pred = np.where(rows >= 0, self.predictions[np.maximum(rows, 0)], -1)
        own = ((own_label == a) & (own_pred == b)).astype(np.int64)
        own += (own_label == b) & (own_pred == a)
        return (out - own).astype(np.int64)


@lru_cache(maxsize=1)
def resnet50_confusability() -> Confusability:
    """Confusions of the cleanlab ResNet-50 (cross-validated, all val images), computed once."""
    import pyarrow.parquet as pq

    from reassess.datasets.imagenet import val_file_names, val_labels

    table = pq.read_table(data_file("resnet50_cleanlab_val_predictions.parquet"))
    names = np.array(table.column("file_name").to_pylist(), dtype=object)
    predictions = table.column("prediction").to_numpy().astype(np.int64)
    label_of = dict(zip(val_file_names().tolist(), val_labels().tolist(), strict=True))
    labels = np.array([label_of[n] for n in names.tolist()], dtype=np.int64)
    counts = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    np.fill_diagonal(counts, 0)
    counts.flags.writeable = False
    return Confusability(
        counts=counts,
        file_names=names,
        labels=labels,
        predictions=predictions,
        source="cross-validated ResNet-50 of cleanlab/label-errors on ImageNet val",
    )


@dataclass(frozen=True)
class RaterScores:
    """ReaL's Dawid-Skene score of each judged (val image, class) pair, looked up by file name."""

    keys: np.ndarray  # image position * 1000 + class, sorted
    scores: np.ndarray

    def lookup(self, sample_ids: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Score of each (sample, class) pair; NaN where the raters never judged that pair.

        Only ImageNet val file names (``ILSVRC2012_val_XXXXXXXX.JPEG``) can have scores.
        """
        from reassess.datasets.imagenet import val_index

        image = val_index(np.asarray(sample_ids, dtype=object))
        key = image * NUM_CLASSES + np.asarray(classes, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
        found = (image >= 0) & (self.keys[at] == key)
        return np.where(found, self.scores[at], np.nan)


@lru_cache(maxsize=1)
def real_rater_scores() -> RaterScores:
    """The shipped ReaL rater scores (184,962 pairs), loaded once."""
    import pyarrow.parquet as pq

    table = pq.read_table(data_file("real_scores.parquet"))
    image = table.column("image").to_numpy().astype(np.int64)
    keys = image * NUM_CLASSES + table.column("label").to_numpy().astype(np.int64)
    return RaterScores(keys=keys, scores=table.column("score").to_numpy().astype(np.float64))


def cooccurrence_matrix(sets: LabelSets, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Number of samples whose label set holds both classes, for every class pair.

    Built in one pass over the CSR entries: every sample with ``k`` labels adds its ``k * k``
    ordered pairs to a bincount. The diagonal counts the samples holding each class.

    Examples
    --------
    >>> m = cooccurrence_matrix(LabelSets.from_lists("x", ["a", "b"], [[0, 2], [2]]), 3)
    >>> int(m[0, 2]), int(m[2, 0]), int(m[2, 2])
    (1, 1, 2)
    """
    counts = sets.counts
    rows = sets.row_ids
    per_entry = counts[rows]  # partners of each entry (itself included)
    first = np.repeat(sets.indices.astype(np.int64), per_entry)
    entry_start = sets.indptr[rows]
    offsets = np.arange(int(per_entry.sum())) - np.repeat(
        np.cumsum(per_entry) - per_entry, per_entry
    )
    second = sets.indices[np.repeat(entry_start, per_entry) + offsets].astype(np.int64)
    flat = np.bincount(first * num_classes + second, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


@lru_cache(maxsize=1)
def real_cooccurrence() -> np.ndarray:
    """ReaL co-occurrence counts over the 50,000 val images (read-only, computed once)."""
    from reassess.datasets.imagenet import real_label_sets

    out = cooccurrence_matrix(real_label_sets())
    out.flags.writeable = False
    return out


@lru_cache(maxsize=1)
def human_multilabel_sets() -> LabelSets:
    """ReaL's 50,000 val sets and ImageNetV2 MatchedFrequency's 10,000, keyed by sample id."""
    from reassess.datasets.imagenet import imagenetv2_multilabel_sets, real_label_sets

    real, v2 = real_label_sets(), imagenetv2_multilabel_sets()
    return LabelSets.from_lists(
        "human multi-labels",
        [*real.sample_ids.tolist(), *v2.sample_ids.tolist()],
        [*real.to_lists(), *v2.to_lists()],
    )


@lru_cache(maxsize=1)
def human_cooccurrence() -> np.ndarray:
    """Co-occurrence counts over :func:`human_multilabel_sets` (read-only, computed once)."""
    out = cooccurrence_matrix(human_multilabel_sets())
    out.flags.writeable = False
    return out
