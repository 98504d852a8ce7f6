"""The report's figures, drawn with matplotlib and embedded as data URIs (no files, no network).

Every plot function takes plain numbers (already computed elsewhere) and returns a matplotlib
Figure (no pyplot state); :func:`render` turns it into an SVG and a 200 dpi PNG ``data:`` URI that
an ``<img>`` tag shows and a download link offers. SVG inside ``<img>`` never runs scripts, and
matplotlib escapes the text it writes, so a class or model name with markup in it stays text.

Layout rules every plot keeps (tests/report/test_plots.py measures them): intervals are clipped to
[0, 1] and the axes' limits include them, legends sit outside the axes, value labels are kept
inside the axes, and scatter labels never overlap (run names when they fit, else numbers and a key).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox

# Okabe & Ito's colour-blind safe palette.
BLUE, ORANGE, GREEN, VERMILION = "#0072B2", "#E69F00", "#009E73", "#D55E00"
SKY, PURPLE, GREY, YELLOW = "#56B4E9", "#CC79A7", "#7F7F7F", "#F0E442"
INK = "#222222"
# Severity of a mistake (reassess.analysis.severity): none = forgiven (not a mistake, label error).
SEVERITY_COLOURS = {"none": GREEN, "minor": SKY, "borderline": YELLOW, "major": VERMILION}
PNG_DPI = 200
LABEL_WIDTH = 40  # axis labels (class, superclass names) are cut to this many characters

STYLE = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "axes.edgecolor": "#555555",
    "hatch.linewidth": 0.6,
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


@dataclass(frozen=True)
class Curve:
    """A reference line of a scatter panel (e.g. a fitted baseline), as fractions."""

    label: str
    x: Sequence[float]
    y: Sequence[float]


@dataclass(frozen=True)
class Panel:
    """One scatter panel: its title, marker series (name -> points), optional curve and cloud."""

    title: str
    series: dict[str, Sequence[Point]]
    curve: Curve | None = None
    cloud: tuple[Sequence[float], Sequence[float], str] | None = None  # (x, y, legend label)


@dataclass(frozen=True)
class Drawing:
    """A rendered figure: the same plot as an SVG and a PNG ``data:`` URI."""

    svg: str
    png: str
    size: tuple[float, float] = field(default=(0.0, 0.0))  # inches, after the tight crop


def plain(text: str) -> str:
    """Text as matplotlib should draw it literally (``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def short(text: str, width: int = 34) -> str:
    """A label cut to ``width`` characters in the middle, for annotations inside a plot.

    >>> short("vit_large_patch14_clip_224.openai_ft_in12k_in1k", 20)
    'vit_large…in12k_in1k'
    """
    text = str(text)
    if len(text) <= width:
        return text
    half = (width - 1) // 2
    return text[:half] + "…" + text[-(width - 1 - half) :]


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def _new(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def render(fig: Figure, *, dpi: int = PNG_DPI) -> Drawing:
    """The figure as SVG and PNG data URIs (both cropped to what is drawn)."""
    with _style():
        svg, png = io.BytesIO(), io.BytesIO()
        fig.savefig(svg, format="svg", bbox_inches="tight", metadata={"Date": None})
        fig.savefig(png, format="png", bbox_inches="tight", dpi=dpi)
        box = fig.get_tightbbox(fig.canvas.get_renderer())
    return Drawing(
        "data:image/svg+xml;base64," + base64.b64encode(svg.getvalue()).decode("ascii"),
        "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii"),
        (float(box.width), float(box.height)),
    )


# --- layout helpers -----------------------------------------------------------------------------


def _clip01(value: float | None) -> float | None:
    return None if value is None else min(max(float(value), 0.0), 1.0)


def _errors(bars: Sequence[Bar], scale: float) -> np.ndarray | None:
    """Whisker lengths (2, n) of the bars' intervals, clipped to [0, 1] before scaling."""
    if not any(b.lo is not None and b.hi is not None for b in bars):
        return None
    lo = [b.value - _clip01(b.lo) if b.lo is not None else 0.0 for b in bars]
    hi = [_clip01(b.hi) - b.value if b.hi is not None else 0.0 for b in bars]
    return scale * np.clip(np.array([lo, hi]), 0, None)


def _limits(values: Sequence[float], *, scale: float, pad: float = 0.04) -> tuple[float, float]:
    """Axis limits holding every value (intervals included) with a margin, within [0, 1] +- 2%."""
    lo, hi = min(values), max(values)
    margin = max(pad * scale, 0.06 * (hi - lo))
    return max(lo - margin, -0.02 * scale), min(hi + margin, 1.02 * scale)


def _renderer(fig: Figure):
    return fig.canvas.get_renderer()


def _fit_texts_x(ax: Axes, texts: Sequence, *, margin: float = 4.0) -> None:
    """Widen the x limits until every text in ``texts`` lies inside the axes (value labels)."""
    if not texts:
        return
    renderer = _renderer(ax.figure)
    for _ in range(8):
        box = ax.get_window_extent(renderer)
        left, right = ax.get_xlim()
        per_pixel = (right - left) / box.width
        extents = [t.get_window_extent(renderer) for t in texts]
        over_right = max(e.x1 for e in extents) - (box.x1 - margin)
        over_left = (box.x0 + margin) - min(e.x0 for e in extents)
        if over_right <= 0 and over_left <= 0:
            return
        ax.set_xlim(
            left - 1.15 * max(over_left, 0) * per_pixel,
            right + 1.15 * max(over_right, 0) * per_pixel,
        )


def _legend_below(fig: Figure, axes: Sequence[Axes], handles: list, *, ncol: int) -> None:
    """A figure legend under the axes and their tick labels, so it covers nothing."""
    if not handles:
        return
    renderer = _renderer(fig)
    bottom = min(ax.get_tightbbox(renderer).y0 for ax in axes)
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, bottom / fig.bbox.height - 0.01),
        bbox_transform=fig.transFigure,
        ncol=ncol,
        handlelength=1.6,
        columnspacing=1.2,
    )


