"""Calibration of top-1 confidence: expected calibration error and a reliability table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reassess.metrics.stats import Proportion


@dataclass(frozen=True)
class ReliabilityBin:
    """Images whose top-1 confidence falls in ``[lo, hi)`` (the last bin includes 1)."""

    lo: float
    hi: float
    count: int
    confidence: float
    accuracy: Proportion

    def to_dict(self) -> dict:
        return {
            "lo": self.lo,
            "hi": self.hi,
            "count": self.count,
            "confidence": self.confidence,
            "accuracy": self.accuracy.to_dict(),
        }


@dataclass(frozen=True)
class Calibration:
    """ECE (with a bootstrap 95% interval), mean confidence, accuracy and the reliability bins."""

    ece: float
    ece_ci95: tuple[float, float]
    n: int
    mean_confidence: float
    accuracy: float
    bins: list[ReliabilityBin]


#: Fewest images whose ECE is worth a headline. ECE bins confidences 15 ways, so on few images even
#: a perfectly calibrated model scores a large ECE from sampling noise alone (about 4 points at
#: 1,000 images, about 30 at 8); below this the demo and the report give that noise floor with it.
MIN_CALIBRATION_IMAGES = 1000


def _bin_index(confidence: np.ndarray, num_bins: int) -> np.ndarray:
    return np.clip((confidence * num_bins).astype(np.int64), 0, num_bins - 1)


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, *, num_bins: int = 15
) -> float:
    """ECE with equal-width confidence bins (Guo et al. 2017, "On Calibration of Modern NNs").

    ``sum_b (n_b / n) |accuracy_b - confidence_b|``; 15 bins as in Guo et al.

    Examples
    --------
    >>> # bin of 0.9: accuracy 1/2 vs 0.9 (2 of 3 images); bin of 0.6: 1 vs 0.6 (1 of 3)
    >>> round(expected_calibration_error(np.array([0.9, 0.9, 0.6]), np.array([1, 0, 1])), 4)
    0.4
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if confidence.size == 0:
        return float("nan")
    index = _bin_index(confidence, num_bins)
    gap = np.bincount(index, weights=correct - confidence, minlength=num_bins)
    return float(np.abs(gap).sum() / confidence.size)


def calibration(
    confidence: np.ndarray,
    correct: np.ndarray,
    *,
    num_bins: int = 15,
    resamples: int = 1000,
    seed: int = 0,
) -> Calibration:
    """Reliability table and ECE of top-1 confidence against top-1 correctness.

    Parameters
    ----------
    confidence : (N,) probability the model gave its top-1 class.
    correct : (N,) whether the top-1 class is right.
    num_bins : equal-width bins over [0, 1] (Guo et al. 2017 use 15).
    resamples, seed : the percentile bootstrap of the ECE interval (vectorised, seeded).

    Examples
    --------
    >>> c = calibration(np.array([0.95, 0.95, 0.55, 0.45]), np.array([1, 1, 0, 1]), num_bins=2)
    >>> [(b.count, b.accuracy.value) for b in c.bins]
    [(1, 1.0), (3, 0.6666666666666666)]
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if confidence.shape != correct.shape:
        raise ValueError(f"{confidence.shape} confidences but {correct.shape} outcomes")
    if confidence.size and (np.nanmin(confidence) < 0 or np.nanmax(confidence) > 1 + 1e-6):
        raise ValueError("confidences must be probabilities in [0, 1]")
    n = int(confidence.size)
    index = _bin_index(confidence, num_bins)
    bins = []
    for b in range(num_bins):
        members = index == b
        count = int(members.sum())
        bins.append(
            ReliabilityBin(
                lo=b / num_bins,
                hi=(b + 1) / num_bins,
                count=count,
                confidence=float(confidence[members].mean()) if count else float("nan"),
                accuracy=Proportion.from_hits(correct[members]),
            )
        )
    ece = expected_calibration_error(confidence, correct, num_bins=num_bins)
    ci = _bootstrap_ece(index, correct.astype(np.float64) - confidence, num_bins, resamples, seed)
    return Calibration(
        ece=ece,
        ece_ci95=ci,
        n=n,
        mean_confidence=float(confidence.mean()) if n else float("nan"),
        accuracy=float(correct.mean()) if n else float("nan"),
        bins=bins,
    )


def _bootstrap_ece(
    index: np.ndarray, gap: np.ndarray, num_bins: int, resamples: int, seed: int
) -> tuple[float, float]:
    """Percentile interval of the ECE over image resamples, in chunks of bounded memory."""
    n = index.size
    if n == 0 or resamples <= 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, 4_000_000 // n))
    values = []
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        draw = rng.integers(0, n, size=(size, n))
        keys = (np.arange(size)[:, None] * num_bins + index[draw]).ravel()
        sums = np.bincount(keys, weights=gap[draw].ravel(), minlength=size * num_bins)
        values.append(np.abs(sums.reshape(size, num_bins)).sum(axis=1) / n)
    samples = np.concatenate(values)
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return (float(lo), float(hi))


def calibrated_ece_floor(
    confidence: np.ndarray, *, resamples: int = 500, seed: int = 0
) -> tuple[float, float]:
    """Mean and 95th percentile of the ECE a perfectly calibrated model with these confidences
    scores on this many images (each image right with probability its confidence).

    Examples
    --------
    >>> calibrated_ece_floor(np.ones(50))  # sure and always right: no gap
    (0.0, 0.0)
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = [
        expected_calibration_error(confidence, rng.random(confidence.size) < confidence)
        for _ in range(resamples)
    ]
    return float(np.mean(draws)), float(np.quantile(draws, 0.95))
