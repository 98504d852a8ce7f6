"""The figures of ``reassess robustness`` and ``reassess scaling``, drawn with matplotlib.

The fits they draw are computed in :mod:`reassess.analysis.robustness` (the effective-robustness
baseline) and :mod:`reassess.analysis.scaling` (the families' scaling laws); each function here
returns a matplotlib Figure (no pyplot state) that :func:`save_figure` writes.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtr, ndtri

from reassess.report.plots import BLUE, GREEN, GREY, ORANGE, PURPLE, SKY, STYLE, VERMILION, plain
from reassess.store.atomic import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from reassess.analysis.robustness import BaselineFit
    from reassess.analysis.scaling import FamilyFit


# --- effective robustness -----------------------------------------------------------------------


def _axis_scale(ax, space: str, which: str) -> None:
    """Put one axis on the fit's T scale (logit or probit), ticked in percent."""
    from matplotlib.ticker import FixedLocator, PercentFormatter

    set_scale = ax.set_xscale if which == "x" else ax.set_yscale
    if space == "logit":
        set_scale("logit")
    else:
        set_scale("function", functions=(lambda p: ndtri(np.clip(p, 1e-6, 1 - 1e-6)), ndtr))
    axis = ax.xaxis if which == "x" else ax.yaxis
    ticks = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_minor_locator(FixedLocator([]))
    axis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))


def plot_effective_robustness(
    fit: BaselineFit,
    reference: tuple[np.ndarray, np.ndarray],
    runs: list[tuple[str, float, float]] | None = None,
    *,
    shift_title: str = "shifted test set",
    in_title: str = "ImageNet",
    others: tuple[np.ndarray, np.ndarray] | None = None,
) -> Figure:
    """Shift vs in-distribution accuracy on T-scaled axes: baseline, band, testbed, runs.

    ``reference`` are the (acc_in, acc_shift) of the models the baseline was fitted on,
    ``others`` optionally the testbed models left out of it (extra data, interventions), and
    ``runs`` (label, acc_in, acc_shift) the user's models, highlighted. Returns a matplotlib
    Figure (no pyplot state); save it with :func:`save_figure`.
    """
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(6.0, 4.8))
        ax = fig.add_subplot()
        if others is not None and len(others[0]):
            ax.scatter(*others, s=6, color=GREY, alpha=0.35, lw=0, label="other testbed models")
        ax.scatter(
            *reference,
            s=7,
            color=BLUE,
            alpha=0.5,
            lw=0,
            label=f"standard models (n={fit.n_models})",
        )
        points = [np.asarray(reference[0])] + ([np.asarray(others[0])] if others else [])
        points += [np.array([r[1] for r in runs or []])]
        everything = np.concatenate([p for p in points if p.size])
        lo, hi = (
            max(float(everything.min()) - 0.03, 0.005),
            min(float(everything.max()) + 0.02, 0.995),
        )
        grid = np.linspace(lo, hi, 200)
        ax.plot(grid, fit.predict(grid), color=BLUE, lw=1.4, label=f"baseline ({fit.space} fit)")
        if fit.boot_slopes.size:
            band_lo, band_hi = fit.band(grid)
            ax.fill_between(grid, band_lo, band_hi, color=BLUE, alpha=0.2, lw=0, label="95% band")
        ax.plot(grid, grid, color=GREY, lw=0.8, ls="--", label="y = x")
        for i, (label, acc_in, acc_shift) in enumerate(runs or []):
            ax.scatter(
                [acc_in],
                [acc_shift],
                s=46,
                color=VERMILION,
                marker="*",
                zorder=5,
                label="your runs" if i == 0 else None,
            )
            ax.annotate(
                plain(label),
                (acc_in, acc_shift),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=7,
                color=VERMILION,
            )
        _axis_scale(ax, fit.space, "x")
        _axis_scale(ax, fit.space, "y")
        ax.set_xlim(lo, hi)
        ys = np.concatenate([np.asarray(reference[1])] + [np.array([r[2] for r in runs or []])])
        ax.set_ylim(max(float(ys.min()) - 0.02, 0.005), min(max(float(ys.max()) + 0.03, hi), 0.995))
        ax.set_xlabel(f"{plain(in_title)} top-1 ({fit.space} scale)")
        ax.set_ylabel(f"{plain(shift_title)} top-1 ({fit.space} scale)")
        ax.set_title(
            f"{plain(shift_title)} vs {plain(in_title)}: T(y) = {fit.slope:.3f} T(x) "
            f"{'+' if fit.intercept >= 0 else '-'} {abs(fit.intercept):.3f}, R² = {fit.r2:.3f}"
        )
        ax.legend(loc="upper left")
        fig.tight_layout()
    return fig


