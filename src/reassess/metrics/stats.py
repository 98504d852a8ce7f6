"""Proportions with exact confidence intervals (the unit every accuracy is reported in), and kappa."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import betaincinv


def clopper_pearson(k: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided interval for a binomial proportion ``k / n``.

    It inverts the binomial test, so coverage is at least ``confidence`` for every true
    proportion (Clopper & Pearson, 1934). Returns ``(nan, nan)`` when ``n == 0``.

    Examples
    --------
    >>> lo, hi = clopper_pearson(5, 10)
    >>> round(lo, 4), round(hi, 4)
    (0.1871, 0.8129)
    """
    if n == 0:
        return (float("nan"), float("nan"))
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    alpha = 1.0 - confidence
    lo = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, alpha / 2))
    hi = 1.0 if k == n else float(betaincinv(k + 1, n - k, 1 - alpha / 2))
    return (lo, hi)


@dataclass(frozen=True)
class Proportion:
    """A fraction of ``n`` items with its 95% Clopper-Pearson interval."""

    value: float
    n: int
    ci95: tuple[float, float]

    @classmethod
    def from_hits(cls, hits: np.ndarray) -> Proportion:
        """The share of True entries of a boolean vector."""
        hits = np.asarray(hits, dtype=bool)
        k, n = int(hits.sum()), int(hits.size)
        return cls(value=k / n if n else float("nan"), n=n, ci95=clopper_pearson(k, n))

    @property
    def count(self) -> int:
        return round(self.value * self.n) if self.n else 0

    def to_dict(self) -> dict:
        return {"value": self.value, "n": self.n, "ci95": list(self.ci95)}


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters' labels of the same items; None when chance agreement is 1.

    Parameters
    ----------
    a, b : the two raters' categories, item by item.

    Returns
    -------
    ``(p_o - p_e) / (1 - p_e)`` with observed agreement ``p_o`` and chance agreement ``p_e`` from
    each rater's category shares (Cohen 1960).

    Examples
    --------
    >>> round(cohen_kappa(["x", "x", "y", "y"], ["x", "y", "y", "y"]), 3)
    0.5
    """
    if len(a) != len(b) or not len(a):
        raise ValueError("cohen_kappa needs two equally long, non-empty lists")
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a, count_b = Counter(a), Counter(b)
    chance = sum(count_a[c] * count_b[c] for c in count_a) / (n * n)
    if chance >= 1.0:
        return None
    return (observed - chance) / (1.0 - chance)
