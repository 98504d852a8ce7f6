"""The robustness and scaling figures: the effective-robustness plot and the scaling-law plot."""

import numpy as np
import pytest

from reassess.analysis.robustness import fit_baseline
from reassess.analysis.scaling import fit_family
from reassess.analysis.testbed import load_testbed
from reassess.report.plots import BLUE
from reassess.report.robustness_figures import plot_effective_robustness, plot_scaling, save_figure
from tests.analysis.test_scaling import _family


def test_plot_returns_a_figure(tmp_path):
    _, x, y = load_testbed().pairs("imagenet-sketch")
    fit = fit_baseline(x, y, space="probit", n_bootstrap=100)
    fig = plot_effective_robustness(fit, (x, y), [("mine", 0.8, 0.5)], shift_title="Sketch")
    assert fig.axes[0].get_yscale() == "function"
    out = save_figure(fig, tmp_path / "sketch.svg")
    assert out.read_text().lstrip().startswith("<?xml")


def test_plot_scaling_returns_a_figure():
    rng = np.random.default_rng(2)
    fits = {
        name: fit_family(name, x, 1 - acc, m, n_bootstrap=10)
        for name, (x, acc, m) in {
            "one": _family(20.0, 0.0, -0.2, 0.1, np.logspace(6, 10, 12), rng, 0.002),
            "two": _family(60.0, 0.0, -0.3, 0.05, np.logspace(6, 10, 12), rng, 0.002),
        }.items()
    }
    fig = plot_scaling(fits, xlabel="GFLOPs", target=1e11)
    assert fig.axes[0].get_xscale() == "log" and len(fig.axes[0].lines) >= 2


def _line_colours(fig) -> dict[str, str]:
    """Family -> colour of its fitted curve, read off the figure (labels are 'name: law')."""
    from matplotlib.colors import to_hex

    return {
        line.get_label().split(":")[0]: to_hex(line.get_color())
        for line in fig.axes[0].lines
        if ":" in line.get_label()
    }


def test_plot_scaling_colours_follow_the_family_and_the_legend_clears_the_data():
    from reassess.report.robustness_figures import family_colours

    rng = np.random.default_rng(4)
    fits = {
        name: fit_family(name, x, 1 - acc, m, n_bootstrap=0)
        for name, (x, acc, m) in {
            "clip": _family(20.0, 0.0, -0.2, 0.1, np.logspace(6, 10, 12), rng, 0.002),
            "mammut": _family(60.0, 0.0, -0.3, 0.05, np.logspace(6, 10, 12), rng, 0.002),
            "siglip": _family(30.0, 0.0, -0.25, 0.08, np.logspace(6, 10, 12), rng, 0.002),
        }.items()
    }
    both = _line_colours(plot_scaling(fits))
    assert len(set(both.values())) == 3  # three families, three colours
    # the same family keeps its colour whatever order the families come in or who else is drawn
    reordered = _line_colours(plot_scaling(dict(reversed(list(fits.items())))))
    alone = _line_colours(plot_scaling({"mammut": fits["mammut"]}))
    assert reordered == both and alone["mammut"] == both["mammut"]
    assert both == {k: v.lower() for k, v in family_colours(["siglip", "clip", "mammut"]).items()}
    # an explicit map (the CLI passes one for all of a run's per-task plots) wins
    assert _line_colours(plot_scaling(fits, colours={"clip": "#123456"}))["clip"] == "#123456"
    # the legend sits beside the axes, never over the points
    fig = plot_scaling(fits, title="imagenet1k/acc1")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.x0 >= ax.get_window_extent(renderer).x1
    assert ax.get_title().startswith("imagenet1k/acc1: ")


def test_runs_get_clopper_pearson_error_bars_inside_the_axes():
    from reassess.metrics.stats import clopper_pearson

    _, x, y = load_testbed().pairs("imagenetv2")
    fit = fit_baseline(x, y, n_bootstrap=50)
    # a tiny run far out on both axes: its 95% interval must be drawn whole
    fig = plot_effective_robustness(fit, (x, y), [("tiny", 0.99, 0.97, 100, 100)])
    ax = fig.axes[0]
    (bars,) = ax.containers
    x_lo, x_hi = clopper_pearson(99, 100)
    y_lo, y_hi = clopper_pearson(97, 100)
    segments = [s for c in bars.lines[2] for s in c.get_segments()]
    ends = np.array([p for s in segments for p in s])
    assert ends[:, 0].min() == pytest.approx(x_lo) and ends[:, 1].min() == pytest.approx(y_lo)
    assert ends[:, 1].max() == pytest.approx(y_hi)
    (left, right), (bottom, top) = ax.get_xlim(), ax.get_ylim()
    assert left <= x_lo and x_hi <= right and bottom <= y_lo and y_hi <= top


def test_imagenet_a_plot_draws_the_two_piece_baseline():
    from reassess.analysis.robustness import fit_piecewise

    _, x, y = load_testbed().pairs("imagenet-a")
    fit = fit_piecewise(x, y, n_bootstrap=50)
    fig = plot_effective_robustness(fit, (x, y), [("mine", 0.95, 0.3, 10_000, 7_500)])
    ax = fig.axes[0]
    baseline = [line for line in ax.lines if line.get_color() == BLUE]
    assert len(baseline) == 2  # one line per piece, split at the breakpoint
    below, above = (line.get_xdata() for line in baseline)
    assert below.max() < 0.9186 <= above.min()
    assert np.allclose(baseline[1].get_ydata(), fit.above.predict(above))
    assert "below 91.86%" in ax.get_title()
    assert any(t.get_text() == "breakpoint (91.86%)" for t in ax.get_legend().get_texts())
