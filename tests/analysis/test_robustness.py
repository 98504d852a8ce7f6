"""Effective robustness: the baseline fit on the shipped timm testbed, run pairing, the command."""

import csv
import gzip
import json

import numpy as np
import pytest
from scipy.special import expit, logit, ndtri
from typer.testing import CliRunner

from reassess.analysis.robustness import effective_robustness, fit_baseline, relative_robustness
from reassess.analysis.testbed import load_testbed, standard_model_rule
from reassess.cli.app import app
from reassess.cli.main import main  # noqa: F401  (registers every command on the app)
from reassess.datasets import parse_data_spec
from reassess.datasets.shifts import imagenet_a_classes
from reassess.labels.resources import data_file
from reassess.store.predictions import Predictions
from tests.conftest import SHARED_DATA

TIMM = SHARED_DATA / "timm-results"


def _independent_v2_pairs():
    """(ImageNet, V2) top-1 of standard models, read straight from timm's CSVs (or the shipped
    copy when ../shared is absent) with the csv module, joined on model and image size."""

    def read(name):
        with open(TIMM / name, newline="") as f:
            return {(r["model"], r["img_size"]): float(r["top1"]) for r in csv.DictReader(f)}

    if TIMM.exists():
        val = read("results-imagenet.csv")
        v2 = read("results-imagenetv2-matched-frequency.csv")
    else:
        with gzip.open(data_file("timm_testbed.csv.gz"), "rt") as f:
            rows = list(csv.DictReader(f))
        val = {(r["model"], r["img_size"]): float(r["imagenet"]) for r in rows if r["imagenet"]}
        v2 = {(r["model"], r["img_size"]): float(r["imagenetv2"]) for r in rows if r["imagenetv2"]}
    keys = [k for k in val if k in v2 and standard_model_rule(k[0]) is None]
    x = np.array([val[k] for k in keys]) / 100
    y = np.array([v2[k] for k in keys]) / 100
    return x, y


def test_v2_baseline_matches_an_independent_least_squares_fit():
    """Done-when of issue 8: the tool computes the V2-vs-ImageNet fit from the shipped testbed,
    and it equals numpy.polyfit on logit-transformed accuracies read from timm's CSVs."""
    names, x, y = load_testbed().pairs("imagenetv2")
    fit = fit_baseline(x, y, space="logit", n_bootstrap=0)
    x_ref, y_ref = _independent_v2_pairs()
    slope, intercept = np.polyfit(logit(x_ref), logit(y_ref), 1)
    assert len(x_ref) == fit.n_models == 1209
    assert fit.slope == pytest.approx(slope, abs=1e-9)
    assert fit.intercept == pytest.approx(intercept, abs=1e-9)
    # the figures the command prints
    assert round(fit.slope, 4) == 0.9074 and round(fit.intercept, 4) == -0.4753
    assert round(fit.r2, 3) == 0.994
    # probit space, same check
    probit = fit_baseline(x, y, space="probit", n_bootstrap=0)
    p_slope, p_intercept = np.polyfit(ndtri(x_ref), ndtri(y_ref), 1)
    assert probit.slope == pytest.approx(p_slope, abs=1e-9)
    assert probit.intercept == pytest.approx(p_intercept, abs=1e-9)


def test_standard_model_rule_and_counts():
    assert standard_model_rule("resnet50.a1_in1k") is None
    assert standard_model_rule("deit_base_distilled_patch16_224.fb_in1k") is None
    assert standard_model_rule("vit_base_patch16_224.augreg_in21k_ft_in1k") == "extra data: in21k"
    assert standard_model_rule("resnext50_32x4d.fb_swsl_ig1b_ft_in1k").startswith("extra data")
    assert standard_model_rule("tf_efficientnet_b7.ns_jft_in1k") == "extra data: ns, jft"
    assert standard_model_rule("vit_base_patch16_clip_224.openai_ft_in1k") == "extra data: openai"
    assert standard_model_rule("resnetv2_50x1_bit.goog_distilled_in1k").startswith("extra data")
    assert standard_model_rule("inception_v3.tf_adv_in1k") == "robustness intervention: adv"
    testbed = load_testbed()
    assert len(testbed) == 1557 and int(testbed.standard.sum()) == 1209


def test_bootstrap_band_is_seeded_and_covers_the_fit():
    _, x, y = load_testbed().pairs("imagenet-r")
    a = fit_baseline(x, y, n_bootstrap=300, seed=3)
    b = fit_baseline(x, y, n_bootstrap=300, seed=3)
    c = fit_baseline(x, y, n_bootstrap=300, seed=4)
    assert np.array_equal(a.boot_slopes, b.boot_slopes)
    assert not np.array_equal(a.boot_slopes, c.boot_slopes)
    grid = np.array([0.7, 0.8, 0.9])
    lo, hi = a.band(grid)
    assert (lo < a.predict(grid)).all() and (a.predict(grid) < hi).all()
    slope_lo, slope_hi = a.interval("slope")
    assert slope_lo < a.slope < slope_hi


