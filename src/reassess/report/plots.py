"""The report's figures, drawn with matplotlib and embedded as SVG data URIs (no files, no network).

Every function takes plain numbers (already computed elsewhere) and returns a ``data:`` URI that an
``<img>`` tag can show. SVG inside ``<img>`` never runs scripts, and matplotlib escapes the text it
writes, so a class or model name with markup in it stays text.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

# Okabe & Ito's colour-blind safe palette.
BLUE, ORANGE, GREEN, VERMILION = "#0072B2", "#E69F00", "#009E73", "#D55E00"
SKY, PURPLE, GREY, YELLOW = "#56B4E9", "#CC79A7", "#7F7F7F", "#F0E442"
# Severity of a mistake (reassess.analysis.severity): none = forgiven (not a mistake, label error).
SEVERITY_COLOURS = {"none": GREEN, "minor": SKY, "borderline": YELLOW, "major": VERMILION}

STYLE = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "axes.edgecolor": "#555555",
    "svg.fonttype": "none",
    "svg.hashsalt": "reassess",
    "figure.dpi": 100,
}


@dataclass(frozen=True)
class Bar:
    """One labelled value with an optional 95% interval and sample count."""

    label: str
    value: float
    lo: float | None = None
    hi: float | None = None
    n: int | None = None
    group: str | None = None


@dataclass(frozen=True)
class Point:
    """One run in a scatter plot: x and y with optional 95% intervals."""

    label: str
    x: float
    y: float
    x_ci: tuple[float, float] | None = None
    y_ci: tuple[float, float] | None = None


def plain(text: str) -> str:
    """Text as matplotlib should draw it literally (``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def short(text: str, width: int = 34) -> str:
    """A label cut to ``width`` characters in the middle, for annotations inside a plot."""
    text = str(text)
    if len(text) <= width:
        return text
    half = (width - 1) // 2
    return text[:half] + "…" + text[-(width - 1 - half) :]


@contextmanager
def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=(width, height))
        try:
            yield fig
        finally:
            plt.close(fig)


