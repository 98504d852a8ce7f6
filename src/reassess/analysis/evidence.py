"""Evidence the mistake analysis consults: ImageNet-X factors, ViT-3B confusions, label co-occurrence.

Sources (shipped in ``reassess/labels/data``, built by ``scripts/build_analysis_data.py``):

- ``imagenet_x_val.parquet``: ImageNet-X (Idrissi et al. 2023, "ImageNet-X: Understanding Model
  Mistakes with Factor of Variation Annotations", ICLR), PyPI ``imagenet-x`` 0.0.7. Licensed
  **CC BY-NC 4.0: non-commercial use only** (``licenses/imagenet-x.LICENSE``). Annotators
  compared each of 48,868 val images with three prototypical images of its class and marked the
  factors in which it differs (16 factors, :data:`FACTORS`) plus the single main one (the *top*
  factor). The 2,758 val images that serve as prototypes are flagged and, as in ImageNet-X's own
  evaluation, left out of factor statistics.
- ``imagenet_mistakes_confusions.json.gz``: the 481 unordered class pairs a ViT-3B confused on
  the expert-labelled val images, with counts (Vasudevan et al. 2022, "When does dough become a
  bagel?", google-research/imagenet-mistakes, Apache-2.0).
- Co-occurrence: :func:`cooccurrence_matrix` counts, for every class pair, the images whose
  human multi-label set holds both; :func:`real_cooccurrence` does it once for the ReaL labels of
  the 50,000 val images (Beyer et al. 2020).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from reassess.labels.imagenet import imagenet_classes
from reassess.labels.label_sets import LabelSets
from reassess.labels.resources import data_file, load_json

NUM_CLASSES = 1000
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


def confusion_counts(pairs: list[list]) -> np.ndarray:
    """Symmetric (1000, 1000) matrix of how often each unordered ``[wnid_a, wnid_b, count]`` occurs."""
    classes = imagenet_classes()
    out = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    for wnid_a, wnid_b, count in pairs:
        a, b = classes.index_of(wnid_a), classes.index_of(wnid_b)
        out[a, b] += int(count)
        if a != b:
            out[b, a] += int(count)
    return out


@lru_cache(maxsize=1)
def vit3b_confusions() -> np.ndarray:
    """Class pairs the ViT-3B of "When does dough become a bagel?" confused (read-only matrix)."""
    out = confusion_counts(load_json("imagenet_mistakes_confusions.json.gz"))
    out.flags.writeable = False
    return out


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
