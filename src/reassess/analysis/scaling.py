"""Scaling-law comparison of model families: ``error = a (C + b)^c + d`` on the Pareto front.

Comparing two training recipes (architectures, losses, data sets) by single models is fragile;
comparing their scaling laws fitted over many scales is not (Cherti et al. 2023, "Reproducible
scaling laws for contrastive language-image learning"; Nezhurina et al. 2025, "Scaling Laws for
Robust Comparison of Open Foundation Language-Vision Models and Datasets"). For each family:

1. keep the Pareto front, the best achievable error at each budget. ``binned`` (the default, the
   pipeline of Nezhurina et al. 2025): cut the scale axis into bins of equal width in log10
   (``bins_per_decade``), keep each bin's lowest-error point, then keep the bins' points whose
   error is below that of every cheaper bin's. ``all``: every point whose error is below that of
   every point with less compute. Binning keeps a dense stretch of the scale axis (many runs at
   nearly the same compute, each a hair better than the last) from dominating the fit;
2. hold out the front points above a compute threshold (default: each family's largest one) to
   test extrapolation;
3. fit ``E(C) = a (C + b)^c + d`` with a, b, d >= 0 and c <= 0 by bounded least squares
   (``scipy.optimize.least_squares``) from a grid of starting points, keeping the best;
4. bootstrap over the fitted points (resampled with replacement) for intervals of the exponent
   c, the floor d, predictions and the crossing of two families' curves.

C is compute (GFLOPs), parameters or samples seen: any positive scale variable.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, least_squares

MIN_FIT_POINTS = 5  # four parameters need at least five points


def pareto_front(x: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Mask of the points no cheaper-or-equal point beats: error below all of lower x.

    Examples
    --------
    >>> pareto_front(np.array([1, 2, 3, 4]), np.array([0.5, 0.6, 0.4, 0.4])).tolist()
    [True, False, True, False]
    """
    x, error = np.asarray(x, dtype=float), np.asarray(error, dtype=float)
    order = np.lexsort((error, x))
    keep = np.zeros(len(x), dtype=bool)
    best = np.inf
    for i in order:
        if error[i] < best:
            keep[i] = True
            best = error[i]
    return keep


PARETO_METHODS = ("binned", "all")
BINS_PER_DECADE = 5  # the paper's automatic count (log2(max/1500) edges) gives ~5 on its grid


def binned_pareto_front(
    x: np.ndarray, error: np.ndarray, *, bins_per_decade: float = BINS_PER_DECADE
) -> np.ndarray:
    """Mask of the binned Pareto front: each log10 bin's best point, kept if it beats cheaper bins.

    Bin edges are at ``10**(k / bins_per_decade)`` for integer k, the same grid for every family
    (Nezhurina et al. anchor theirs at each family's smallest x). Ties within a bin go to the
    cheaper point.

    Examples
    --------
    >>> x = np.array([1.0, 1.1, 1.2, 10.0, 11.0, 100.0])
    >>> binned_pareto_front(x, np.array([0.9, 0.8, 0.85, 0.7, 0.5, 0.6]), bins_per_decade=1).tolist()
    [False, True, False, False, True, False]
    """
    x, error = np.asarray(x, dtype=float), np.asarray(error, dtype=float)
    if bins_per_decade <= 0:
        raise ValueError(f"bins per decade must be positive, got {bins_per_decade}")
    # a relative nudge keeps a value sitting on an edge (10**k) in its own bin despite rounding
    bins = np.floor(np.log10(x) * bins_per_decade + 1e-9).astype(np.int64)
    keep = np.zeros(len(x), dtype=bool)
    best = np.inf
    for b in np.unique(bins):  # ascending: cheaper bins first
        members = np.flatnonzero(bins == b)
        pick = members[np.lexsort((x[members], error[members]))[0]]
        if error[pick] < best:
            keep[pick] = True
            best = error[pick]
    return keep


def front_mask(
    x: np.ndarray,
    error: np.ndarray,
    *,
    method: str = "binned",
    bins_per_decade: float = BINS_PER_DECADE,
) -> np.ndarray:
    """The Pareto front by ``method``: ``binned`` (:func:`binned_pareto_front`) or ``all``."""
    if method == "binned":
        return binned_pareto_front(x, error, bins_per_decade=bins_per_decade)
    if method == "all":
        return pareto_front(x, error)
    raise ValueError(f"Pareto method must be one of {', '.join(PARETO_METHODS)}, got {method!r}")


