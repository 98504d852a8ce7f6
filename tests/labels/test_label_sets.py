import numpy as np
import pytest

from reassess.labels import LabelSets, imagenet_classes


def test_imagenet_classes_match_wordnet_ids():
    classes = imagenet_classes()
    assert len(classes) == 1000
    assert classes.wnids[0] == "n01440764" and classes.name(0) == "tench"
    assert classes.index_of("n02123045") == 281 and classes.name(281) == "tabby"
    assert list(classes.wnids) == sorted(classes.wnids)


def test_from_lists_counts_and_evaluable():
    sets = LabelSets.from_lists("x", ["a", "b", "c"], [[3, 1, 3], [], [7]])
    assert sets.counts.tolist() == [2, 0, 1]
    assert sets.labels_of(0) == [1, 3]
    assert sets.evaluable.tolist() == [True, False, True]


def test_align_reorders_and_marks_unknown_samples():
    sets = LabelSets.from_lists("x", ["a", "b", "c"], [[1, 2], [5], []])
    aligned = sets.align(["c", "z", "a", "b"])
    assert aligned.to_lists() == [[], [], [1, 2], [5]]
    assert aligned.annotated.tolist() == [True, False, True, True]
    assert aligned.evaluable.tolist() == [False, False, True, True]


def test_contains_is_the_hit_matrix():
    sets = LabelSets.from_lists("x", ["a", "b"], [[1, 2], [5]])
    hits = sets.contains(np.array([[2, 9, 1], [1, 5, 5]]))
    assert hits.tolist() == [[True, False, True], [False, True, True]]
    assert sets.contains(np.array([9, 5])).tolist() == [False, True]
    with pytest.raises(ValueError, match="2 label sets"):
        sets.contains(np.array([1, 2, 3]))


def test_align_of_an_empty_source_marks_nothing_annotated():
    aligned = LabelSets.from_lists("x", [], []).align(["a.jpg", "b.jpg"])
    assert aligned.to_lists() == [[], []]
    assert aligned.annotated.tolist() == [False, False]
