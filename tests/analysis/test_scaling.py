"""Scaling-law fits: Pareto fronts, bounded multi-start fits, crossings, the LAION comparison."""

import csv
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reassess.analysis.scaling import (
    _matched_replicates,
    binned_pareto_front,
    compare_families,
    fit_family,
    fit_power_law,
    front_mask,
    pareto_front,
)
from reassess.cli.app import app
from reassess.cli.main import main  # noqa: F401  (registers every command on the app)
from reassess.runs.errors import RunError
from reassess.runs.scaling import read_results_table
from tests.conftest import REPO, SHARED_DATA

FIXTURE = REPO / "tests" / "fixtures" / "scaling_results.csv"  # see scaling_results.md

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
    front = front_mask(x, 1 - acc)
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
        "--pareto=all",
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
    from reassess.runs.scaling import read_results_table

    def read_results(path, **options):
        table = read_results_table(path, **options)
        (families,) = table.tasks.values()
        return families, table.x_column

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


def test_binned_front_keeps_one_point_per_log_bin():
    # four runs within a factor 1.3 of compute: the plain front keeps all four, each a hair
    # better; with 5 bins per decade (edges 1e6, 1.58e6, ...) they share a bin and only the best
    # of them stays, as in Nezhurina et al.'s pipeline
    x = np.array([1.0e6, 1.1e6, 1.2e6, 1.3e6, 1.0e7, 1.2e7, 1.0e8])
    err = np.array([0.90, 0.88, 0.86, 0.84, 0.60, 0.65, 0.40])
    assert pareto_front(x, err).tolist() == [True, True, True, True, True, False, True]
    assert binned_pareto_front(x, err).tolist() == [False, False, False, True, True, False, True]
    # a bin whose best point is worse than a cheaper bin's best contributes nothing
    assert binned_pareto_front(
        np.array([1e6, 1e7, 1e8]), np.array([0.5, 0.6, 0.4]), bins_per_decade=1
    ).tolist() == [True, False, True]
    assert front_mask(x, err, method="all").sum() == 6
    with pytest.raises(ValueError, match="binned, all"):
        front_mask(x, err, method="convex")