@dataclass(frozen=True)
class PowerLaw:
    """``error(C) = a (C + b)^c + d``: a scale, b an offset, c the exponent, d the floor."""

    a: float
    b: float
    c: float
    d: float

    def predict(self, x: np.ndarray | float) -> np.ndarray:
        """Error predicted at scale ``x``."""
        return self.a * np.power(np.asarray(x, dtype=float) + self.b, self.c) + self.d

    def to_dict(self) -> dict[str, float]:
        return {"a": self.a, "b": self.b, "c": self.c, "d": self.d}


def _start_grid(u: np.ndarray, err: np.ndarray) -> list[np.ndarray]:
    """Starting points (a', b', c, d) in scaled units: every combination of plausible values."""
    lowest = float(err.min())
    starts = []
    for c, d_share, b in itertools.product(
        (-0.05, -0.15, -0.3, -0.6, -1.0), (0.0, 0.5, 0.9), (0.0, 0.01, 1.0)
    ):
        d = d_share * lowest
        first = int(np.argmin(u))
        a = max(float(err[first]) - d, 1e-6) / (u[first] + b) ** c
        starts.append(np.array([a, b, c, d]))
    return starts


def _fit_scaled(u: np.ndarray, err: np.ndarray, starts: list[np.ndarray]):
    """Best bounded least-squares fit of a (u + b)^c + d over several starting points."""

    def residuals(p: np.ndarray) -> np.ndarray:
        return p[0] * np.power(u + p[1], p[2]) + p[3] - err

    def jacobian(p: np.ndarray) -> np.ndarray:
        base = u + p[1]
        power = np.power(base, p[2])
        return np.column_stack(
            [power, p[0] * p[2] * power / base, p[0] * power * np.log(base), np.ones_like(u)]
        )

    lower = np.array([0.0, 0.0, -10.0, 0.0])
    upper = np.array([np.inf, np.inf, 0.0, 1.0])
    best = None
    for p0 in starts:
        p0 = np.clip(p0, lower + 1e-12, np.where(np.isfinite(upper), upper - 1e-12, p0 + 1))
        try:
            result = least_squares(
                residuals,
                p0,
                jac=jacobian,
                bounds=(lower, upper),
                method="trf",
                x_scale="jac",
                max_nfev=2000,
            )
        except (ValueError, FloatingPointError):
            continue
        if np.all(np.isfinite(result.x)) and (best is None or result.cost < best.cost):
            best = result
    if best is None:
        raise ValueError("the power law could not be fitted from any starting point")
    return best.x, 2 * best.cost


def fit_power_law(x: np.ndarray, error: np.ndarray, *, scale: float | None = None) -> PowerLaw:
    """Fit ``error = a (x + b)^c + d`` (a, b, d >= 0; c <= 0) by least squares from many starts.

    ``x`` is divided by ``scale`` (default: its geometric mean) while fitting so the parameters
    are of order one; the result is in the original units. The fit minimises squared error in
    error units, like ``scipy.optimize.curve_fit`` with bounds (Cherti et al. 2023).

    Examples
    --------
    >>> x = np.logspace(6, 12, 13)
    >>> law = fit_power_law(x, 3.0 * (x + 1e6) ** -0.2 + 0.1)
    >>> round(law.c, 3), round(law.d, 3)
    (-0.2, 0.1)
    """
    x, error = np.asarray(x, dtype=float), np.asarray(error, dtype=float)
    if len(x) < MIN_FIT_POINTS:
        raise ValueError(f"need at least {MIN_FIT_POINTS} points to fit 4 parameters, got {len(x)}")
    if (x <= 0).any():
        raise ValueError("scale values (compute, params, samples) must be positive")
    s = float(np.exp(np.log(x).mean())) if scale is None else float(scale)
    u = x / s
    (a, b, c, d), _ = _fit_scaled(u, error, _start_grid(u, error))
    return PowerLaw(a=float(a * s ** (-c)), b=float(b * s), c=float(c), d=float(d))


