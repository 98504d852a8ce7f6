"""The figures of ``reassess robustness`` and ``reassess scaling``, drawn with matplotlib.

The fits they draw are computed in :mod:`reassess.analysis.robustness` (the effective-robustness
baseline) and :mod:`reassess.analysis.scaling` (the families' scaling laws); each function here
returns a matplotlib Figure (no pyplot state) that :func:`save_figure` writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtr, ndtri

from reassess.report.plots import BLUE, GREEN, GREY, ORANGE, PURPLE, SKY, STYLE, VERMILION, plain
from reassess.store.atomic import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from reassess.analysis.robustness import BaselineFit, PiecewiseFit
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


def _run_interval(acc: float, n: int | None) -> tuple[float, float]:
    """95% Clopper-Pearson interval of a run's accuracy from its n (the point itself without n)."""
    from reassess.metrics.stats import clopper_pearson

    if not n:
        return acc, acc
    return clopper_pearson(min(max(round(acc * n), 0), n), int(n))


def _limits(values: np.ndarray, intervals: list, below: float, above: float) -> tuple[float, float]:
    """Axis limits around the testbed points (with margins) that keep every run's interval whole.

    Points set them within [0.5%, 99.5%]; a run's interval may widen them up to [0.01%, 99.99%],
    the most a T-scaled axis shows (an interval ending at exactly 0 or 1 is cut there).
    """
    lo = max(float(values.min()) - below, 0.005) if values.size else 0.5
    hi = min(float(values.max()) + above, 0.995) if values.size else 0.5
    ends = np.array([v for ci in intervals for v in ci], dtype=np.float64)
    if ends.size:
        lo = min(lo, max(float(ends.min()) - 0.005, 1e-4))
        hi = max(hi, min(float(ends.max()) + 0.0005, 1 - 1e-4))
    return lo, hi


def plot_effective_robustness(
    fit: BaselineFit | PiecewiseFit,
    reference: tuple[np.ndarray, np.ndarray],
    runs: list[tuple] | None = None,
    *,
    shift_title: str = "shifted test set",
    in_title: str = "ImageNet",
    others: tuple[np.ndarray, np.ndarray] | None = None,
) -> Figure:
    """Shift vs in-distribution accuracy on T-scaled axes: baseline, band, testbed, runs.

    ``reference`` are the (acc_in, acc_shift) of the models the baseline was fitted on,
    ``others`` optionally the testbed models left out of it (extra data, interventions), and
    ``runs`` (label, acc_in, acc_shift[, n_in, n_shift]) the user's models, highlighted, with 95%
    Clopper-Pearson error bars on both accuracies when their n are given. A piecewise fit
    (ImageNet-A) is drawn as its two lines with the breakpoint dotted. Returns a matplotlib
    Figure (no pyplot state); save it with :func:`save_figure`.
    """
    import matplotlib
    from matplotlib.figure import Figure

    runs = [tuple(r) + (None,) * (5 - len(r)) for r in runs or []]
    bars = [(_run_interval(r[1], r[3]), _run_interval(r[2], r[4])) for r in runs]
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
        everything = np.concatenate([p for p in points if p.size])
        lo, hi = _limits(everything, [x_ci for x_ci, _ in bars], below=0.03, above=0.02)
        breakpoint = getattr(fit, "breakpoint", None)
        if breakpoint is None or not lo < breakpoint < hi:
            pieces = [np.linspace(lo, hi, 200)]
        else:
            pieces = [np.linspace(lo, breakpoint, 100), np.linspace(breakpoint, hi, 100)]
            pieces[0] = pieces[0][:-1]  # the point at the breakpoint belongs to the upper piece
        label = f"baseline ({fit.space} fit)" if breakpoint is None else "baseline (two-piece fit)"
        for i, grid in enumerate(pieces):
            ax.plot(grid, fit.predict(grid), color=BLUE, lw=1.4, label=label if i == 0 else None)
            if fit.n_bootstrap:
                band_lo, band_hi = fit.band(grid)
                ax.fill_between(
                    grid,
                    band_lo,
                    band_hi,
                    color=BLUE,
                    alpha=0.2,
                    lw=0,
                    label="95% band" if i == 0 else None,
                )
        if len(pieces) == 2:
            ax.axvline(
                breakpoint,
                color=GREY,
                lw=0.8,
                ls=":",
                label=f"breakpoint ({100 * breakpoint:.2f}%)",
            )
        ax.plot([lo, hi], [lo, hi], color=GREY, lw=0.8, ls="--", label="y = x")
        for i, ((label, acc_in, acc_shift, _, _), (x_ci, y_ci)) in enumerate(
            zip(runs, bars, strict=True)
        ):
            ax.errorbar(
                [acc_in],
                [acc_shift],
                xerr=[[max(acc_in - x_ci[0], 0)], [max(x_ci[1] - acc_in, 0)]],
                yerr=[[max(acc_shift - y_ci[0], 0)], [max(y_ci[1] - acc_shift, 0)]],
                fmt="none",
                ecolor=VERMILION,
                elinewidth=0.9,
                capsize=2,
                zorder=4,
                label="95% CI (Clopper-Pearson)" if i == 0 and any(r[3] for r in runs) else None,
            )
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
        y_lo, y_hi = _limits(np.asarray(reference[1]), [y_ci for _, y_ci in bars], 0.02, 0.03)
        ax.set_ylim(y_lo, max(y_hi, min(hi, 0.995)))
        ax.set_xlabel(f"{plain(in_title)} top-1 ({fit.space} scale)")
        ax.set_ylabel(f"{plain(shift_title)} top-1 ({fit.space} scale)")
        ax.set_title(_fit_title(fit, plain(shift_title), plain(in_title)))
        ax.legend(loc="upper left")
        fig.tight_layout()
    return fig


