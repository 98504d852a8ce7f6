"""Scaling-law fits: Pareto fronts, bounded multi-start fits, crossings, the LAION comparison."""

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from reassess.analysis.scaling import compare_families, fit_family, fit_power_law, pareto_front
from reassess.cli.app import app
from reassess.cli.main import main  # noqa: F401  (registers every command on the app)
from tests.conftest import SHARED_DATA

LAION = SHARED_DATA / "laion-scaling" / "laion_best_per_model_samples_long.csv"
needs_laion = pytest.mark.skipif(
    not LAION.exists(), reason=f"{LAION} is absent (../shared/data beside the repository)"
)


def test_pareto_front_keeps_the_best_error_so_far():
    x = np.array([1.0, 2.0, 2.0, 3.0, 5.0, 8.0])
    err = np.array([0.9, 0.95, 0.7, 0.8, 0.6, 0.6])
    assert pareto_front(x, err).tolist() == [True, False, True, False, True, False]


def test_fit_recovers_a_known_law_and_respects_the_bounds():
    x = np.logspace(7, 12, 30)
    truth = dict(a=40.0, b=3e8, c=-0.22, d=0.12)
    error = truth["a"] * (x + truth["b"]) ** truth["c"] + truth["d"]
    law = fit_power_law(x, error)
    assert law.c == pytest.approx(truth["c"], rel=0.02)
    assert law.d == pytest.approx(truth["d"], abs=0.005)
    assert np.allclose(law.predict(x), error, atol=1e-4)
    # data that rises with compute cannot give c > 0: the bounded fit stays at c <= 0
    rising = fit_power_law(x, 0.1 + 0.05 * np.log10(x) / 12)
    assert rising.c <= 0 and rising.a >= 0 and rising.b >= 0 and rising.d >= 0


def _family(a, b, c, d, x, rng, noise=0.0):
    err = a * (x + b) ** c + d + rng.normal(0, noise, len(x))
    return x, 1.0 - err, np.array([f"m{i}" for i in range(len(x))], dtype=object)


def test_crossing_of_two_known_laws():
    # 2 (x/1e9)^-0.5 + 0.05 and (x/1e9)^-0.25 + 0.05 are equal where (x/1e9)^0.25 = 2: x = 1.6e10
    rng = np.random.default_rng(0)
    x = np.logspace(8, 12, 25)
    families = {
        "steep": _family(2 * 1e9**0.5, 0.0, -0.5, 0.05, x, rng),
        "shallow": _family(1e9**0.25, 0.0, -0.25, 0.05, x, rng),
    }
    comparison = compare_families(families, holdout_above=np.inf, n_bootstrap=8, target=1e13)
    crossing = comparison.crossings[0]
    assert len(crossing["crossings"]) == 1
    assert crossing["crossings"][0] == pytest.approx(1.6e10, rel=0.01)
    assert crossing["better_beyond_last_crossing"] == "steep"
    predictions = comparison.predictions()
    assert predictions["steep"]["error"] == pytest.approx(2 * 1e4**-0.5 + 0.05, rel=1e-3)
    json.dumps(comparison.to_dict())  # the --json output is plain JSON


def test_heldout_points_are_the_largest_front_points():
    rng = np.random.default_rng(1)
    x, acc, models = _family(30.0, 1e8, -0.2, 0.1, np.logspace(7, 12, 20), rng, noise=0.003)
    fit = fit_family("f", x, 1 - acc, models, n_bootstrap=30, seed=5)
    front = pareto_front(x, 1 - acc)
    assert fit.heldout.sum() == 1 and x[fit.heldout][0] == x[front].max()
    assert fit.fitted.sum() == front.sum() - 1
    row = fit.heldout_table()[0]
    assert row["residual"] == pytest.approx(row["error"] - float(fit.predict(row["x"])))
    assert abs(row["residual"]) < 0.02
    lo, hi = fit.interval("c")
    assert lo <= fit.law.c <= hi
    again = fit_family("f", x, 1 - acc, models, n_bootstrap=30, seed=5)
    assert np.array_equal(fit.boot, again.boot, equal_nan=True)
    with pytest.raises(ValueError, match="needs at least 5"):
        fit_family("tiny", x[:4], 1 - acc[:4])


def _independent_front_size(rows):
    """Pareto front size by a plain loop over rows sorted by compute (ties: lower error first)."""
    best, count = np.inf, 0
    for _compute, err in sorted(rows):
        if err < best:
            best, count = err, count + 1
    return count


@needs_laion
def test_laion_clip_vs_mammut(tmp_path):
    """Done-when of issue 8: CLIP and MaMMUT fits, their crossing and held-out errors."""
    with open(LAION, newline="") as f:
        rows = [
            r
            for r in csv.DictReader(f)
            if r["downstream_dataset"] == "imagenet1k"
            and r["metric"] == "acc1"
            and r["pretrain_dataset"] == "datacomp_1b"
            and r["lr_scheduler"] == "cosine"
        ]
    plot = tmp_path / "scaling.png"
    args = [
        "scaling",
        str(LAION),
        "--family-column=model_type",
        "--model-column=arch,samples_seen",
        "--x-column=compute_gflops",
        "--accuracy-column=value",
        "--where=downstream_dataset=imagenet1k",
        "--where=metric=acc1",
        "--where=pretrain_dataset=datacomp_1b",
        "--where=lr_scheduler=cosine",
        "--where=model_type=clip,mammut",
        "--holdout-above=1e12",
        "--target-compute=1e13",
        "--bootstrap=25",
        f"--plot={plot}",
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["families"]) == {"clip", "mammut"}
    for name, family in report["families"].items():
        mine = [
            (float(r["compute_gflops"]), 1 - float(r["value"]))
            for r in rows
            if r["model_type"] == name
        ]
        assert family["points"] == len(mine)
        assert family["pareto_points"] == _independent_front_size(mine)
        assert -0.4 < family["exponent_c"] < -0.1 and 0 <= family["floor_d"] < 0.25
        (held,) = family["heldout"]  # the one front point above 1e12 GFLOPs: ViT-H-14, 3B samples
        assert held["model"] == "ViT-H-14@3000000000.0" and held["x"] > 1e12
        assert abs(held["residual"]) < 0.015  # extrapolation within 1.5 points of error
    (crossing,) = report["crossings"]
    assert len(crossing["crossings"]) == 1 and 1e10 < crossing["crossings"][0] < 1e11
    assert crossing["better_beyond_last_crossing"] == "mammut"
    predictions = report["predictions"]
    assert predictions["mammut"]["accuracy"] > predictions["clip"]["accuracy"]
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_results_csv_columns_and_errors(tmp_path):
    from reassess.runs.scaling import read_results

    path = tmp_path / "results.csv"
    lines = ["family,model,params,accuracy"]
    lines += [f"A,a{i},{10**i},{100 - 60 * 2.0**-i:.2f}" for i in range(1, 8)]
    path.write_text("\n".join(lines) + "\n")
    families, x_name = read_results(path)
    assert x_name == "params" and list(families) == ["A"]
    x, acc, models = families["A"]
    assert acc[0] == pytest.approx(0.70) and models[0] == "a1"  # percentages read as such
    from reassess.runs.errors import RunError

    with pytest.raises(RunError, match="no column 'flops'"):
        read_results(path, x_column="flops")
    with pytest.raises(RunError, match="no rows left"):
        read_results(path, where=["family=B"])