def _refit(u: np.ndarray, err: np.ndarray, around: np.ndarray) -> np.ndarray | None:
    """A bootstrap refit: start from the full fit and a few grid points."""
    if np.unique(u).size < MIN_FIT_POINTS - 1:
        return None
    grid = _start_grid(u, err)
    starts = [around] + grid[:: len(grid) // 2]  # the full fit's optimum plus 3 spread starts
    try:
        params, _ = _fit_scaled(u, err, starts)
    except ValueError:
        return None
    return params


@dataclass
class FamilyFit:
    """One family's scaling law, the points behind it, held-out checks and bootstrap replicates."""

    family: str
    law: PowerLaw
    scale: float
    x: np.ndarray
    error: np.ndarray
    models: np.ndarray
    front: np.ndarray
    fitted: np.ndarray
    heldout: np.ndarray
    holdout_above: float
    boot: np.ndarray = field(repr=False)  # (B, 4) a, b, c, d in original units (NaN rows: failed)
    seed: int = 0
    pareto: str = "binned"
    bins_per_decade: float = BINS_PER_DECADE

    def predict(self, x) -> np.ndarray:
        return self.law.predict(x)

    def boot_predictions(self, x) -> np.ndarray:
        """(B, len(x)) predictions of the bootstrap laws."""
        x = np.atleast_1d(np.asarray(x, dtype=float))
        a, b, c, d = (self.boot[:, i : i + 1] for i in range(4))
        return a * np.power(x[None, :] + b, c) + d

    def interval(self, name: str, level: float = 0.95) -> tuple[float, float]:
        """Bootstrap percentile interval of a parameter (``a``, ``b``, ``c`` or ``d``)."""
        values = self.boot[:, "abcd".index(name)]
        alpha = (1 - level) / 2
        return float(np.nanquantile(values, alpha)), float(np.nanquantile(values, 1 - alpha))

    def prediction_interval(self, x: float, level: float = 0.95) -> tuple[float, float]:
        reps = self.boot_predictions([x])[:, 0]
        alpha = (1 - level) / 2
        return float(np.nanquantile(reps, alpha)), float(np.nanquantile(reps, 1 - alpha))

    def heldout_table(self) -> list[dict]:
        """Each held-out front point: its scale, actual and predicted error, and the difference."""
        rows = []
        for i in np.flatnonzero(self.heldout):
            predicted = float(self.predict(self.x[i]))
            rows.append(
                {
                    "model": str(self.models[i]),
                    "x": float(self.x[i]),
                    "error": float(self.error[i]),
                    "predicted": predicted,
                    "residual": float(self.error[i]) - predicted,
                    "predicted_ci95": list(self.prediction_interval(float(self.x[i]))),
                }
            )
        return rows

    def to_dict(self) -> dict:
        valid = int(np.isfinite(self.boot[:, 0]).sum())
        fit_residual = self.error[self.fitted] - self.predict(self.x[self.fitted])
        return {
            "family": self.family,
            "law": self.law.to_dict(),
            "exponent_c": self.law.c,
            "exponent_c_ci95": list(self.interval("c")) if valid else None,
            "floor_d": self.law.d,
            "floor_d_ci95": list(self.interval("d")) if valid else None,
            "points": int(len(self.x)),
            "pareto": self.pareto,
            "bins_per_decade": self.bins_per_decade if self.pareto == "binned" else None,
            "pareto_points": int(self.front.sum()),
            "fitted_points": int(self.fitted.sum()),
            "fit_rmse": float(np.sqrt(np.mean(fit_residual**2))),
            "holdout_above": self.holdout_above,
            "heldout": self.heldout_table(),
            "n_bootstrap": valid,
            "seed": self.seed,
        }


def fit_family(
    family: str,
    x: np.ndarray,
    error: np.ndarray,
    models: np.ndarray | None = None,
    *,
    holdout_above: float | None = None,
    n_bootstrap: int = 200,
    seed: int = 0,
    pareto: str = "binned",
    bins_per_decade: float = BINS_PER_DECADE,
    on_replicate: Callable[[], None] | None = None,
) -> FamilyFit:
    """Fit one family's scaling law on its Pareto front below ``holdout_above``.

    Parameters
    ----------
    family : the family's name.
    x, error : scale (compute, params or samples) and error (1 - accuracy) of each model.
    models : model names for the held-out table.
    holdout_above : front points with x above this are held out (None: the family's
        largest-x front point; ``inf``: none).
    n_bootstrap : bootstrap refits over the fitted points (0: none).
    seed : seed of the bootstrap.
    pareto, bins_per_decade : how the front is chosen (:func:`front_mask`).

    Returns
    -------
    FamilyFit.
    """
    x, error = np.asarray(x, dtype=float), np.asarray(error, dtype=float)
    models = np.asarray(
        models if models is not None else np.arange(len(x)).astype(str), dtype=object
    )
    if not (np.isfinite(x).all() and np.isfinite(error).all()):
        raise ValueError(f"{family}: scale and accuracy must be finite numbers")
    front = front_mask(x, error, method=pareto, bins_per_decade=bins_per_decade)
    if holdout_above is None:
        holdout_above = float(np.nextafter(x[front].max(), -np.inf))
    fitted = front & (x <= holdout_above)
    heldout = front & (x > holdout_above)
    if fitted.sum() < MIN_FIT_POINTS:
        raise ValueError(
            f"{family}: {int(fitted.sum())} Pareto-front points below the hold-out threshold; "
            f"a fit needs at least {MIN_FIT_POINTS}"
        )
    xf, ef = x[fitted], error[fitted]
    scale = float(np.exp(np.log(xf).mean()))
    law = fit_power_law(xf, ef, scale=scale)
    around = np.array([law.a * scale**law.c, law.b / scale, law.c, law.d])
    boot = np.full((n_bootstrap, 4), np.nan)
    rng = np.random.default_rng(seed)
    u = xf / scale
    for i in range(n_bootstrap):
        rows = rng.integers(0, len(xf), len(xf))
        params = _refit(u[rows], ef[rows], around)
        if params is not None:
            a, b, c, d = params
            boot[i] = (a * scale ** (-c), b * scale, c, d)
        if on_replicate is not None:
            on_replicate()
    return FamilyFit(
        family=family,
        law=law,
        scale=scale,
        x=x,
        error=error,
        models=models,
        front=front,
        fitted=fitted,
        heldout=heldout,
        holdout_above=holdout_above,
        boot=boot,
        seed=seed,
        pareto=pareto,
        bins_per_decade=bins_per_decade,
    )


def _crossings_of(f, g, lo: float, hi: float, points: int = 400) -> list[tuple[float, int]]:
    """Each x in [lo, hi] where f - g changes sign, with the sign of f - g just after it."""
    grid = np.logspace(np.log10(lo), np.log10(hi), points)
    diff = f(grid) - g(grid)
    found = []
    for i in np.flatnonzero(np.sign(diff[:-1]) * np.sign(diff[1:]) < 0):
        t = brentq(lambda t: float(f(10**t) - g(10**t)), np.log10(grid[i]), np.log10(grid[i + 1]))
        found.append((float(10**t), int(np.sign(diff[i + 1]))))
    return found


def _matched_replicates(
    estimates: list[tuple[float, int]], replicate: list[tuple[float, int]]
) -> list[float]:
    """One replicate's value of each estimated crossing (NaN: it has no matching crossing).

    Each replicate crossing goes to the nearest estimated crossing (in log x) with the same
    direction (the same family better after it); an estimated crossing takes the nearest of the
    replicate crossings it received. A replicate that crosses once thus informs one crossing, not
    all of them, and never one where the other family takes the lead.
    """
    values = [np.nan] * len(estimates)
    logs = np.log10([x for x, _ in estimates])
    for x, direction in replicate:
        same = [k for k, (_, d) in enumerate(estimates) if d == direction]
        if not same:
            continue
        k = min(same, key=lambda k: abs(logs[k] - np.log10(x)))
        if np.isnan(values[k]) or abs(np.log10(x) - logs[k]) < abs(np.log10(values[k]) - logs[k]):
            values[k] = x
    return values


def crossings(first: FamilyFit, second: FamilyFit, lo: float, hi: float) -> dict:
    """Where the two fitted curves cross in [lo, hi], each crossing with its bootstrap interval.

    Replicate i pairs the i-th bootstrap law of each family. Each printed crossing's interval is
    over the replicates' matching crossing (:func:`_matched_replicates`): the same crossing, not
    the replicates' last one, which for curves that cross several times is another crossing.
    ``share`` is the fraction of replicates that have it. A percentile interval can still miss
    its point estimate (a skewed or unstable bootstrap); ``estimate_in_ci`` says so, and the
    CLI prints it. ``crossing_ci95`` and ``share_crossing`` are those of the last crossing,
    the one that decides which family is better at scale.
    """
    found = _crossings_of(first.predict, second.predict, lo, hi)
    n = min(len(first.boot), len(second.boot))
    replicates = [
        _crossings_of(PowerLaw(*first.boot[i]).predict, PowerLaw(*second.boot[i]).predict, lo, hi)
        for i in range(n)
        if np.isfinite(first.boot[i]).all() and np.isfinite(second.boot[i]).all()
    ]
    reps = np.array(
        [_matched_replicates(found, r) if found else [] for r in replicates], dtype=float
    ).reshape(len(replicates), len(found))
    details = []
    for k, (x, direction) in enumerate(found):
        values = reps[:, k][np.isfinite(reps[:, k])]
        ci = (
            [float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))]
            if len(values) >= 10
            else None
        )
        details.append(
            {
                "x": x,
                "ci95": ci,
                "share": float(len(values) / len(reps)) if len(reps) else None,
                "better_after": second.family if direction > 0 else first.family,
                "estimate_in_ci": None if ci is None else bool(ci[0] <= x <= ci[1]),
            }
        )
    result = {
        "families": [first.family, second.family],
        "range": [lo, hi],
        "crossings": [x for x, _ in found],
        "crossing_details": details,
        "n_replicates": int(len(reps)),
        "share_crossing": details[-1]["share"] if details else None,
        "crossing_ci95": details[-1]["ci95"] if details else None,
    }
    if details:
        result["better_beyond_last_crossing"] = details[-1]["better_after"]
    else:
        mid = float(np.sqrt(lo * hi))
        result["better_throughout"] = (
            first.family if first.predict(mid) < second.predict(mid) else second.family
        )
        if replicates:
            result["share_crossing"] = float(np.mean([bool(r) for r in replicates]))
    return result


