"""Expected calibration error and the reliability table."""

import numpy as np
import pytest

from reassess.metrics.calibration import (
    MIN_CALIBRATION_IMAGES,
    calibrated_ece_floor,
    calibration,
    expected_calibration_error,
)


def test_ece_by_hand():
    # bin of 0.9: accuracy 1/2 vs confidence 0.9 (2 of 4); bin of 0.6: 1 vs 0.6; bin of 0.2: 0 vs 0.2
    confidence = np.array([0.9, 0.9, 0.6, 0.2])
    correct = np.array([1, 0, 1, 0])
    expected = (2 / 4) * 0.4 + (1 / 4) * 0.4 + (1 / 4) * 0.2
    assert expected_calibration_error(confidence, correct) == pytest.approx(expected)


def test_calibrated_model_has_small_ece_and_overconfident_one_the_gap():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.3, 1.0, size=200_000)
    calibrated = rng.uniform(size=confidence.size) < confidence
    result = calibration(confidence, calibrated, resamples=200)
    assert result.ece < 0.005
    assert result.ece_ci95[0] <= result.ece <= result.ece_ci95[1] + 1e-9
    overconfident = rng.uniform(size=confidence.size) < confidence - 0.1
    assert expected_calibration_error(confidence, overconfident) == pytest.approx(0.1, abs=0.005)


def test_reliability_bins_count_and_intervals():
    result = calibration(
        np.array([0.95, 0.95, 0.55, 0.45, 1.0]), np.array([1, 1, 0, 1, 1]), num_bins=2
    )
    assert [(b.lo, b.hi, b.count) for b in result.bins] == [(0.0, 0.5, 1), (0.5, 1.0, 4)]
    top = result.bins[1]
    assert top.accuracy.value == 0.75 and top.confidence == pytest.approx((0.95 * 2 + 0.55 + 1) / 4)
    assert result.n == 5 and result.accuracy == 0.8


def test_bootstrap_interval_is_seeded():
    rng = np.random.default_rng(1)
    confidence = rng.uniform(size=1000)
    correct = rng.uniform(size=1000) < 0.5
    a = calibration(confidence, correct, resamples=300, seed=3)
    b = calibration(confidence, correct, resamples=300, seed=3)
    assert a.ece_ci95 == b.ece_ci95


def test_probabilities_outside_0_1_are_refused():
    with pytest.raises(ValueError, match="probabilities"):
        calibration(np.array([1.5]), np.array([True]))


def test_the_noise_floor_of_ece_shrinks_with_the_number_of_images():
    rng = np.random.default_rng(1)
    few, _ = calibrated_ece_floor(rng.uniform(0.1, 1.0, 8))
    many, p95 = calibrated_ece_floor(rng.uniform(0.1, 1.0, MIN_CALIBRATION_IMAGES), resamples=100)
    assert few > 0.2 and many < 0.06 and many <= p95
    assert calibrated_ece_floor(np.ones(50)) == (0.0, 0.0)  # sure and always right: no gap
