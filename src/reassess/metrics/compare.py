"""Is model A really better than model B on the same images? Paired bootstrap and McNemar.

Both tests use the pairing: the same images, scored by the same labels, for both models. The
bootstrap resamples images (Efron & Tibshirani 1993) with one shared set of resamples for all
metrics, as per-image weights, so a metric over a subset of images (ReaL, expert labels) or
averaged over classes is recomputed exactly on every resample. McNemar's exact test
(McNemar 1947) is the two-sided binomial test on the discordant images: those only A gets
right against those only B gets right (Dietterich 1998 recommends it for comparing classifiers).
With tens of thousands of discordant images the p-value can be far below the smallest double
(~1e-308), so its base-10 logarithm is computed too, in log space (a log-sum-exp of binomial
log-probabilities), and reports show ``p = 10^-523.4`` when ``p_value`` underflows to 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from reassess.metrics.multilabel import mean_proportion
from reassess.metrics.stats import Proportion


@dataclass(frozen=True)
class Outcome:
    """Per-image scores of one metric: the metric is their mean (or the mean of group means).

    ``rows`` index the images (of the run's sample order) the metric counts; ``values`` are
    their scores in [0, 1]; ``groups`` (same length, optional) makes it an unweighted mean over
    groups, e.g. per-class accuracy averaged over classes.
    """

    rows: np.ndarray
    values: np.ndarray
    groups: np.ndarray | None = None

    def proportion(self) -> Proportion:
        """The metric with its 95% interval (see :func:`mean_proportion`)."""
        return mean_proportion(self.values, self.groups)


@dataclass(frozen=True)
class McNemar:
    """Discordant images, the exact two-sided p-value and its log10 (finite when p underflows)."""

    a_only: int
    b_only: int
    p_value: float
    log10_p: float = 0.0

    def to_dict(self) -> dict:
        return {
            "a_only": self.a_only,
            "b_only": self.b_only,
            "p_value": self.p_value,
            "log10_p": self.log10_p,
        }


#: below this a p-value is shown from its log10 (doubles end near 1e-308; subnormals lose digits)
SMALLEST_SHOWN_P = 1e-300


def p_value_text(p_value: float, log10_p: float | None = None) -> str:
    """A p-value for display: ``p = 0.63``, ``p = 2.3e-45``, or ``p = 10^-2094.5`` below 1e-300.

    Without ``log10_p`` (results stored before it was recorded) a tiny p is shown as a bound.

    Examples
    --------
    >>> p_value_text(0.625), p_value_text(2.3e-45), p_value_text(0.0, -2094.47)
    ('p = 0.62', 'p = 2.3e-45', 'p = 10^-2094.5')
    """
    if p_value >= SMALLEST_SHOWN_P:
        return f"p = {p_value:.2g}"
    if log10_p is None or not np.isfinite(log10_p):
        return f"p < {SMALLEST_SHOWN_P:.0e}"
    return f"p = 10^{log10_p:.1f}"


def binomial_two_sided_log10_p(k: int, n: int) -> float:
    """log10 of the exact two-sided p-value of ``k`` successes in ``n`` fair coin flips.

    ``p = min(1, 2 P(X <= min(k, n - k)))`` for X ~ Binomial(n, 1/2) (the distribution is
    symmetric, so this equals scipy's ``binomtest``), summed in log space so that it stays finite
    where ``p`` itself underflows.

    Examples
    --------
    >>> round(binomial_two_sided_log10_p(3, 4), 6) == round(float(np.log10(0.625)), 6)
    True
    >>> round(binomial_two_sided_log10_p(20_000, 25_000), 1)
    -2094.5
    """
    from scipy.special import logsumexp
    from scipy.stats import binom

    tail = min(k, n - k)
    if 2 * tail >= n:
        return 0.0
    log_tail = logsumexp(binom.logpmf(np.arange(tail + 1), n, 0.5))
    return float(min(0.0, (np.log(2.0) + log_tail) / np.log(10.0)))


@dataclass(frozen=True)
class PairedDifference:
    """Metric of A and of B on the same images, A - B, its bootstrap interval and McNemar."""

    a: Proportion
    b: Proportion
    difference: float
    ci95: tuple[float, float]
    n: int
    mcnemar: McNemar | None

    def to_dict(self) -> dict:
        return {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "difference": self.difference,
            "ci95": list(self.ci95),
            "n": self.n,
            "mcnemar": self.mcnemar.to_dict() if self.mcnemar else None,
        }


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> McNemar:
    """McNemar's exact test on paired per-image correctness (binomial test of discordant pairs).

    Examples
    --------
    >>> r = mcnemar_exact(np.array([1, 1, 1, 0, 1]), np.array([0, 0, 0, 0, 1]))
    >>> r.a_only, r.b_only, round(r.p_value, 4), round(r.log10_p, 4)
    (3, 0, 0.25, -0.6021)
    """
    correct_a = np.asarray(correct_a, dtype=bool)
    correct_b = np.asarray(correct_b, dtype=bool)
    a_only = int((correct_a & ~correct_b).sum())
    b_only = int((correct_b & ~correct_a).sum())
    if a_only + b_only == 0:
        return McNemar(0, 0, 1.0)
    from scipy.stats import binomtest  # lazy: scipy.stats costs ~0.6 s to import

    p = binomtest(a_only, a_only + b_only, 0.5, alternative="two-sided").pvalue
    return McNemar(a_only, b_only, float(p), binomial_two_sided_log10_p(a_only, a_only + b_only))


def bootstrap_weights(
    n: int, *, resamples: int = 2000, seed: int = 0, max_cells: int = 5_000_000
) -> Iterator[np.ndarray]:
    """Chunks of bootstrap resamples as (chunk, n) count matrices, at most ``max_cells`` each.

    Row r of a chunk counts how often each image was drawn in resample r (a multinomial draw of
    n images with replacement). Seeded, so the same call gives the same resamples.
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, max_cells // max(n, 1)))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        draws = rng.integers(0, n, size=(size, n))
        keys = (draws + (np.arange(size) * n)[:, None]).ravel()
        yield np.bincount(keys, minlength=size * n).reshape(size, n).astype(np.float32)


def _weighted_statistic(weights: np.ndarray, outcome: Outcome, values: np.ndarray) -> np.ndarray:
    """The metric of ``values`` (scores on ``outcome.rows``) under each row of bootstrap weights."""
    every_row = outcome.rows.size == weights.shape[1]
    w = weights if every_row else weights[:, outcome.rows]
    values = values.astype(np.float32)
    if outcome.groups is None:
        total = w.sum(axis=1, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w @ values).astype(np.float64) / total
    _, inverse = np.unique(outcome.groups, return_inverse=True)
    from scipy import sparse

    onehot = sparse.csr_matrix(
        (np.ones(len(inverse)), (np.arange(len(inverse)), inverse)),
        shape=(len(inverse), int(inverse.max()) + 1),
    )
    counts = np.asarray((onehot.T @ w.T).T, dtype=np.float64)
    sums = np.asarray((onehot.T @ (w * values).T).T, dtype=np.float64)
    present = counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(present, sums / np.where(present, counts, 1), 0.0)
        return means.sum(axis=1) / present.sum(axis=1)


def paired_differences(
    outcomes_a: dict[str, Outcome],
    outcomes_b: dict[str, Outcome],
    n: int,
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[str, PairedDifference]:
    """For every metric both runs have, A - B with a paired bootstrap 95% interval and McNemar.

    Parameters
    ----------
    outcomes_a, outcomes_b : per-image outcomes of each metric, rows in the same sample order.
    n : number of images (rows) of that common order.
    resamples, seed : percentile bootstrap over images, one shared set of resamples.

    Returns
    -------
    dict of metric key -> PairedDifference, restricted to images both runs score.
    """
    paired: dict[str, tuple[Outcome, np.ndarray, np.ndarray]] = {}
    for key, oa in outcomes_a.items():
        ob = outcomes_b.get(key)
        if ob is None:
            continue
        rows, ia, ib = np.intersect1d(oa.rows, ob.rows, assume_unique=True, return_indices=True)
        if rows.size == 0:
            continue
        groups = None if oa.groups is None else oa.groups[ia]
        paired[key] = (Outcome(rows, oa.values[ia], groups), oa.values[ia], ob.values[ib])
    samples: dict[str, list[np.ndarray]] = {key: [] for key in paired}
    for weights in bootstrap_weights(n, resamples=resamples, seed=seed):
        for key, (outcome, va, vb) in paired.items():
            samples[key].append(_weighted_statistic(weights, outcome, va - vb))
    out = {}
    for key, (outcome, va, vb) in paired.items():
        a = mean_proportion(va, outcome.groups)
        b = mean_proportion(vb, outcome.groups)
        diffs = np.concatenate(samples[key]) if samples[key] else np.array([np.nan])
        diffs = diffs[np.isfinite(diffs)]
        lo, hi = np.percentile(diffs, [2.5, 97.5]) if diffs.size else (np.nan, np.nan)
        binary = bool(np.isin(va, (0.0, 1.0)).all() and np.isin(vb, (0.0, 1.0)).all())
        out[key] = PairedDifference(
            a=a,
            b=b,
            difference=a.value - b.value,
            ci95=(float(lo), float(hi)),
            n=int(outcome.rows.size),
            mcnemar=mcnemar_exact(va, vb) if binary else None,
        )
    return out
