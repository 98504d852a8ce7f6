"""Paired comparison: McNemar's exact test and the paired bootstrap of metric differences."""

import numpy as np
import pytest
from scipy.stats import binomtest

from reassess.metrics.compare import (
    Outcome,
    bootstrap_weights,
    mcnemar_exact,
    paired_differences,
)


def test_mcnemar_by_hand():
    a = np.array([1, 1, 1, 1, 0, 0, 1, 0], dtype=bool)
    b = np.array([0, 0, 0, 1, 1, 0, 1, 0], dtype=bool)
    result = mcnemar_exact(a, b)
    assert (result.a_only, result.b_only) == (3, 1)
    assert result.p_value == pytest.approx(binomtest(3, 4, 0.5).pvalue)
    assert result.p_value == pytest.approx(0.625)  # 2 * (1 + 4) / 16
    assert mcnemar_exact(a, a).p_value == 1.0


def test_bootstrap_weights_are_resamples_of_n_in_bounded_chunks():
    chunks = list(bootstrap_weights(1000, resamples=250, seed=1, max_cells=100_000))
    assert [c.shape for c in chunks] == [(100, 1000), (100, 1000), (50, 1000)]
    assert all((c.sum(axis=1) == 1000).all() for c in chunks)
    again = np.concatenate(list(bootstrap_weights(1000, resamples=250, seed=1, max_cells=100_000)))
    assert (np.concatenate(chunks) == again).all()


def test_identical_runs_differ_by_exactly_zero():
    values = np.array([1, 0, 1, 1, 0.0])
    outcome = Outcome(np.arange(5), values)
    result = paired_differences({"top1": outcome}, {"top1": outcome}, 5, resamples=200)["top1"]
    assert result.difference == 0 and result.ci95 == (0.0, 0.0)
    assert result.mcnemar.p_value == 1.0


def test_a_real_difference_is_detected_and_its_interval_covers_it():
    rng = np.random.default_rng(0)
    n = 4000
    b = rng.uniform(size=n) < 0.70
    a = b | (rng.uniform(size=n) < 0.10)  # A fixes ~3% of the images, never breaks one
    result = paired_differences(
        {"top1": Outcome(np.arange(n), a.astype(float))},
        {"top1": Outcome(np.arange(n), b.astype(float))},
        n,
        resamples=1000,
    )["top1"]
    assert result.difference == pytest.approx(a.mean() - b.mean())
    lo, hi = result.ci95
    assert 0 < lo < result.difference < hi
    assert result.mcnemar.b_only == 0 and result.mcnemar.p_value < 1e-6


def test_subsets_and_class_averages_are_paired_on_common_images():
    # metric over rows 1..4, averaged over two groups; B misses row 4 entirely
    rows = np.array([1, 2, 3, 4])
    groups = np.array([0, 0, 1, 1])
    a = Outcome(rows, np.array([1, 1, 1, 0.0]), groups)
    b = Outcome(rows[:3], np.array([1, 0, 0.0]), groups[:3])
    result = paired_differences({"m": a}, {"m": b}, 6, resamples=300)["m"]
    assert result.n == 3
    # common rows 1, 2, 3: A = (1 + 1) / 2, B = (0.5 + 0) / 2
    assert result.a.value == pytest.approx(1.0) and result.b.value == pytest.approx(0.25)
    assert result.difference == pytest.approx(0.75)
    lo, hi = result.ci95
    assert lo <= 0.75 <= hi


def test_soft_scores_get_no_mcnemar():
    outcome_a = Outcome(np.arange(3), np.array([0.5, 1, 0]))
    outcome_b = Outcome(np.arange(3), np.array([0.5, 0, 0]))
    result = paired_differences({"s": outcome_a}, {"s": outcome_b}, 3, resamples=100)["s"]
    assert result.mcnemar is None