# --- scaling laws -------------------------------------------------------------------------------


def plot_scaling(
    fits: dict[str, FamilyFit],
    *,
    xlabel: str = "compute",
    target: float | None = None,
    crossings_at: list[float] | None = None,
) -> Figure:
    """Error vs scale on log-log axes: all points, the Pareto fronts, fits with bootstrap bands,
    held-out points and crossings. Returns a matplotlib Figure (save with ``save_figure``)."""
    import matplotlib
    from matplotlib.figure import Figure

    colours = [BLUE, VERMILION, GREEN, ORANGE, PURPLE, SKY]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(6.4, 4.6))
        ax = fig.add_subplot()
        all_x = np.concatenate([f.x for f in fits.values()])
        right = max(float(all_x.max()) * 30, target or 0, max(crossings_at or [0]) * 2)
        grid = np.logspace(np.log10(all_x.min()), np.log10(right), 300)
        for colour, (name, fit) in zip(itertools.cycle(colours), fits.items()):
            other = ~fit.front
            ax.scatter(fit.x[other], fit.error[other], s=8, color=colour, alpha=0.25, lw=0)
            ax.scatter(
                fit.x[fit.fitted],
                fit.error[fit.fitted],
                s=18,
                color=colour,
                label=f"{plain(name)} front (fitted)",
            )
            if fit.heldout.any():
                ax.scatter(
                    fit.x[fit.heldout],
                    fit.error[fit.heldout],
                    s=40,
                    facecolor="white",
                    edgecolor=colour,
                    lw=1.4,
                    marker="D",
                    zorder=4,
                    label=f"{plain(name)} held out",
                )
            law = fit.law
            ax.plot(
                grid,
                fit.predict(grid),
                color=colour,
                lw=1.3,
                label=f"{plain(name)}: {law.a:.3g}(C+{law.b:.3g})^{law.c:.3f} + {law.d:.3f}",
            )
            reps = fit.boot_predictions(grid)
            if np.isfinite(reps).any():
                ax.fill_between(
                    grid,
                    np.nanquantile(reps, 0.025, axis=0),
                    np.nanquantile(reps, 0.975, axis=0),
                    color=colour,
                    alpha=0.15,
                    lw=0,
                )
        for x in crossings_at or []:
            ax.axvline(x, color="#555555", lw=0.8, ls=":")
        if target is not None:
            ax.axvline(target, color="#555555", lw=0.8, ls="--", label="target")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(plain(xlabel))
        ax.set_ylabel("error (1 - accuracy)")
        ax.set_title("Scaling laws fitted on the Pareto front (95% bootstrap bands)")
        ax.legend(loc="lower left", fontsize=7)
        fig.tight_layout()
    return fig


# --- files --------------------------------------------------------------------------------------


def save_figure(fig: Figure, path: Path) -> Path:
    """Write a figure atomically; the format follows the suffix (.png, .svg, .pdf)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"{path}: plot files must end in .png, .svg or .pdf")
    atomic_write(
        path,
        lambda tmp: fig.savefig(
            tmp,
            format=fmt,
            bbox_inches="tight",
            dpi=150,
            metadata={"Date": None} if fmt == "svg" else None,
        ),
    )
    return path
