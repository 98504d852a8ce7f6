"""Equivalent class pairs: derived from wnids, supported by ReaL co-occurrence, and expansion."""

import numpy as np

from reassess.datasets.imagenet import real_label_sets
from reassess.labels import LabelSets, imagenet_classes
from reassess.labels.equivalences import (
    canonical_class,
    class_equivalences,
    equivalent_classes,
    expand_equivalents,
)


def test_pairs_are_the_duplicate_classes_named_in_the_literature():
    classes = imagenet_classes()
    named = {(classes.name(a), classes.name(b)) for a, b in class_equivalences()}
    assert named == {
        ("sunglass", "sunglasses"),
        ("laptop", "notebook"),
        ("missile", "projectile"),
        ("monitor", "screen"),
        ("bathtub", "tub"),
        ("maillot", "maillot"),
    }
    assert all(a < b for a, b in class_equivalences())
    crane_bird, crane_machine = classes.index_of("n02012849"), classes.index_of("n03126707")
    assert (crane_bird, crane_machine) not in class_equivalences()


def test_real_raters_put_both_classes_of_each_pair_on_the_same_images():
    real = real_label_sets()
    hits = [set(s) for s in real.to_lists()]
    for a, b in class_equivalences():
        with_a = sum(a in s for s in hits)
        with_b = sum(b in s for s in hits)
        both = sum(a in s and b in s for s in hits)
        assert both / min(with_a, with_b) > 0.75, (a, b)
    crane = imagenet_classes().index_of("n02012849"), imagenet_classes().index_of("n03126707")
    assert sum(crane[0] in s and crane[1] in s for s in hits) == 0


def test_expand_adds_equivalents_and_keeps_exclusions():
    sunglass, sunglasses, laptop, notebook = 836, 837, 620, 681
    sets = LabelSets.from_lists("x", ["a", "b", "c"], [[sunglass], [laptop, 1], []])
    aligned = sets.align(["a", "b", "c", "zz"])
    expanded = expand_equivalents(aligned)
    assert expanded.to_lists() == [[sunglass, sunglasses], [1, laptop, notebook], [], []]
    assert expanded.annotated.tolist() == [True, True, True, False]
    assert equivalent_classes()[notebook] == [laptop, notebook]
    assert canonical_class(np.array([sunglasses, 5, -1])).tolist() == [sunglass, 5, -1]