def _patch(colour: str, label: str, **kwargs):
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, label=label, **kwargs)


def _integer_ticks(nbins: int | str = "auto"):
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=nbins, integer=True)


def _faded(colour: str, amount: float = 0.6) -> str:
    """``colour`` mixed with white (for interval whiskers behind the markers)."""
    from matplotlib.colors import to_hex, to_rgb

    return to_hex([c + (1 - c) * amount for c in to_rgb(colour)])


# --- bar and dot plots --------------------------------------------------------------------------


def category_bars(categories: Sequence[tuple[str, dict[str, int]]], total_samples: int) -> Figure:
    """Mistakes per category, largest on top: each bar split by severity (stacked counts)."""
    rows = sorted(categories, key=lambda c: sum(c[1].values()))
    totals = [sum(counts.values()) for _, counts in rows]
    total = sum(totals)
    with _style():
        fig = _new(6.4, 0.36 * len(rows) + 1.0)
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
        ax.set_yticks(y, [plain(short(label, LABEL_WIDTH)) for label, _ in rows])
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.grid(axis="y", visible=False)
        right = max(totals, default=1) or 1
        labels = [
            ax.text(
                n + right * 0.01,
                yi,
                f"{int(n):,}  ({100 * n / total if total else 0:.1f}% of mistakes, "
                f"{100 * n / max(total_samples, 1):.1f}% of images)",
                va="center",
                fontsize=7.5,
                color="#333333",
            )
            for yi, n in zip(y, totals, strict=True)
        ]
        ax.set_xlim(0, right * 1.05)
        _fit_texts_x(ax, labels)
        ax.set_xlim(0, ax.get_xlim()[1])
        ax.xaxis.set_major_locator(_integer_ticks())
        ax.xaxis.set_major_formatter("{x:,.0f}")
        ax.set_xlabel("top-1 mistakes")
        _legend_below(fig, [ax], [_patch("none", "severity:", alpha=0), *shown], ncol=6)
    return fig


