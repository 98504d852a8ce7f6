"""Effective and relative robustness under distribution shift (Taori et al. 2020).

Across standard ImageNet models, accuracy under a natural distribution shift is close to a
linear function of ImageNet accuracy once both are put through a logit (or probit) transform
T: ``T(acc_shift) = a T(acc_in) + b`` (Recht et al. 2019; Taori et al. 2020, "Measuring
Robustness to Natural Distribution Shifts in Image Classification"; Miller et al. 2021,
"Accuracy on the Line"). A model's *effective robustness* is how far above that baseline it lies,
``acc_shift - T^-1(a T(acc_in) + b)``; its *relative robustness* against a base model is simply
``acc_shift - acc_shift(base)``.

ImageNet-A is the exception: models below ResNet-50's accuracy sit near chance on it, so one line
does not fit. The imagenet-testbed (Taori et al. 2020, Appendix; ``plotting/paper_imagenet_a.py``)
fits two independent lines in logit space, one on the models below ResNet-50's ImageNet accuracy on
ImageNet-A's 200 classes (91.86%) and one on those above; :func:`fit_piecewise` does the same.

Everything here is a pure function of accuracies; the baseline's uncertainty is a bootstrap over
testbed models (vectorised, seeded), and a run's interval also redraws its two accuracies from
their binomial sampling distributions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, logit, ndtr, ndtri

SPACES = ("logit", "probit")
FITS = ("linear", "piecewise")
DEFAULT_EPS = 1e-4
#: imagenet-testbed's ImageNet-A pivot: ResNet-50's top-1 on val's images of ImageNet-A's classes
IMAGENET_A_BREAKPOINT = 0.9186


def transform(acc: np.ndarray | float, space: str = "logit", eps: float = DEFAULT_EPS):
    """Logit or probit of accuracies (fractions), clipped to [eps, 1 - eps] so 0 and 1 stay finite.

    Examples
    --------
    >>> round(float(transform(0.5)), 6), round(float(transform(0.8413447, "probit")), 4)
    (0.0, 1.0)
    """
    p = np.clip(np.asarray(acc, dtype=np.float64), eps, 1.0 - eps)
    if space == "logit":
        return logit(p)
    if space == "probit":
        return ndtri(p)
    raise ValueError(f"space must be one of {SPACES}, got {space!r}")


def inverse_transform(z: np.ndarray | float, space: str = "logit"):
    """Accuracy (fraction) from its logit or probit."""
    z = np.asarray(z, dtype=np.float64)
    if space == "logit":
        return expit(z)
    if space == "probit":
        return ndtr(z)
    raise ValueError(f"space must be one of {SPACES}, got {space!r}")


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slope and intercept along the last axis (vectorised over leading axes)."""
    xm = x.mean(axis=-1, keepdims=True)
    ym = y.mean(axis=-1, keepdims=True)
    sxx = ((x - xm) ** 2).sum(axis=-1)
    sxy = ((x - xm) * (y - ym)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = sxy / sxx
    return slope, ym[..., 0] - slope * xm[..., 0]


@dataclass(frozen=True)
class BaselineFit:
    """The baseline ``T(acc_shift) = slope * T(acc_in) + intercept`` and its bootstrap replicates."""

    space: str
    slope: float
    intercept: float
    n_models: int
    r2: float
    eps: float = DEFAULT_EPS
    boot_slopes: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    boot_intercepts: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    seed: int = 0

    kind = "linear"

    @property
    def n_bootstrap(self) -> int:
        """Number of bootstrap replicates (0: the fit has none)."""
        return int(self.boot_slopes.size)

    def predict(self, acc_in: np.ndarray | float) -> np.ndarray:
        """Expected shift accuracy of a model on the baseline, ``T^-1(a T(acc_in) + b)``."""
        z = self.slope * transform(acc_in, self.space, self.eps) + self.intercept
        return inverse_transform(z, self.space)

    def replicates(self, acc_in: np.ndarray | float) -> np.ndarray:
        """Bootstrap replicates of :meth:`predict`: shape (B, *acc_in.shape)."""
        z_in = transform(acc_in, self.space, self.eps)
        z = self.boot_slopes.reshape((-1,) + (1,) * np.ndim(z_in)) * z_in
        z = z + self.boot_intercepts.reshape((-1,) + (1,) * np.ndim(z_in))
        return inverse_transform(z, self.space)

    def paired_replicates(self, acc_in: np.ndarray) -> np.ndarray:
        """Replicate b of :meth:`predict` at ``acc_in[b]`` (one accuracy per replicate): shape (B,)."""
        z = self.boot_slopes * transform(acc_in, self.space, self.eps) + self.boot_intercepts
        return inverse_transform(z, self.space)

    def band(self, acc_in: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise bootstrap band (lower, upper) of the baseline at ``acc_in``."""
        return _band(self, acc_in, level)

    def interval(self, name: str, level: float = 0.95) -> tuple[float, float]:
        """Bootstrap percentile interval of ``slope`` or ``intercept``."""
        values = {"slope": self.boot_slopes, "intercept": self.boot_intercepts}[name]
        alpha = (1.0 - level) / 2
        return float(np.nanquantile(values, alpha)), float(np.nanquantile(values, 1 - alpha))

    def to_dict(self) -> dict:
        out = {
            "fit": self.kind,
            "space": self.space,
            "slope": self.slope,
            "intercept": self.intercept,
            "n_models": self.n_models,
            "r2": self.r2,
            "eps": self.eps,
        }
        if self.boot_slopes.size:
            out.update(
                slope_ci95=list(self.interval("slope")),
                intercept_ci95=list(self.interval("intercept")),
                n_bootstrap=int(self.boot_slopes.size),
                seed=self.seed,
            )
        return out


def _band(fit, acc_in: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    if fit.n_bootstrap == 0:
        raise ValueError("this fit has no bootstrap replicates (n_bootstrap=0)")
    reps = fit.replicates(np.asarray(acc_in, dtype=np.float64))
    alpha = (1.0 - level) / 2
    return np.nanquantile(reps, alpha, axis=0), np.nanquantile(reps, 1 - alpha, axis=0)


def fit_baseline(
    acc_in: np.ndarray,
    acc_shift: np.ndarray,
    *,
    space: str = "logit",
    n_bootstrap: int = 1000,
    seed: int = 0,
    eps: float = DEFAULT_EPS,
) -> BaselineFit:
    """Fit the linear trend of shift accuracy on ImageNet accuracy in logit or probit space.

    Ordinary least squares of ``T(acc_shift)`` on ``T(acc_in)`` over testbed models, with a
    bootstrap over models (resampled with replacement, all replicates in one vectorised step).

    Parameters
    ----------
    acc_in, acc_shift : accuracies (fractions) of the same models in and under the shift.
    space : ``logit`` (default) or ``probit``.
    n_bootstrap : bootstrap replicates for the band and the intervals (0: none).
    seed : seed of the bootstrap's random generator.
    eps : accuracies are clipped to [eps, 1 - eps] before the transform.

    Returns
    -------
    BaselineFit with slope, intercept, R^2 in transformed space and the replicates.

    Examples
    --------
    >>> acc_in = np.array([0.6, 0.7, 0.8, 0.9])
    >>> fit = fit_baseline(acc_in, expit(logit(acc_in) - 0.5), n_bootstrap=0)
    >>> round(fit.slope, 6), round(fit.intercept, 6)
    (1.0, -0.5)
    """
    x = transform(acc_in, space, eps)
    y = transform(acc_shift, space, eps)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"need two equal-length vectors, got {x.shape} and {y.shape}")
    if len(x) < 3:
        raise ValueError(f"need at least 3 models to fit a baseline, got {len(x)}")
    slope, intercept = _ols(x, y)
    residual = y - (slope * x + intercept)
    r2 = 1.0 - float((residual**2).sum() / ((y - y.mean()) ** 2).sum())
    boot_slopes = boot_intercepts = np.empty(0)
    if n_bootstrap:
        rng = np.random.default_rng(seed)
        rows = rng.integers(0, len(x), size=(n_bootstrap, len(x)))
        boot_slopes, boot_intercepts = _ols(x[rows], y[rows])
    return BaselineFit(
        space=space,
        slope=float(slope),
        intercept=float(intercept),
        n_models=len(x),
        r2=r2,
        eps=eps,
        boot_slopes=boot_slopes,
        boot_intercepts=boot_intercepts,
        seed=seed,
    )


@dataclass(frozen=True)
class PiecewiseFit:
    """Two independent baselines in T space: ``below`` for ``acc_in < breakpoint``, ``above`` beyond.

    The two lines need not meet at the breakpoint (the imagenet-testbed draws them that way too).
    Bootstrap replicate b of the fit is replicate b of each piece, each resampled over its own models.
    """

    below: BaselineFit
    above: BaselineFit
    breakpoint: float
    r2: float

    kind = "piecewise"

    @property
    def space(self) -> str:
        return self.below.space

    @property
    def eps(self) -> float:
        return self.below.eps

    @property
    def n_models(self) -> int:
        return self.below.n_models + self.above.n_models

    @property
    def n_bootstrap(self) -> int:
        return min(self.below.n_bootstrap, self.above.n_bootstrap)

    def _pick(self, acc_in, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        return np.where(np.asarray(acc_in, dtype=np.float64) < self.breakpoint, low, high)

    def predict(self, acc_in: np.ndarray | float) -> np.ndarray:
        """Expected shift accuracy from the piece ``acc_in`` falls on."""
        return self._pick(acc_in, self.below.predict(acc_in), self.above.predict(acc_in))

    def replicates(self, acc_in: np.ndarray | float) -> np.ndarray:
        """Bootstrap replicates of :meth:`predict`: shape (B, *acc_in.shape)."""
        return self._pick(acc_in, self.below.replicates(acc_in), self.above.replicates(acc_in))

    def paired_replicates(self, acc_in: np.ndarray) -> np.ndarray:
        """Replicate b of :meth:`predict` at ``acc_in[b]``: a draw may fall on either piece."""
        return self._pick(
            acc_in, self.below.paired_replicates(acc_in), self.above.paired_replicates(acc_in)
        )

    def band(self, acc_in: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise bootstrap band (lower, upper) of the two-piece baseline at ``acc_in``."""
        return _band(self, acc_in, level)

    def to_dict(self) -> dict:
        return {
            "fit": self.kind,
            "space": self.space,
            "breakpoint": self.breakpoint,
            "n_models": self.n_models,
            "r2": self.r2,
            "eps": self.eps,
            "below": self.below.to_dict(),
            "above": self.above.to_dict(),
        }


def fit_piecewise(
    acc_in: np.ndarray,
    acc_shift: np.ndarray,
    *,
    breakpoint: float = IMAGENET_A_BREAKPOINT,
    space: str = "logit",
    n_bootstrap: int = 1000,
    seed: int = 0,
    eps: float = DEFAULT_EPS,
) -> PiecewiseFit:
    """Two linear baselines in T space, split at ``breakpoint`` of ImageNet accuracy.

    The imagenet-testbed's fit for ImageNet-A (Taori et al. 2020): models below ResNet-50's
    accuracy on ImageNet-A's classes (``breakpoint``, default 91.86%) sit near chance and get
    their own line. Each piece is an ordinary :func:`fit_baseline` with its own bootstrap over its
    models (seeds ``seed`` and ``seed + 1``); R^2 is that of the combined fit in T space.

    Examples
    --------
    >>> x = np.array([0.80, 0.85, 0.88, 0.90, 0.93, 0.95, 0.97, 0.98])
    >>> y = np.where(x < 0.9186, expit(0.2 * logit(x) - 3), expit(2 * logit(x) - 6))
    >>> fit = fit_piecewise(x, y, n_bootstrap=0)
    >>> round(fit.below.slope, 6), round(fit.above.slope, 6), fit.below.n_models
    (0.2, 2.0, 4)
    """
    x = np.asarray(acc_in, dtype=np.float64)
    y = np.asarray(acc_shift, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"need two equal-length vectors, got {x.shape} and {y.shape}")
    if not 0 < breakpoint < 1:
        raise ValueError(f"the breakpoint is an accuracy in (0, 1), got {breakpoint}")
    low = x < breakpoint
    for name, mask in (("below", low), ("at or above", ~low)):
        if mask.sum() < 3:
            raise ValueError(
                f"need at least 3 models {name} the breakpoint {100 * breakpoint:.2f}% to fit "
                f"each piece, got {int(mask.sum())}"
            )
    options = dict(space=space, n_bootstrap=n_bootstrap, eps=eps)
    below = fit_baseline(x[low], y[low], seed=seed, **options)
    above = fit_baseline(x[~low], y[~low], seed=seed + 1, **options)
    zx, zy = transform(x, space, eps), transform(y, space, eps)
    z_fit = np.where(low, below.slope * zx + below.intercept, above.slope * zx + above.intercept)
    residual = zy - z_fit
    r2 = 1.0 - float((residual**2).sum() / ((zy - zy.mean()) ** 2).sum())
    return PiecewiseFit(below=below, above=above, breakpoint=float(breakpoint), r2=r2)


@dataclass(frozen=True)
class RobustnessEstimate:
    """A run's effective robustness (or relative robustness) with a 95% interval."""

    acc_in: float
    acc_shift: float
    expected_shift: float
    value: float
    ci95: tuple[float, float]

    def to_dict(self) -> dict:
        return {
            "acc_in": self.acc_in,
            "acc_shift": self.acc_shift,
            "expected_shift": self.expected_shift,
            "value": self.value,
            "ci95": list(self.ci95),
        }


def _binomial_draws(rng, acc: float, n: int | None, size: int) -> np.ndarray:
    if not n:
        return np.full(size, acc)
    return rng.binomial(n, acc, size=size) / n


def effective_robustness(
    fit: BaselineFit | PiecewiseFit,
    acc_in: float,
    acc_shift: float,
    *,
    n_in: int | None = None,
    n_shift: int | None = None,
    seed: int = 0,
    level: float = 0.95,
) -> RobustnessEstimate:
    """Effective robustness ``acc_shift - T^-1(a T(acc_in) + b)`` with a bootstrap interval.

    Each replicate pairs one bootstrap baseline with accuracies redrawn from Binomial(n, acc)/n
    (when ``n_in``/``n_shift`` are given), so the interval covers the baseline's uncertainty and
    the finite test sets of the run (Taori et al. 2020, Section 3).

    Examples
    --------
    >>> acc_in = np.array([0.6, 0.7, 0.8, 0.9])
    >>> fit = fit_baseline(acc_in, expit(logit(acc_in) - 0.5), n_bootstrap=0)
    >>> round(effective_robustness(fit, 0.8, 0.75).value, 4)
    0.0419
    """
    expected = float(fit.predict(acc_in))
    value = acc_shift - expected
    if fit.n_bootstrap == 0:
        return RobustnessEstimate(acc_in, acc_shift, expected, value, (float("nan"),) * 2)
    rng = np.random.default_rng(seed)
    b = fit.n_bootstrap
    draws_in = _binomial_draws(rng, acc_in, n_in, b)
    draws_shift = _binomial_draws(rng, acc_shift, n_shift, b)
    reps = draws_shift - fit.paired_replicates(draws_in)
    alpha = (1.0 - level) / 2
    ci = (float(np.nanquantile(reps, alpha)), float(np.nanquantile(reps, 1 - alpha)))
    return RobustnessEstimate(acc_in, acc_shift, expected, value, ci)


def relative_robustness(
    acc_shift: float,
    base_acc_shift: float,
    *,
    n: int | None = None,
    n_base: int | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, tuple[float, float]]:
    """Relative robustness ``acc_shift - acc_shift(base)`` with a parametric bootstrap interval.

    Examples
    --------
    >>> value, _ = relative_robustness(0.72, 0.70, n=10_000, n_base=10_000)
    >>> round(value, 4)
    0.02
    """
    value = acc_shift - base_acc_shift
    rng = np.random.default_rng(seed)
    reps = _binomial_draws(rng, acc_shift, n, n_bootstrap) - _binomial_draws(
        rng, base_acc_shift, n_base, n_bootstrap
    )
    alpha = (1.0 - level) / 2
    return value, (float(np.quantile(reps, alpha)), float(np.quantile(reps, 1 - alpha)))