def _fit_title(fit: BaselineFit | PiecewiseFit, shift_title: str, in_title: str) -> str:
    def line(f: BaselineFit) -> str:
        sign = "+" if f.intercept >= 0 else "-"
        return f"{f.slope:.3f} T(x) {sign} {abs(f.intercept):.3f}"

    if getattr(fit, "breakpoint", None) is None:
        return f"{shift_title} vs {in_title}: T(y) = {line(fit)}, R² = {fit.r2:.3f}"
    return (
        f"{shift_title} vs {in_title}: T(y) = {line(fit.below)} below "
        f"{100 * fit.breakpoint:.2f}%,\n{line(fit.above)} above, R² = {fit.r2:.3f}"
    )


# --- scaling laws -------------------------------------------------------------------------------


def family_colours(names) -> dict[str, str]:
    """A colour per family that stays the same across runs and plots: picked by name, not order.

    Each name (in sorted order) takes the palette slot its CRC-32 points to, or the next free one
    if an earlier name holds it, so a family keeps its colour whatever else is plotted beside it
    unless two names collide. Past the eight palette colours, matplotlib's tab20 takes over.
    """
    import zlib

    from matplotlib import colormaps

    palette = [BLUE, VERMILION, GREEN, ORANGE, PURPLE, SKY, "#000000", "#8C6D1F"]
    names = sorted(set(names))
    if len(names) > len(palette):
        palette += [colormaps["tab20"](i / 20) for i in range(20)]
    taken: dict[int, str] = {}
    out = {}
    for name in names:
        slot = zlib.crc32(name.encode("utf-8")) % len(palette)
        while slot in taken:
            slot = (slot + 1) % len(palette)
        taken[slot] = name
        colour = palette[slot]
        out[name] = colour if isinstance(colour, str) else _hex(colour)
    return out


def _hex(rgba) -> str:
    return "#" + "".join(f"{round(255 * v):02X}" for v in rgba[:3])


def plot_scaling(
    fits: dict[str, FamilyFit],
    *,
    xlabel: str = "compute",
    target: float | None = None,
    crossings_at: list[float] | None = None,
    colours: dict[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Error vs scale on log-log axes: all points, the Pareto fronts, fits with bootstrap bands,
    held-out points and crossings. Returns a matplotlib Figure (save with ``save_figure``).

    ``colours`` maps family to colour (default :func:`family_colours`, stable across plots);
    the legend sits right of the axes so it never hides a point. ``title`` names the task.
    """
    import matplotlib
    from matplotlib.figure import Figure

    colours = {**family_colours(fits), **(colours or {})}
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(8.6, 4.6))
        ax = fig.add_subplot()
        all_x = np.concatenate([f.x for f in fits.values()])
        right = max(float(all_x.max()) * 30, target or 0, max(crossings_at or [0]) * 2)
        grid = np.logspace(np.log10(all_x.min()), np.log10(right), 300)
        for name, fit in fits.items():
            colour = colours[name]
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
        ax.set_title(
            (f"{plain(title)}: " if title else "")
            + "scaling laws fitted on the "
            + ("binned " if all(f.pareto == "binned" for f in fits.values()) else "")
            + "Pareto front (95% bootstrap bands)"
        )
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=7)
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