def _two_crossing_csv(path):
    """Two families whose true laws cross twice: u^-0.2 + 0.02 and 2 u^-0.5 + 0.15, u = x / 1e9."""
    rng = np.random.default_rng(3)
    x = np.logspace(10, 16, 25)
    lines = ["family,model,compute,accuracy"]
    for name, (a, c, d) in {
        "slow": (1e9**0.2, -0.2, 0.02),
        "fast": (2 * 1e9**0.5, -0.5, 0.15),
    }.items():
        err = a * x**c + d + rng.normal(0, 0.002, len(x))
        lines += [
            f"{name},{name}{i},{xi:.6g},{1 - e:.5f}"
            for i, (xi, e) in enumerate(zip(x, err, strict=True))
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_printed_crossing_lies_in_its_own_interval(tmp_path):
    """The issue: curves crossing twice printed both crossings beside the last one's interval."""
    csv_path = _two_crossing_csv(tmp_path / "two.csv")
    args = ["scaling", str(csv_path), "--no-holdout", "--pareto=all", "--bootstrap=60"]
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0, text.output
    flat = " ".join(text.output.split())  # undo the console's line wrapping
    printed = re.findall(
        r"= ([0-9.e+, ]+?) \((?:last crossing )?95% CI \[([0-9.e+-]+), ([0-9.e+-]+)\]", flat
    )
    estimates = [(float(p), float(lo), float(hi)) for ps, lo, hi in printed for p in ps.split(",")]
    assert len(estimates) == 2, flat
    for x, lo, hi in estimates:
        assert lo <= x <= hi, f"crossing {x:.3g} printed beside the interval [{lo:.3g}, {hi:.3g}]"
    # the true crossings, found on a fine grid
    u = np.logspace(0, 8, 200001)
    diff = u**-0.2 + 0.02 - 2 * u**-0.5 - 0.15
    truth = 1e9 * u[np.flatnonzero(np.diff(np.sign(diff)))]
    report = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    (pair,) = report["crossings"]
    assert [d["better_after"] for d in pair["crossing_details"]] == ["fast", "slow"]
    for detail, true_x in zip(pair["crossing_details"], truth, strict=True):
        assert detail["estimate_in_ci"] and detail["share"] > 0.5
        assert detail["x"] == pytest.approx(true_x, rel=0.5)
    assert pair["crossing_ci95"] == pair["crossing_details"][-1]["ci95"]


def test_replicate_crossings_match_the_same_crossing():
    estimates = [(1e3, 1), (1e6, -1)]
    # a replicate crossing once, near the second: it informs the second crossing only
    assert np.isnan(_matched_replicates(estimates, [(3e6, -1)])[0])
    assert _matched_replicates(estimates, [(3e6, -1)])[1] == 3e6
    # a crossing where the other family takes the lead is not the same crossing
    assert np.isnan(_matched_replicates(estimates, [(1.1e6, 1)])[1])
    assert _matched_replicates(estimates, [(2e3, 1), (5e5, -1), (9e5, -1)]) == [2e3, 9e5]


def test_unstable_crossing_is_flagged_not_printed_silently():
    from reassess.cli.commands_robustness import _crossing_text

    detail = {
        "x": 5e9,
        "ci95": [1e10, 4e10],
        "share": 0.4,
        "better_after": "b",
        "estimate_in_ci": False,
    }
    assert "outside its own bootstrap interval" in _crossing_text(detail, 100)


def test_long_format_csv_is_never_pooled_across_tasks(tmp_path):
    base = [
        "scaling",
        str(FIXTURE),
        "--family-column=family,dataset",
        "--model-column=model,samples_seen",
        "--accuracy-column=value",
        "--bootstrap=20",
    ]
    refused = CliRunner().invoke(app, base)
    assert isinstance(refused.exception, RunError) and refused.exit_code != 0
    line = str(refused.exception)
    assert "\n" not in line and line.startswith(f"{FIXTURE}: ")
    assert "2 tasks" in line and "task: imagenet1k, mscoco" in line
    assert "metric: acc1, image_recall@5" in line and "--per-task" in line
    one = CliRunner().invoke(app, [*base, "--task=imagenet1k", "--json"])
    assert one.exit_code == 0, one.output
    report = json.loads(one.output)
    assert report["task"] == "imagenet1k/acc1" and report["filters"] == ["task=imagenet1k"]
    assert sorted(report["families"]) == [
        "clip/datacomp",
        "clip/relaion",
        "mammut/datacomp",
        "mammut/relaion",
    ]
    assert all(f["points"] == 55 for f in report["families"].values())  # 5 archs x 11 sizes
    same = CliRunner().invoke(app, [*base, "--where=task=imagenet1k", "--metric=acc1", "--json"])
    assert json.loads(same.output)["families"] == report["families"]
    plot = tmp_path / "scaling.png"
    per_task = CliRunner().invoke(app, [*base, "--per-task", f"--plot={plot}", "--json"])
    assert per_task.exit_code == 0, per_task.output
    tasks = json.loads(per_task.output)["tasks"]
    assert list(tasks) == ["imagenet1k/acc1", "mscoco/image_recall@5"]
    assert tasks["imagenet1k/acc1"]["families"] == report["families"]
    with open(FIXTURE, newline="") as f:
        coco = [r for r in csv.DictReader(f) if r["task"] == "mscoco" and r["family"] == "clip"]
    best = max(float(r["value"]) for r in coco if r["dataset"] == "datacomp")
    fitted = tasks["mscoco/image_recall@5"]["families"]["clip/datacomp"]
    assert fitted["points"] == 55 and min(h["error"] for h in fitted["heldout"]) >= 1 - best - 1e-9
    for key in tasks:
        assert Path(tasks[key]["plot"]).read_bytes()[:4] == b"\x89PNG"
    assert Path(tasks["imagenet1k/acc1"]["plot"]).name == "scaling-imagenet1k-acc1.png"
    # the true clip/datacomp and mammut/datacomp curves cross at 7.1e9 GFLOPs (scaling_results.md)
    (cross,) = [
        c
        for c in tasks["imagenet1k/acc1"]["crossings"]
        if c["families"] == ["clip/datacomp", "mammut/datacomp"]
    ]
    assert cross["crossings"][0] == pytest.approx(7.13e9, rel=0.3)
    assert cross["better_beyond_last_crossing"] == "mammut/datacomp"


def test_family_columns_and_pooled_curve_notes(tmp_path):
    table = read_results_table(
        FIXTURE,
        family_column="family",
        model_column="model,samples_seen",
        accuracy_column="value",
        task="imagenet1k",
    )
    (families,) = table.tasks.values()
    assert sorted(families) == ["clip", "mammut"] and len(families["clip"][0]) == 110
    # one family pooling two pretraining data sets into one front is named in a note
    assert any("pool 2 values of dataset (datacomp, relaion)" in n for n in table.notes)
    split = read_results_table(
        FIXTURE,
        family_column="family,dataset",
        model_column="model,samples_seen",
        accuracy_column="value",
        task="imagenet1k",
    )
    assert not split.notes and len(split.tasks["imagenet1k/acc1"]) == 4
    with pytest.raises(RunError, match="--task needs a task column"):
        read_results_table(_two_crossing_csv(tmp_path / "t.csv"), task="imagenet1k")


def test_readme_scaling_example_runs(tmp_path, monkeypatch):
    """The README's command, run as written (from the repository root), with fewer refits."""
    readme = (REPO / "README.md").read_text()
    (command,) = [line for line in readme.splitlines() if line.startswith("reassess scaling ")]
    args = shlex.split(command)[1:]
    monkeypatch.chdir(REPO)
    plot = tmp_path / "scaling.png"
    args[args.index("--plot") + 1] = str(plot)  # not into the repository
    result = CliRunner().invoke(app, [*args, "--bootstrap=20"])
    assert result.exit_code == 0, result.output
    assert "cross at compute" in " ".join(result.output.split())
    assert plot.read_bytes()[:4] == b"\x89PNG"
