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


def _independent_pairs(timm_file: str, column: str):
    """(ImageNet, shift) top-1 of standard models, read straight from timm's CSVs (or the shipped
    copy's ``column`` when ../shared is absent) with the csv module, joined on model and image size."""

    def read(name):
        with open(TIMM / name, newline="") as f:
            return {(r["model"], r["img_size"]): float(r["top1"]) for r in csv.DictReader(f)}

    if TIMM.exists():
        val, shifted = read("results-imagenet.csv"), read(timm_file)
    else:
        with gzip.open(data_file("timm_testbed.csv.gz"), "rt") as f:
            rows = list(csv.DictReader(f))
        val = {(r["model"], r["img_size"]): float(r["imagenet"]) for r in rows if r["imagenet"]}
        shifted = {(r["model"], r["img_size"]): float(r[column]) for r in rows if r[column]}
    keys = [k for k in val if k in shifted and standard_model_rule(k[0]) is None]
    x = np.array([val[k] for k in keys]) / 100
    y = np.array([shifted[k] for k in keys]) / 100
    return x, y


def _independent_v2_pairs():
    return _independent_pairs("results-imagenetv2-matched-frequency.csv", "imagenetv2")


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


def test_imagenet_a_two_piece_fit_is_two_least_squares_lines_split_at_resnet50():
    """The imagenet-testbed's ImageNet-A fit: one logit-space line below ResNet-50's 91.86% on the
    200 classes and one above, each equal to numpy.polyfit on its side of the testbed."""
    from reassess.analysis.robustness import IMAGENET_A_BREAKPOINT, fit_piecewise

    _, x, y = load_testbed().pairs("imagenet-a")
    fit = fit_piecewise(x, y, n_bootstrap=300, seed=2)
    assert IMAGENET_A_BREAKPOINT == fit.breakpoint == 0.9186
    low = x < 0.9186
    for piece, mask in ((fit.below, low), (fit.above, ~low)):
        slope, intercept = np.polyfit(logit(x[mask]), logit(y[mask]), 1)
        assert piece.slope == pytest.approx(slope, abs=1e-9)
        assert piece.intercept == pytest.approx(intercept, abs=1e-9)
    assert (fit.below.n_models, fit.above.n_models) == (167, 1041)
    assert round(fit.below.slope, 4) == 0.5569 and round(fit.above.slope, 4) == 2.6513
    # two pieces describe ImageNet-A far better than one line
    assert round(fit.r2, 3) == 0.946 and round(fit_baseline(x, y, n_bootstrap=0).r2, 3) == 0.870
    # expected accuracy and effective robustness come from the piece acc_in falls on
    for acc_in, piece in ((0.90, fit.below), (0.95, fit.above)):
        expected = expit(piece.slope * logit(acc_in) + piece.intercept)
        assert fit.predict(acc_in) == pytest.approx(expected)
        er = effective_robustness(fit, acc_in, expected + 0.02, n_in=10_000, n_shift=7_500)
        assert er.expected_shift == pytest.approx(expected) and er.value == pytest.approx(0.02)
        assert er.ci95[0] < 0.02 < er.ci95[1]
    lo, hi = fit.band(np.array([0.85, 0.95]))
    assert (lo < fit.predict(np.array([0.85, 0.95]))).all() and (hi > lo).all()
    assert fit.to_dict()["below"]["n_bootstrap"] == 300
    with pytest.raises(ValueError, match="at least 3 models at or above the breakpoint 99.00%"):
        fit_piecewise(x, y, breakpoint=0.99)