@dataclass
class Comparison:
    """Scaling laws of several families, where their curves cross, predictions at a target."""

    fits: dict[str, FamilyFit]
    crossings: list[dict]
    target: float | None = None

    def predictions(self) -> dict[str, dict] | None:
        """Each family's predicted error (with bootstrap interval) and accuracy at the target."""
        if self.target is None:
            return None
        return {
            name: {
                "error": float(fit.predict(self.target)),
                "error_ci95": list(fit.prediction_interval(self.target)),
                "accuracy": 1.0 - float(fit.predict(self.target)),
            }
            for name, fit in self.fits.items()
        }

    def to_dict(self) -> dict:
        out: dict = {
            "families": {name: fit.to_dict() for name, fit in self.fits.items()},
            "crossings": self.crossings,
        }
        if self.target is not None:
            out.update(target=self.target, predictions=self.predictions())
        return out


def compare_families(
    families: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    holdout_above: float | None = None,
    target: float | None = None,
    n_bootstrap: int = 200,
    seed: int = 0,
    crossing_range: tuple[float, float] | None = None,
    pareto: str = "binned",
    bins_per_decade: float = BINS_PER_DECADE,
    on_replicate: Callable[[], None] | None = None,
) -> Comparison:
    """Fit every family and compare them: exponents, floors, crossings, predictions at a target.

    ``families`` maps a name to (x, accuracy, model names); accuracies are fractions. Family i
    is bootstrapped with seed ``seed + i``. Crossings are searched from the smallest x to 1,000
    times the largest x of the data unless ``crossing_range`` is given. ``pareto`` and
    ``bins_per_decade`` choose each family's front (:func:`front_mask`). ``on_replicate`` is
    called after each bootstrap refit (for a progress bar).
    """
    fits: dict[str, FamilyFit] = {}
    for i, (name, (x, acc, models)) in enumerate(families.items()):
        fits[name] = fit_family(
            name,
            x,
            1.0 - np.asarray(acc, dtype=float),
            models,
            holdout_above=holdout_above,
            n_bootstrap=n_bootstrap,
            seed=seed + i,
            pareto=pareto,
            bins_per_decade=bins_per_decade,
            on_replicate=on_replicate,
        )
    all_x = np.concatenate([f.x for f in fits.values()])
    lo, hi = crossing_range or (float(all_x.min()), float(all_x.max()) * 1e3)
    pairs = itertools.combinations(list(fits), 2)
    return Comparison(
        fits=fits,
        crossings=[crossings(fits[p], fits[q], lo, hi) for p, q in pairs],
        target=target,
    )