def interval_dots(
    bars: Sequence[Bar],
    *,
    xlabel: str,
    reference: float | None = None,
    reference_label: str | None = None,
    percent: bool = True,
    show_n: bool = True,
) -> Figure:
    """Values with 95% intervals as dots and whiskers, one row each, in the order given (top first)."""
    scale = 100.0 if percent else 1.0
    rows = list(reversed(bars))
    with _style():
        fig = _new(6.4, 0.24 * len(rows) + 1.2)
        ax = fig.add_subplot()
        y = np.arange(len(rows))
        values = np.array([scale * b.value for b in rows])
        errors = _errors(rows, scale)
        ax.errorbar(
            values,
            y,
            xerr=errors,
            fmt="o",
            color=BLUE,
            ecolor="#9ab8d6",
            elinewidth=1.6,
            markersize=4,
            capsize=0,
        )
        labels = [
            plain(short(b.label, LABEL_WIDTH))
            + (f"  (n={b.n:,})" if show_n and b.n is not None else "")
            for b in rows
        ]
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.grid(axis="y", visible=False)
        ends = list(values)
        if errors is not None:
            ends += list(values - errors[0]) + list(values + errors[1])
        if reference is not None:
            ends.append(scale * reference)
            ax.axvline(scale * reference, color=VERMILION, linewidth=1, linestyle="--")
            if reference_label:
                ax.text(
                    scale * reference,
                    len(rows) - 0.3,
                    " " + plain(reference_label),
                    color=VERMILION,
                    fontsize=7.5,
                    va="bottom",
                )
        if percent:
            ax.set_xlim(*_limits(ends, scale=scale))
        ax.set_xlabel(xlabel)
    return fig


def ratio_bars(bars: Sequence[Bar], *, xlabel: str) -> Figure:
    """Error ratios (1 = as often wrong as overall): bars from 1, sorted, largest on top."""
    rows = sorted(bars, key=lambda b: b.value)
    with _style():
        fig = _new(6.4, 0.28 * len(rows) + 1.1)
        ax = fig.add_subplot()
        y = np.arange(len(rows))
        values = np.array([b.value for b in rows])
        colours = [VERMILION if v > 1 else BLUE for v in values]
        ax.barh(y, values - 1, left=1, color=colours, height=0.65)
        ax.axvline(1, color="#333333", linewidth=0.8)
        labels = [
            plain(short(b.label, LABEL_WIDTH)) + (f"  (n={b.n:,})" if b.n is not None else "")
            for b in rows
        ]
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.grid(axis="y", visible=False)
        span = max(abs(values - 1).max(initial=0.1), 0.1)
        ax.set_xlim(max(0, 1 - span * 1.15), 1 + span * 1.15)
        texts = [
            ax.text(
                v + (0.01 if v >= 1 else -0.01) * span,
                yi,
                f"{v:.2f}",
                va="center",
                ha="left" if v >= 1 else "right",
                fontsize=7.5,
            )
            for yi, v in zip(y, values, strict=True)
        ]
        _fit_texts_x(ax, texts)
        ax.set_xlabel(xlabel)
    return fig


