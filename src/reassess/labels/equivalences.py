"""ImageNet-1k class pairs that name the same object twice, and accepting either of a pair.

Sources:

- Beyer et al. 2020, "Are we done with ImageNet?", Section 2 ("arbitrary class distinctions"):
  the original labels distinguish "sunglasses" from "sunglass", "laptop" from "notebook" and
  "projectile, missile" from "missile", pairs that are semantically and visually the same.
- "monitor" / "screen, CRT screen", "tub, vat" / "bathtub" and the two "maillot" classes
  ("maillot" / "maillot, tank suit") are duplicate pairs discussed in the later literature on
  ImageNet's class overlap (Vasudevan et al. 2022, "When does dough become a bagel?"; Kisel et
  al. 2025, "Flaws of ImageNet, Computer Vision's Favorite Dataset", ICLR blog track).

Support in the shipped data: in the ReaL labels, 79-91% of the images whose label set holds the
rarer class of each pair also hold the other (the test suite checks this), while e.g. the two
"crane" classes (bird n02012849, machine n03126707), which share a name but not a meaning, never
co-occur and are *not* listed. Pairs are stored as WordNet ids; indices are derived from them.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from reassess.labels.imagenet import NUM_CLASSES, imagenet_classes
from reassess.labels.label_sets import LabelSets

# (wnid_a, wnid_b, source) -- the same object under two class names.
EQUIVALENT_WNIDS: tuple[tuple[str, str, str], ...] = (
    ("n04355933", "n04356056", "Beyer et al. 2020"),  # sunglass / sunglasses, dark glasses
    ("n03642806", "n03832673", "Beyer et al. 2020"),  # laptop / notebook computer
    ("n03773504", "n04008634", "Beyer et al. 2020"),  # missile / projectile, missile
    ("n03782006", "n04152593", "Vasudevan et al. 2022; Kisel et al. 2025"),  # monitor / screen
    ("n02808440", "n04493381", "Vasudevan et al. 2022; Kisel et al. 2025"),  # bathtub / tub, vat
    ("n03710637", "n03710721", "Vasudevan et al. 2022; Kisel et al. 2025"),  # maillot / tank suit
)


@lru_cache(maxsize=1)
def class_equivalences() -> list[tuple[int, int]]:
    """Equivalent class pairs as ``(a, b)`` ImageNet-1k indices with ``a < b``."""
    classes = imagenet_classes()
    pairs = []
    for wnid_a, wnid_b, _ in EQUIVALENT_WNIDS:
        a, b = classes.index_of(wnid_a), classes.index_of(wnid_b)
        pairs.append((min(a, b), max(a, b)))
    return pairs


def equivalent_classes(num_classes: int = NUM_CLASSES) -> list[list[int]]:
    """For each class index, the classes equivalent to it (itself included)."""
    out = [[c] for c in range(num_classes)]
    for a, b in class_equivalences():
        if a < num_classes and b < num_classes:
            out[a].append(b)
            out[b].append(a)
    return [sorted(set(group)) for group in out]


def canonical_class(classes: np.ndarray) -> np.ndarray:
    """Map every class to the smallest index of its equivalence group (for comparing classes)."""
    lookup = np.arange(max(1000, int(np.max(classes, initial=0)) + 1))
    for a, b in class_equivalences():
        lookup[b] = a
    classes = np.asarray(classes)
    return np.where(classes >= 0, lookup[np.clip(classes, 0, None)], classes)


def expand_equivalents(sets: LabelSets) -> LabelSets:
    """The same label sets with every class's equivalents added, so either name of a pair counts.

    Empty sets stay empty (still excluded) and ``annotated`` is kept.

    Examples
    --------
    >>> sets = LabelSets.from_lists("x", ["a"], [[836]])  # sunglass
    >>> expand_equivalents(sets).labels_of(0)
    [836, 837]
    """
    groups = equivalent_classes()
    expanded = [sorted({e for c in row for e in groups[c]}) for row in sets.to_lists()]
    out = LabelSets.from_lists(sets.name, sets.sample_ids.tolist(), expanded)
    return LabelSets(
        name=out.name,
        sample_ids=out.sample_ids,
        indptr=out.indptr,
        indices=out.indices,
        annotated=sets.annotated.copy(),
    )


def single_label_sets(name: str, sample_ids: np.ndarray, labels: np.ndarray) -> LabelSets:
    """One-element label sets from single labels (``-1``: empty, excluded)."""
    return LabelSets.from_lists(
        name, list(sample_ids), [[int(x)] if x >= 0 else [] for x in np.asarray(labels).tolist()]
    )
