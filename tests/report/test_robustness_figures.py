"""The robustness and scaling figures: the effective-robustness plot and the scaling-law plot."""

import numpy as np

from reassess.analysis.robustness import fit_baseline
from reassess.analysis.scaling import fit_family
from reassess.analysis.testbed import load_testbed
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