def reliability_diagram(
    lower: Sequence[float],
    upper: Sequence[float],
    confidence: Sequence[float],
    accuracy: Sequence[float],
    counts: Sequence[int],
    ece: float | None,
    *,
    accuracy_ci: Sequence[tuple[float, float]] | None = None,
    ece_ci: tuple[float, float] | None = None,
) -> Figure:
    """Accuracy per confidence bin (bars, 95% whiskers) against its mean confidence, sizes below.

    Bars reach the bin's accuracy; the gap to the bin's mean confidence is a hatched box from one
    to the other (over the bar when under-confident, above it when over-confident), the mean
    confidence a vermilion line. The title carries the ECE and, when given, its 95% interval.
    """
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    confidence, accuracy = np.asarray(confidence, float), np.asarray(accuracy, float)
    counts = np.asarray(counts, float)
    filled = counts > 0
    widths = upper - lower
    centres = lower + widths / 2
    with _style():
        fig = _new(4.8, 5.0)
        grid = fig.add_gridspec(2, 1, height_ratios=[3, 1], hspace=0.08)
        ax = fig.add_subplot(grid[0])
        hist = fig.add_subplot(grid[1], sharex=ax)
        ax.bar(
            lower[filled],
            accuracy[filled],
            width=widths[filled],
            align="edge",
            color=SKY,
            edgecolor="white",
            linewidth=0.6,
            label="accuracy (bin)",
            gid="accuracy",
        )
        gap = confidence - accuracy
        ax.bar(
            lower[filled],
            gap[filled],
            bottom=accuracy[filled],
            width=widths[filled],
            align="edge",
            facecolor=(0.835, 0.369, 0.0, 0.18),
            edgecolor=VERMILION,
            hatch="////",
            linewidth=0.0,
            label="gap to confidence",
            gid="gap",
        )
        ax.hlines(
            confidence[filled],
            lower[filled],
            upper[filled],
            color=VERMILION,
            linewidth=1.4,
            label="mean confidence (bin)",
        )
        if accuracy_ci is not None:
            ci = np.clip(np.asarray(accuracy_ci, float).reshape(-1, 2), 0, 1)
            err = np.clip(np.array([accuracy - ci[:, 0], ci[:, 1] - accuracy]), 0, None)
            ax.errorbar(
                centres[filled],
                accuracy[filled],
                yerr=err[:, filled],
                fmt="none",
                ecolor="#1f3f66",
                elinewidth=0.9,
                capsize=1.8,
                label="95% interval (Clopper-Pearson)",
            )
        ax.plot([0, 1], [0, 1], color="#333333", linestyle="--", linewidth=0.8, label="calibrated")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("top-1 accuracy")
        ax.set_title(_ece_title(ece, ece_ci), loc="left")
        ax.tick_params(labelbottom=False)
        hist.bar(lower, counts, width=widths, align="edge", color=GREY, edgecolor="white")
        hist.set_ylabel("images")
        hist.set_xlabel("top-1 confidence (softmax probability)")
        hist.grid(axis="x", visible=False)
        hist.yaxis.set_major_locator(_integer_ticks(3))
        handles, labels = ax.get_legend_handles_labels()
        order = ["accuracy (bin)", "95% interval (Clopper-Pearson)", "mean confidence (bin)"]
        order += ["gap to confidence", "calibrated"]
        handles = [handles[labels.index(k)] for k in order if k in labels]
        _legend_below(fig, [ax, hist], handles, ncol=2)
    return fig


def _ece_title(ece: float | None, ci: tuple[float, float] | None) -> str:
    if ece is None or not np.isfinite(ece):
        return "ECE not available"
    text = f"ECE = {100 * ece:.2f}%"
    if ci is not None and all(np.isfinite(ci)):
        return text + f"  (95% bootstrap CI {100 * ci[0]:.2f}–{100 * ci[1]:.2f}%)"
    return text + "  (no interval stored)"


# --- scatter plots ------------------------------------------------------------------------------

SERIES_COLOURS = [BLUE, ORANGE, GREEN, PURPLE, VERMILION]
SERIES_MARKERS = ["o", "s", "^", "D", "v"]
# label offsets tried around a marker, in points: right, left, above, below, the diagonals, further
_OFFSETS = [
    (d * dx, d * dy)
    for d in (1.0, 2.2, 3.6)
    for dx, dy in ((4, 3), (4, -3), (-4, 3), (-4, -3), (0, 5), (0, -5), (5, 0), (-5, 0))
]


def _alignment(dx: float, dy: float) -> tuple[str, str]:
    ha = "left" if dx > 0 else "right" if dx < 0 else "center"
    va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
    return ha, va


def _overlaps(box: Bbox, others: list[Bbox]) -> bool:
    return any(box.overlaps(o) for o in others)


