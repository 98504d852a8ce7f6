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


def test_mcnemar_p_below_double_precision_is_reported_as_its_log10():
    """b = 20,000 vs c = 5,000 discordant images: p ~ 10^-2094, far below the smallest double."""
    import math

    from reassess.metrics.compare import binomial_two_sided_log10_p, p_value_text

    a = np.r_[np.ones(20_000), np.zeros(5_000), np.ones(100)].astype(bool)
    b = np.r_[np.zeros(20_000), np.ones(5_000), np.ones(100)].astype(bool)
    result = mcnemar_exact(a, b)
    assert (result.a_only, result.b_only) == (20_000, 5_000)
    assert result.p_value == 0.0  # binomtest underflows
    # exact, with Python integers: p = 2 * sum_{i <= 5000} C(25000, i) / 2^25000
    term = tail = 1
    for i in range(5_000):  # C(n, i + 1) = C(n, i) (n - i) / (i + 1), exactly
        term = term * (25_000 - i) // (i + 1)
        tail += term
    assert term == math.comb(25_000, 5_000)
    exact = math.log10(2 * tail) - 25_000 * math.log10(2)
    assert result.log10_p == pytest.approx(exact, abs=1e-9)
    assert round(result.log10_p, 1) == -2094.5
    assert result.to_dict()["log10_p"] == result.log10_p
    assert p_value_text(result.p_value, result.log10_p) == "p = 10^-2094.5"
    # where p is representable the two agree, and the text is the usual one
    assert binomial_two_sided_log10_p(30, 70) == pytest.approx(np.log10(binomtest(30, 70).pvalue))
    assert binomial_two_sided_log10_p(35, 70) == 0.0
    assert p_value_text(binomtest(30, 70).pvalue) == "p = 0.28"  # 0.2838
    assert p_value_text(0.0) == "p < 1e-300"  # a result stored without log10_p
