"""Multi-label metrics against hand-computed cases and the numbers in the papers."""

import numpy as np
import pytest

from reassess.datasets.imagenet import imagenetv2_multilabel_sets, real_label_sets, val_labels
from reassess.labels import LabelSets
from reassess.metrics import set_accuracy
from reassess.metrics.multilabel import (
    imagenet_m_accuracy,
    mean_proportion,
    multilabel_share,
    multilabel_top1,
    variable_topk,
)
from reassess.metrics.stats import clopper_pearson


def test_multilabel_top1_averages_per_class_then_over_classes():
    # images a, b, c of original class 1; d of class 2; e is problematic (left out: not in set)
    accepted = LabelSets.from_lists("expert", list("abcd"), [[1, 7], [1], [1], [2]])
    aligned = accepted.align(list("abcde"))
    top1 = np.array([7, 3, 3, 2, 2])
    original = np.array([1, 1, 1, 2, 2])
    result = multilabel_top1(top1, aligned, original)
    assert result.per_image.value == pytest.approx(2 / 4) and result.per_image.n == 4
    assert result.per_class.value == pytest.approx((1 / 3 + 1) / 2)
    assert result.num_classes == 2
    lo, hi = result.per_class.ci95
    assert lo < result.per_class.value < hi


def test_an_annotated_image_without_accepted_classes_is_a_miss():
    # strict sets can be empty (only 'unclear' classes): the authors count such an image wrong
    accepted = LabelSets.from_lists("expert_strict", ["a", "b"], [[5], []])
    result = multilabel_top1(np.array([5, 9]), accepted, np.array([5, 9]))
    assert result.per_image.value == 0.5 and result.per_image.n == 2


def test_imagenet_m_counts_hits_of_the_listed_images():
    sets = LabelSets.from_lists("imagenet_m", ["m1", "m2", "m3"], [[1], [2, 3], [4]])
    aligned = sets.align(["x", "m1", "m2", "m3"])
    result = imagenet_m_accuracy(np.array([0, 1, 3, 9]), aligned)
    assert result.count == 2 and result.n == 3


def test_variable_topk_strict_soft_subgroups_and_asma():
    sets = LabelSets.from_lists(
        "m", list("abcde"), [[1], [2], [3, 4], [5, 6], [7, 8, 9, 10, 11, 12]]
    )
    topk = np.array(
        [
            [1, 0, 0],  # k=1: hit
            [0, 2, 0],  # k=1: label only at rank 2 -> miss
            [4, 3, 0],  # k=2: both found -> strict hit
            [5, 0, 6],  # k=2: one of two in the top 2 -> soft 1/2; 6 at rank 3 does not count
            [7, 8, 9],  # 6 labels > 3 stored predictions -> left out
        ]
    )
    result = variable_topk(topk, sets)
    assert result.strict.value == pytest.approx(2 / 4) and result.strict.n == 4
    assert result.soft.value == pytest.approx((1 + 0 + 1 + 0.5) / 4)
    assert [(g.labels, g.strict.value, g.soft.value) for g in result.subgroups] == [
        (1, 0.5, 0.5),
        (2, 0.5, 0.75),
    ]
    assert result.asma.value == pytest.approx(0.5)
    assert result.asma_soft.value == pytest.approx((0.5 + 0.75) / 2)
    assert result.excluded_too_many_labels == 1


def test_asma_weights_subgroups_equally():
    # 9 single-label images all right, 1 two-label image wrong: plain 90%, ASMA 50%
    sets = LabelSets.from_lists("m", [str(i) for i in range(10)], [[1]] * 9 + [[2, 3]])
    topk = np.array([[1, 0]] * 9 + [[2, 0]])
    result = variable_topk(topk, sets)
    assert result.strict.value == pytest.approx(0.9)
    assert result.asma.value == pytest.approx(0.5)


def test_mean_proportion_is_clopper_pearson_for_plain_hits_and_bounded_otherwise():
    hits = np.array([1, 0, 1, 1, 0, 1.0])
    p = mean_proportion(hits)
    assert p.value == pytest.approx(4 / 6) and p.ci95 == clopper_pearson(4, 6)
    soft = mean_proportion(np.array([0.5, 0.5, 0.5, 0.5]))
    assert soft.value == 0.5 and 0 < soft.ci95[0] < 0.5 < soft.ci95[1] < 1
    grouped = mean_proportion(np.array([1, 1, 1, 0.0]), np.array([0, 0, 0, 1]))
    assert grouped.value == pytest.approx(0.5) and grouped.ci95[0] < 0.5 < grouped.ci95[1]
    assert np.isnan(mean_proportion(np.array([])).value)


def test_original_labels_score_90_percent_on_real():
    # Beyer et al. 2020: the original ImageNet labels reach 90.0% ReaL accuracy
    result = set_accuracy(val_labels(), real_label_sets())
    assert round(100 * result.value, 1) == 90.0
    assert result.n == 46_837


def test_imagenetv2_multilabel_file_has_47_9_percent_multi_label_images():
    # Anzaku et al. 2024: 47.9% of the 10,000 ImageNetV2 MatchedFrequency images have 2+ labels
    share = multilabel_share(imagenetv2_multilabel_sets())
    assert share.n == 10_000 and round(100 * share.value, 1) == 47.9