def test_effective_robustness_of_points_on_and_above_the_line():
    rng = np.random.default_rng(0)
    acc_in = rng.uniform(0.55, 0.9, 200)
    acc_shift = expit(0.9 * logit(acc_in) - 0.4 + rng.normal(0, 0.02, 200))
    fit = fit_baseline(acc_in, acc_shift, n_bootstrap=500)
    on_line = float(expit(fit.slope * logit(0.8) + fit.intercept))
    zero = effective_robustness(fit, 0.8, on_line, n_in=50_000, n_shift=10_000)
    assert zero.value == pytest.approx(0.0, abs=1e-12)
    assert zero.ci95[0] < 0 < zero.ci95[1]
    above = effective_robustness(fit, 0.8, on_line + 0.05, n_in=50_000, n_shift=10_000)
    assert above.value == pytest.approx(0.05) and above.ci95[0] > 0.03
    rel, (lo, hi) = relative_robustness(0.70, 0.68, n=10_000, n_base=10_000)
    assert rel == pytest.approx(0.02) and lo < 0.02 < hi and lo > 0.0


def _write_run(path, model, data_spec, predictions):
    from tests.conftest import store_run

    return store_run(path, model, data_spec, predictions)


def _top1_predictions(ids, labels, accuracy, rng):
    wrong = rng.random(len(labels)) >= accuracy
    top1 = np.where(wrong, (labels + 1) % 1000, labels)
    return Predictions(np.asarray(ids, dtype=object), labels, top1[:, None].astype(np.int16))


@pytest.fixture
def paired_runs(tmp_path, shipped_resnet50_predictions):
    """A real ResNet-50's val predictions and synthetic V2 predictions of known accuracy."""
    import pyarrow.parquet as pq

    table = pq.read_table(shipped_resnet50_predictions)
    val = parse_data_spec("imagenet-val")
    order = {name: i for i, name in enumerate(table.column("file_name").to_pylist())}
    rows = np.array([order[sid] for sid in val.sample_ids.tolist()])
    top1 = table.column("prediction").to_numpy()[rows].astype(np.int16)
    r50_val = Predictions(val.sample_ids, val.labels, top1[:, None])
    v2 = parse_data_spec("imagenetv2")
    rng = np.random.default_rng(1)
    return [
        _write_run(tmp_path / "r50-val", "resnet50", "imagenet-val", r50_val),
        _write_run(
            tmp_path / "r50-v2",
            "resnet50",
            "imagenetv2",
            _top1_predictions(v2.sample_ids, v2.labels, 0.66, rng),
        ),
        _write_run(
            tmp_path / "other-val",
            "other",
            "imagenet-val",
            _top1_predictions(val.sample_ids, val.labels, 0.80, rng),
        ),
        _write_run(
            tmp_path / "other-v2",
            "other",
            "imagenetv2",
            _top1_predictions(v2.sample_ids, v2.labels, 0.68, rng),
        ),
    ]


def test_robustness_command_pairs_runs_by_model(paired_runs, tmp_path):
    plot = tmp_path / "er.png"
    result = CliRunner().invoke(
        app,
        [
            "robustness",
            *map(str, paired_runs),
            "--base",
            "resnet50",
            "--bootstrap",
            "400",
            "--plot",
            str(plot),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    runs = {r["model"]: r for r in report["runs"]}
    r50 = runs["resnet50"]
    assert r50["acc_in"] == pytest.approx(0.72732) and r50["n_in"] == 50_000
    assert r50["n_shift"] == 10_000
    b = report["baseline"]
    expected = expit(b["slope"] * logit(0.72732) + b["intercept"])
    assert r50["expected_shift"] == pytest.approx(expected)
    assert r50["effective_robustness"] == pytest.approx(r50["acc_shift"] - expected)
    lo, hi = r50["effective_robustness_ci95"]
    assert lo < r50["effective_robustness"] < hi and hi - lo < 0.03
    other = runs["other"]
    assert other["relative_robustness"] == pytest.approx(other["acc_shift"] - r50["acc_shift"])
    assert r50["relative_robustness"] == 0.0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_robustness_command_needs_the_val_run(paired_runs):
    from tests.cli.test_eval_import_metrics import reassess

    result = reassess("robustness", paired_runs[1], check=False)
    assert result.returncode == 2
    assert "resnet50: no imagenet-val run among the run folders" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_imagenet_a_in_distribution_accuracy_uses_its_200_classes(tmp_path):
    from reassess.datasets.base import scoring_class_map
    from reassess.runs.robustness import run_top1

    subset = imagenet_a_classes()
    val = parse_data_spec("imagenet-val")
    inside = np.isin(val.labels, subset)
    rows = [*np.flatnonzero(inside)[:2], np.flatnonzero(~inside)[0], np.flatnonzero(inside)[2]]
    labels = val.labels[rows]
    outsider = int(labels[2])
    others = [int(c) for c in subset if c not in labels[[0, 1, 3]]]
    topk = np.array(
        [
            [outsider, labels[0]],  # right once ranked among the 200 classes
            [labels[1], others[0]],  # right
            [outsider, others[0]],  # an image of another class: left out
            [others[1], outsider],  # wrong
        ]
    )
    run = _write_run(
        tmp_path / "val", "m", "imagenet-val", Predictions(val.sample_ids[rows], labels, topk)
    )
    accuracy = run_top1(run, scoring_class_map("imagenet-a"))
    assert accuracy.n == 3 and accuracy.value == pytest.approx(2 / 3)  # the outsider image is out