def _to_uri(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _errors(bars: Sequence[Bar], scale: float) -> np.ndarray | None:
    if not any(b.lo is not None and b.hi is not None for b in bars):
        return None
    lo = [scale * (b.value - b.lo) if b.lo is not None else 0.0 for b in bars]
    hi = [scale * (b.hi - b.value) if b.hi is not None else 0.0 for b in bars]
    return np.clip(np.array([lo, hi]), 0, None)


def category_bars(categories: Sequence[tuple[str, dict[str, int]]], total_samples: int) -> str:
    """Mistakes per category, largest on top: each bar split by severity (stacked counts)."""
    rows = sorted(categories, key=lambda c: sum(c[1].values()))
    totals = [sum(counts.values()) for _, counts in rows]
    total = sum(totals)
    with _figure(6.4, 0.36 * len(rows) + 1.0) as fig:
        ax = fig.add_subplot()
        y = np.arange(len(rows))
        left = np.zeros(len(rows))
        shown = []
        for severity, colour in [*SEVERITY_COLOURS.items(), ("unknown", GREY)]:
            if severity == "unknown":
                widths = np.array(
                    [
                        sum(v for k, v in counts.items() if k not in SEVERITY_COLOURS)
                        for _, counts in rows
                    ]
                )
            else:
                widths = np.array([counts.get(severity, 0) for _, counts in rows])
            if widths.any():
                ax.barh(y, widths, left=left, color=colour, height=0.7)
                shown.append(_patch(colour, severity))
            left += widths
        ax.set_yticks(y, [plain(label) for label, _ in rows])
        ax.grid(axis="y", visible=False)
        right = max(totals, default=1) or 1
        for yi, n in zip(y, totals, strict=True):
            share = n / total if total else 0
            ax.text(
                n + right * 0.01,
                yi,
                f"{int(n):,}  ({100 * share:.1f}% of mistakes, "
                f"{100 * n / max(total_samples, 1):.1f}% of images)",
                va="center",
                fontsize=7.5,
                color="#333333",
            )
        ax.set_xlim(0, right * 1.75)
        ax.xaxis.set_major_locator(_integer_ticks())
        ax.set_xlabel("top-1 mistakes")
        if shown:
            ax.legend(handles=shown, title="severity", loc="lower right")
        return _to_uri(fig)


def _integer_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _patch(colour: str, label: str):
    from matplotlib.patches import Patch

    return Patch(color=colour, label=label)


def interval_dots(
    bars: Sequence[Bar],
    *,
    xlabel: str,
    reference: float | None = None,
    reference_label: str | None = None,
    percent: bool = True,
    show_n: bool = True,
) -> str:
    """Values with 95% intervals as dots and whiskers, one row each, in the order given (top first)."""
    scale = 100.0 if percent else 1.0
    rows = list(reversed(bars))
    with _figure(6.4, 0.24 * len(rows) + 1.1) as fig:
        ax = fig.add_subplot()
        y = np.arange(len(rows))
        values = np.array([scale * b.value for b in rows])
        ax.errorbar(
            values,
            y,
            xerr=_errors(rows, scale),
            fmt="o",
            color=BLUE,
            ecolor="#9ab8d6",
            elinewidth=1.6,
            markersize=4,
            capsize=0,
        )
        labels = [
            plain(b.label) + (f"  (n={b.n:,})" if show_n and b.n is not None else "") for b in rows
        ]
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.grid(axis="y", visible=False)
        if reference is not None:
            ax.axvline(scale * reference, color=VERMILION, linewidth=1, linestyle="--")
            if reference_label:
                ax.text(
                    scale * reference,
                    len(rows) - 0.35,
                    " " + plain(reference_label),
                    color=VERMILION,
                    fontsize=7.5,
                    va="bottom",
                )
        if percent:
            lows = [scale * b.lo for b in rows if b.lo is not None] + list(values)
            ax.set_xlim(max(0.0, min(lows) - 5), 100.5)
        ax.set_xlabel(xlabel)
        return _to_uri(fig)


def ratio_bars(bars: Sequence[Bar], *, xlabel: str) -> str:
    """Error ratios (1 = as often wrong as overall): bars from 1, sorted, largest on top."""
    rows = sorted(bars, key=lambda b: b.value)
    with _figure(6.4, 0.28 * len(rows) + 1.1) as fig:
        ax = fig.add_subplot()
        y = np.arange(len(rows))
        values = np.array([b.value for b in rows])
        colours = [VERMILION if v > 1 else BLUE for v in values]
        ax.barh(y, values - 1, left=1, color=colours, height=0.65)
        ax.axvline(1, color="#333333", linewidth=0.8)
        labels = [plain(b.label) + (f"  (n={b.n:,})" if b.n is not None else "") for b in rows]
        ax.set_yticks(y, labels)
        ax.grid(axis="y", visible=False)
        for yi, v in zip(y, values, strict=True):
            ax.text(
                v + (0.02 if v >= 1 else -0.02),
                yi,
                f"{v:.2f}",
                va="center",
                ha="left" if v >= 1 else "right",
                fontsize=7.5,
            )
        span = max(abs(values - 1).max(initial=0.1), 0.1)
        ax.set_xlim(max(0, 1 - span * 1.3), 1 + span * 1.3)
        ax.set_xlabel(xlabel)
        return _to_uri(fig)


def reliability_diagram(
    lower: Sequence[float],
    upper: Sequence[float],
    confidence: Sequence[float],
    accuracy: Sequence[float],
    counts: Sequence[int],
    ece: float | None,
) -> str:
    """Accuracy against mean confidence per confidence bin, with the bin sizes underneath."""
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    confidence, accuracy = np.asarray(confidence, float), np.asarray(accuracy, float)
    counts = np.asarray(counts, float)
    with _figure(4.6, 4.6) as fig:
        grid = fig.add_gridspec(2, 1, height_ratios=[3, 1], hspace=0.08)
        ax = fig.add_subplot(grid[0])
        hist = fig.add_subplot(grid[1], sharex=ax)
        filled = counts > 0
        widths = upper - lower
        ax.bar(
            lower[filled],
            accuracy[filled],
            width=widths[filled],
            align="edge",
            color=SKY,
            edgecolor="white",
            linewidth=0.6,
            label="accuracy",
        )
        gap_low = np.minimum(accuracy, confidence)[filled]
        ax.bar(
            lower[filled],
            np.abs(confidence - accuracy)[filled],
            bottom=gap_low,
            width=widths[filled],
            align="edge",
            color="none",
            edgecolor=VERMILION,
            hatch="////",
            linewidth=0.6,
            label="gap to confidence",
        )
        ax.plot([0, 1], [0, 1], color="#333333", linestyle="--", linewidth=0.8, label="calibrated")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_ylabel("top-1 accuracy")
        ax.legend(loc="upper left")
        if ece is not None:
            ax.text(0.97, 0.04, f"ECE = {100 * ece:.2f}%", ha="right", transform=ax.transAxes)
        ax.tick_params(labelbottom=False)
        hist.bar(lower, counts, width=widths, align="edge", color=GREY, edgecolor="white")
        hist.set_ylabel("images")
        hist.set_xlabel("top-1 confidence (softmax probability)")
        hist.grid(axis="x", visible=False)
        return _to_uri(fig)


def scatter_against(
    series: dict[str, Sequence[Point]],
    *,
    xlabel: str,
    ylabel: str,
    diagonal: bool = True,
) -> str:
    """One marker series per metric against a shared x (e.g. top-1), labelled by run, with y = x."""
    colours = [BLUE, ORANGE, GREEN, PURPLE, VERMILION]
    markers = ["o", "s", "^", "D", "v"]
    with _figure(5.4, 4.4) as fig:
        ax = fig.add_subplot()
        values: list[float] = []
        for i, (name, points) in enumerate(series.items()):
            if not points:
                continue
            xs = np.array([100 * p.x for p in points])
            ys = np.array([100 * p.y for p in points])
            values += list(xs) + list(ys)
            xerr = _point_errors([p.x_ci for p in points], xs)
            yerr = _point_errors([p.y_ci for p in points], ys)
            ax.errorbar(
                xs,
                ys,
                xerr=xerr,
                yerr=yerr,
                fmt=markers[i % len(markers)],
                color=colours[i % len(colours)],
                ecolor=_faded(colours[i % len(colours)]),
                elinewidth=1.0,
                markersize=5,
                label=plain(name),
                zorder=3,
            )
            for p, x, y in zip(points, xs, ys, strict=True):
                ax.annotate(
                    plain(short(p.label)),
                    (x, y),
                    xytext=(4, 3),
                    textcoords="offset points",
                    fontsize=7,
                    color="#444444",
                )
        if values:
            lo, hi = min(values), max(values)
            pad = max(2.0, 0.08 * (hi - lo))
            lo, hi = max(0.0, lo - pad), min(100.0, hi + pad)
            if diagonal:
                ax.plot(
                    [lo, hi], [lo, hi], color=GREY, linestyle="--", linewidth=0.8, label="y = x"
                )
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper left")
        return _to_uri(fig)


def _faded(colour: str, amount: float = 0.6) -> str:
    """``colour`` mixed with white (for interval whiskers behind the markers)."""
    from matplotlib.colors import to_hex, to_rgb

    return to_hex([c + (1 - c) * amount for c in to_rgb(colour)])


def _point_errors(cis: list[tuple[float, float] | None], centre: np.ndarray) -> np.ndarray | None:
    if not any(ci is not None for ci in cis):
        return None
    lo = [c - 100 * ci[0] if ci else 0.0 for ci, c in zip(cis, centre, strict=True)]
    hi = [100 * ci[1] - c if ci else 0.0 for ci, c in zip(cis, centre, strict=True)]
    return np.clip(np.array([lo, hi]), 0, None)