def test_robustness_command_fits_imagenet_a_in_two_pieces_by_default(tmp_path):
    from tests.conftest import skimage_photo, store_run

    subset = imagenet_a_classes()
    folder = tmp_path / "imagenet-a"
    from reassess.labels.imagenet import imagenet_classes

    for c in subset[:4]:
        (folder / imagenet_classes().wnids[c]).mkdir(parents=True)
        for i in range(5):
            skimage_photo("coffee").resize((16, 12)).save(
                folder / imagenet_classes().wnids[c] / f"{i}.jpg"
            )
    rng = np.random.default_rng(0)
    val = parse_data_spec("imagenet-val")
    keep = np.isin(val.labels, subset)
    ids, labels = val.sample_ids[keep], val.labels[keep]
    right = rng.random(len(labels)) < 0.95
    top1 = np.where(right, labels, subset[(np.searchsorted(subset, labels) + 1) % 200])
    store_run(tmp_path / "val", "m", "imagenet-val", Predictions(ids, labels, top1[:, None]))
    a = parse_data_spec(f"imagenet-a:{folder}")
    top1 = a.labels.copy()
    top1[:16] = subset[10]  # 4 of 20 right
    store_run(
        tmp_path / "a",
        "m",
        f"imagenet-a:{folder}",
        Predictions(a.sample_ids, a.labels, top1[:, None]),
    )
    runs = [str(tmp_path / "val"), str(tmp_path / "a")]

    def report(*options):
        result = CliRunner().invoke(
            app,
            [
                "robustness",
                *runs,
                "--shift",
                "imagenet-a",
                "--json",
                "--bootstrap",
                "200",
                *options,
            ],
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    two = report()
    assert len(two["runs"]) == 1, two["notes"]
    row = two["runs"][0]
    assert two["baseline"]["fit"] == "piecewise" and two["baseline"]["breakpoint"] == 0.9186
    assert row["n_in"] == 10_000 and row["acc_shift"] == 0.2 and row["n_shift"] == 20
    above = two["baseline"]["above"]  # acc_in ~ 95% is above the breakpoint
    expected = expit(above["slope"] * logit(row["acc_in"]) + above["intercept"])
    assert row["expected_shift"] == pytest.approx(expected)
    assert row["effective_robustness"] == pytest.approx(0.2 - expected)
    lo, hi = row["effective_robustness_ci95"]
    assert lo < row["effective_robustness"] < hi
    one = report("--fit", "linear")
    assert one["baseline"]["fit"] == "linear" and "breakpoint" not in one["baseline"]
    moved = report("--breakpoint", "0.96")
    assert moved["baseline"]["below"]["n_models"] > two["baseline"]["below"]["n_models"]
    table = CliRunner().invoke(
        app,
        [
            "robustness",
            *runs,
            "--shift",
            "imagenet-a",
            "--bootstrap",
            "50",
            "--plot",
            str(tmp_path / "a.png"),
        ],
    )
    assert "ImageNet < 91.86% (167 models)" in table.output and "two-piece fit R²" in table.output
    refused = CliRunner().invoke(
        app, ["robustness", "--shift", "imagenetv2", "--breakpoint", "0.9"]
    )
    assert refused.exit_code != 0
    assert "--breakpoint needs the piecewise fit" in str(refused.exception)


def _independent_real_fit():
    """(slope, intercept) of logit(ReaL) on logit(ImageNet) over standard models (numpy.polyfit)."""
    x, y = _independent_pairs("results-imagenet-real.csv", "real")
    return np.polyfit(logit(x), logit(y), 1), len(x)


def test_real_shift_uses_the_val_run_alone(paired_runs, tmp_path):
    """--shift real: ReaL vs top-1 of the testbed, a run's ReaL top-1 from its metrics.json."""
    val_run = paired_runs[0]
    metrics = json.loads((val_run / "metrics.json").read_text())
    result = CliRunner().invoke(
        app,
        [
            "robustness",
            str(val_run),
            str(paired_runs[1]),
            "--shift",
            "real",
            "--json",
            "--bootstrap",
            "300",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (slope, intercept), n_models = _independent_real_fit()
    b = report["baseline"]
    assert b["n_models"] == n_models and b["slope"] == pytest.approx(slope, abs=1e-9)
    assert b["intercept"] == pytest.approx(intercept, abs=1e-9)
    (row,) = report["runs"]
    assert row["in_run"] == row["shift_run"] == str(val_run)
    assert row["acc_in"] == pytest.approx(0.72732) and row["n_in"] == 50_000
    assert row["acc_shift"] == metrics["real_top1"]["value"] == pytest.approx(0.77614, abs=5e-6)
    assert row["n_shift"] == metrics["real_top1"]["n"] == 46_837
    expected = expit(slope * logit(0.72732) + intercept)
    assert row["expected_shift"] == pytest.approx(expected, abs=1e-9)
    assert round(100 * row["effective_robustness"], 2) == -2.30  # less ReaL accuracy than expected
    lo, hi = row["effective_robustness_ci95"]
    assert lo < row["effective_robustness"] < hi < 0
    assert any("imagenetv2, not used for --shift real" in note for note in report["notes"])
    # a val run without metrics.json: one line saying what to run
    (val_run / "metrics.json").unlink()
    refused = CliRunner().invoke(app, ["robustness", str(val_run), "--shift", "real"])
    assert refused.exit_code != 0 and "run reassess metrics" in str(refused.exception)
    assert "\n" not in str(refused.exception)


def test_objectnet_shift_pairs_runs_on_its_113_classes_without_a_baseline(tmp_path):
    from reassess.datasets.shifts import objectnet_class_map
    from tests.conftest import skimage_photo, store_run

    images = tmp_path / "objectnet" / "images"
    for folder in ("alarm_clock", "banana"):
        (images / folder).mkdir(parents=True)
        for i in range(3):
            skimage_photo("coffee").resize((16, 12)).save(images / folder / f"{i}.png")
    data = parse_data_spec(f"objectnet:{tmp_path / 'objectnet'}")
    top1 = data.labels.copy()
    top1[0] = 954  # one alarm clock called a banana: 5 of 6 right
    store_run(
        tmp_path / "on",
        "m",
        f"objectnet:{tmp_path / 'objectnet'}",
        Predictions(data.sample_ids, data.labels, top1[:, None]),
    )
    val = parse_data_spec("imagenet-val")
    class_map = objectnet_class_map()
    keep = class_map[val.labels] >= 0
    ids, labels = val.sample_ids[keep], val.labels[keep]
    # every digital-clock image (530) predicted as analog clock (409): right, the same ObjectNet class
    # every image of another group predicted as 'ski' (795, outside): wrong unless another pick
    top = np.where(labels == 530, 409, labels)
    top = np.where(
        labels == 954, 795, top
    )  # bananas predicted as an outside class: restricted away
    second = np.where(labels == 954, 409, top)  # ... and the next scored class is wrong
    store_run(
        tmp_path / "val", "m", "imagenet-val", Predictions(ids, labels, np.stack([top, second], 1))
    )
    runs = [str(tmp_path / "val"), str(tmp_path / "on")]
    result = CliRunner().invoke(app, ["robustness", *runs, "--shift", "objectnet", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (row,) = report["runs"]
    assert report["baseline"] is None and "effective_robustness" not in row
    assert row["n_in"] == 125 * 50 and row["acc_in"] == pytest.approx(1 - 50 / 6250)
    assert row["acc_shift"] == pytest.approx(5 / 6) and row["n_shift"] == 6
    assert any("has no ObjectNet results" in note for note in report["notes"])
    table = CliRunner().invoke(app, ["robustness", *runs, "--shift", "objectnet"])
    assert "ObjectNet vs ImageNet (ObjectNet's 113 classes): no baseline" in table.output
    plot = CliRunner().invoke(
        app, ["robustness", *runs, "--shift", "objectnet", "--plot", str(tmp_path / "x.png")]
    )
    assert plot.exit_code != 0
    assert (
        str(plot.exception) == "--plot needs a baseline; the timm testbed has no ObjectNet results"
    )