def _place_labels(
    ax: Axes, points: list[tuple[float, float, str]], obstacles: list[Bbox], fontsize: float
) -> list | None:
    """Annotate each (x, y, text) at the first offset whose label hits nothing and stays inside the
    axes; returns the annotations, or None (and draws nothing) when one label finds no place."""
    renderer = _renderer(ax.figure)
    inside = ax.get_window_extent(renderer)
    placed, taken = [], list(obstacles)
    for x, y, text in points:
        for dx, dy in _OFFSETS:
            ha, va = _alignment(dx, dy)
            note = ax.annotate(
                plain(text),
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                va=va,
                fontsize=fontsize,
                color="#333333",
                annotation_clip=False,
            )
            box = note.get_window_extent(renderer).padded(1.0)
            fits = inside.x0 <= box.x0 and box.x1 <= inside.x1
            fits = fits and inside.y0 <= box.y0 and box.y1 <= inside.y1
            if fits and not _overlaps(box, taken):
                placed.append(note)
                taken.append(box)
                break
            note.remove()
        else:
            for note in placed:
                note.remove()
            return None
    return placed


def scatter_panels(
    panels: Sequence[Panel],
    *,
    xlabel: str,
    ylabel: str,
    diagonal: bool = True,
    max_named: int = 10,
) -> Figure:
    """Marker series against a shared x (e.g. top-1), one panel per data set, with y = x.

    Runs are labelled by (shortened) name where every label finds a free spot; otherwise, or
    with more than ``max_named`` runs, by a number that a key under the legend resolves.
    Limits include every 95% interval (clipped to [0, 1]); the legend sits under the panels.
    """
    panels = [p for p in panels if any(p.series.values())]
    names = list(dict.fromkeys(pt.label for p in panels for s in p.series.values() for pt in s))
    number = {name: i + 1 for i, name in enumerate(names)}
    cols = min(len(panels), 3) or 1
    rows = -(-len(panels) // cols) or 1
    with _style():
        fig = _new(4.6 * cols + 0.6, 4.3 * rows + 0.3)
        axes = [fig.add_subplot(rows, cols, i + 1) for i in range(max(len(panels), 1))]
        handles: dict[str, object] = {}
        placements = []
        series_names = list(dict.fromkeys(name for p in panels for name in p.series))
        for ax, panel in zip(axes, panels, strict=False):
            ends: list[float] = []
            marks: list[tuple[float, float, str]] = []
            if panel.cloud is not None:
                cx, cy, clabel = panel.cloud
                handles[clabel] = ax.scatter(
                    100 * np.asarray(cx), 100 * np.asarray(cy), s=4, color="#b8b8b8", lw=0,
                    zorder=1, label=plain(clabel), rasterized=True,
                )  # fmt: skip
            for name, points in panel.series.items():
                if not points:
                    continue
                i = series_names.index(name)
                colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
                xs = np.array([100 * p.x for p in points])
                ys = np.array([100 * p.y for p in points])
                xerr = _point_errors([p.x_ci for p in points], xs)
                yerr = _point_errors([p.y_ci for p in points], ys)
                ends += list(xs) + list(ys)
                for err, centre in ((xerr, xs), (yerr, ys)):
                    if err is not None:
                        ends += list(centre - err[0]) + list(centre + err[1])
                handles[name] = ax.errorbar(
                    xs,
                    ys,
                    xerr=xerr,
                    yerr=yerr,
                    fmt=SERIES_MARKERS[i % len(SERIES_MARKERS)],
                    color=colour,
                    ecolor=_faded(colour),
                    elinewidth=1.0,
                    markersize=5,
                    label=plain(name),
                    zorder=3,
                )
                marks += [(x, y, p.label) for p, x, y in zip(points, xs, ys, strict=True)]
            lo, hi = _limits(ends, scale=100.0, pad=0.015)
            if diagonal:
                handles["y = x"] = ax.plot(
                    [lo, hi], [lo, hi], color=GREY, linestyle="--", linewidth=0.8, label="y = x"
                )[0]
            if panel.curve is not None:
                handles[panel.curve.label] = ax.plot(
                    100 * np.asarray(panel.curve.x),
                    100 * np.asarray(panel.curve.y),
                    color=INK,
                    linewidth=1.2,
                    label=plain(panel.curve.label),
                    zorder=2,
                )[0]
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_aspect("equal", adjustable="box")
            if panel.title:
                ax.set_title(plain(panel.title), loc="left")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            placements.append((ax, marks))
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        fig.canvas.draw()  # fixes the equal-aspect boxes before labels are measured
        numbered = len(names) > max_named or not _label_all(placements, numbered=False)
        if numbered:
            _label_all(placements, numbered=True, number=number)
        order = [k for k in series_names if k in handles]  # series, then curve and cloud, y = x
        order += [k for k in handles if k not in series_names and k != "y = x"]
        ordered = [handles[k] for k in order] + ([handles["y = x"]] if "y = x" in handles else [])
        _legend_below(fig, axes[: len(panels)], ordered, ncol=2)
        if numbered:
            _key_below(fig, [f"{number[n]}  {short(n, 48)}" for n in names])
    return fig


def _marker_boxes(ax: Axes, marks: list[tuple[float, float, str]], radius: float = 4.0) -> list:
    from matplotlib.transforms import Bbox

    boxes = []
    for x, y, _ in marks:
        px, py = ax.transData.transform((x, y))
        boxes.append(Bbox([[px - radius, py - radius], [px + radius, py + radius]]))
    return boxes


def _label_all(
    placements: list[tuple[Axes, list[tuple[float, float, str]]]],
    *,
    numbered: bool,
    number: dict[str, int] | None = None,
) -> bool:
    """Label every panel's markers by name (False when one does not fit) or by number."""
    done = []
    for ax, marks in placements:
        labels = [(x, y, str(number[t]) if numbered else short(t)) for x, y, t in marks]
        placed = _place_labels(ax, labels, _marker_boxes(ax, marks), 7.0)
        if placed is None and numbered:  # too crowded even for numbers: the nearest offset
            placed = [
                ax.annotate(t, (x, y), xytext=(3, 2), textcoords="offset points", fontsize=6.5)
                for x, y, t in labels
            ]
        if placed is None:
            for notes in done:
                for note in notes:
                    note.remove()
            return False
        done.append(placed)
    return True


def _key_below(fig: Figure, lines: list[str]) -> None:
    """The number -> run key, in up to three columns under everything drawn so far."""
    renderer = _renderer(fig)
    bottom = fig.get_tightbbox(renderer).y0 * fig.dpi / fig.bbox.height  # inches -> fraction
    columns = min(3, max(1, -(-len(lines) // 8)))
    per = -(-len(lines) // columns)
    for c in range(columns):
        fig.text(
            0.04 + c * 0.96 / columns,
            bottom - 0.01,
            "\n".join(plain(line) for line in lines[c * per : (c + 1) * per]),
            va="top",
            ha="left",
            fontsize=7,
            color="#333333",
            gid="key",
        )


def scatter_against(
    series: dict[str, Sequence[Point]],
    *,
    xlabel: str,
    ylabel: str,
    diagonal: bool = True,
) -> Figure:
    """One panel of :func:`scatter_panels`: marker series per metric against a shared x."""
    return scatter_panels([Panel("", series)], xlabel=xlabel, ylabel=ylabel, diagonal=diagonal)


def _point_errors(cis: list[tuple[float, float] | None], centre: np.ndarray) -> np.ndarray | None:
    """Whisker lengths (2, n), in percent, of intervals clipped to [0, 1]."""
    if not any(ci is not None for ci in cis):
        return None
    lo = [c - 100 * _clip01(ci[0]) if ci else 0.0 for ci, c in zip(cis, centre, strict=True)]
    hi = [100 * _clip01(ci[1]) - c if ci else 0.0 for ci, c in zip(cis, centre, strict=True)]
    return np.clip(np.array([lo, hi]), 0, None)
