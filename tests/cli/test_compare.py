"""`reassess compare` and the multi-label options of `reassess metrics`, through the real command."""

import gzip
import json
import shutil
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from reassess.datasets.imagenet import real_label_sets, val_labels
from reassess.labels.expert import EXPERT_SHA256
from reassess.labels.resources import data_file
from reassess.store.run import RunDir
from tests.conftest import FIXTURES

DUMMY_EXPERT = FIXTURES / "dummy_human_accuracy_fixed.json"


def reassess(*args, check=True):
    """Run the command in-process (fast); user errors come back as ``result.exception``."""
    from typer.testing import CliRunner

    from reassess.cli.main import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    if check and result.exit_code != 0:
        raise AssertionError(f"reassess {args} failed:\n{result.output}\n{result.exception!r}")
    return result


def user_error(*args) -> str:
    """The one-line error of a refused command (the real entry point: exit status 2)."""
    result = reassess(*args, check=False)
    assert result.exception is not None and result.exit_code != 0
    return str(result.exception)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, shipped_resnet50_predictions):
    """The shipped ResNet-50 and 'the original labels as a model', both on ImageNet val."""
    root = tmp_path_factory.mktemp("runs")
    resnet = root / "resnet50"
    reassess("import", shipped_resnet50_predictions, "--data", "imagenet-val", "--out", resnet)
    labels = val_labels().astype(np.int64)  # val file order
    np.save(root / "labels.npy", labels)
    original = root / "original"
    reassess(
        "import",
        root / "labels.npy",
        "--data",
        "imagenet-val",
        "--out",
        original,
        "--model-name",
        "original-labels",
    )
    return resnet, original


def resnet_top1(path):
    table = pq.read_table(path)
    names = table.column("file_name").to_pylist()
    order = np.argsort([int(n[15:23]) for n in names])
    return table.column("prediction").to_numpy()[order].astype(np.int64)


def test_compare_resnet50_with_the_original_labels(runs, shipped_resnet50_predictions):
    resnet, original = runs
    out = reassess("compare", resnet, original, "--json", "--resamples", "300")
    result = json.loads(out.stdout)
    top1 = result["metrics"]["top1"]
    assert top1["a"]["value"] == pytest.approx(0.72732) and top1["b"]["value"] == 1.0
    assert top1["difference"] == pytest.approx(0.72732 - 1.0)
    # McNemar: ResNet-50 is never right where the labels are wrong (labels are always "right")
    assert top1["mcnemar"]["a_only"] == 0 and top1["mcnemar"]["b_only"] == 50_000 - 36_366
    lo, hi = top1["ci95"]
    assert lo < top1["difference"] < hi < 0
    # ReaL, from the shipped files by hand: images each one gets right and the other not
    pred = resnet_top1(shipped_resnet50_predictions)
    real = real_label_sets()
    a_hit = real.contains(pred)[real.evaluable]
    b_hit = real.contains(val_labels())[real.evaluable]
    entry = result["metrics"]["real_top1"]
    assert entry["a"]["value"] == pytest.approx(a_hit.mean())
    assert entry["b"]["value"] == pytest.approx(0.9002, abs=5e-5)  # Beyer et al.: 90.0%
    assert entry["mcnemar"]["a_only"] == int((a_hit & ~b_hit).sum())
    assert entry["mcnemar"]["b_only"] == int((b_hit & ~a_hit).sum())
    assert result["bootstrap"] == {"resamples": 300, "seed": 0}
    table = reassess("compare", resnet, original, "--resamples", "200").stdout
    assert "McNemar" in table and "B better" in table and "ReaL top-1" in table
    assert "1,438 / 7,250" in table  # the ReaL discordant pairs, as computed above
    # top-1: 0 / 13,634 discordant, p = 2 * 2^-13634, far below the smallest double
    assert top1["mcnemar"]["p_value"] == 0.0
    assert top1["mcnemar"]["log10_p"] == pytest.approx(-13_633 * np.log10(2), abs=1e-6)
    assert "p = 10^-4103.9" in table


def test_paired_report_rows_show_an_underflowing_p_as_a_power_of_ten(runs):
    from reassess.report.paired import paired_rows
    from reassess.runs import compare_runs

    result = compare_runs(RunDir(runs[0]), RunDir(runs[1]), resamples=100)
    rows = {r["metric"]: r for r in paired_rows(result)}
    assert (
        rows["Top-1 (original labels)"]["McNemar A-only / B-only, p"]
        == "0 / 13,634, p = 10^-4103.9"
    )


def test_compare_refuses_different_data_images_or_labels(runs, tmp_path):
    resnet, original = runs
    # different data: an ImageNetV2 run
    v2 = tmp_path / "v2"
    ids = (
        pq.read_table(data_file("imagenetv2_matched-frequency.parquet")).column("label").to_numpy()
    )
    np.save(tmp_path / "v2.npy", ids.astype(np.int64))
    reassess("import", tmp_path / "v2.npy", "--data", "imagenetv2", "--out", v2)
    bad = subprocess.run(
        [sys.executable, "-m", "reassess.cli.main", "compare", str(resnet), str(v2)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert bad.returncode == 2
    assert "is on imagenet-val but" in bad.stderr and "imagenetv2" in bad.stderr
    # different images of the same data
    subset = tmp_path / "subset.csv"
    subset.write_text(
        "file_name,prediction\n"
        + "".join(f"ILSVRC2012_val_{i:08d}.JPEG,{i % 1000}\n" for i in range(1, 101))
    )
    small = tmp_path / "small"
    reassess("import", subset, "--data", "imagenet-val", "--out", small, "--allow-missing")
    message = user_error("compare", resnet, small)
    assert "different images" in message and "49,900 only in A" in message
    # same images, different labels
    relabelled = tmp_path / "relabelled"
    shutil.copytree(original, relabelled)
    run = RunDir(relabelled)
    preds = run.read_predictions()
    labels = preds.labels.copy()
    labels[0] = (labels[0] + 1) % 1000
    run.write_predictions(type(preds)(preds.sample_ids, labels, preds.topk, preds.probs))
    assert "label 1 images differently" in user_error("compare", resnet, relabelled)


@pytest.mark.slow
def test_compare_refuses_folder_runs_on_other_images_under_the_same_names(tmp_path):
    """Same relative names, other pictures: the data fingerprint (names and sizes) differs."""
    from reassess.inference.runner import InferenceOptions
    from reassess.runs import evaluate
    from tests.conftest import skimage_photo

    cat, coffee = skimage_photo("chelsea"), skimage_photo("coffee")
    for name, first, second in (("mine", cat, coffee), ("theirs", coffee, cat)):
        (tmp_path / name / "281").mkdir(parents=True)
        first.save(tmp_path / name / "281" / "a.jpg")
        second.save(tmp_path / name / "281" / "b.jpg")
    shutil.copytree(tmp_path / "mine", tmp_path / "mine-copy")
    options = InferenceOptions(batch_size=2, workers=0, progress=False)
    for name in ("mine", "theirs", "mine-copy"):
        evaluate("lite0", f"folder:{tmp_path / name}", tmp_path / f"run-{name}", options)
    message = user_error("compare", tmp_path / "run-mine", tmp_path / "run-theirs")
    assert "different image files under the same names" in message
    assert str(tmp_path / "theirs") in message
    same = reassess("compare", tmp_path / "run-mine", tmp_path / "run-mine-copy", "--json")
    assert json.loads(same.stdout)["num_samples"] == 2  # a copy of the same images compares
    # a run without a fingerprint (made before they were recorded) is not trusted either
    old = RunDir(tmp_path / "run-theirs")
    info = old.read_run()
    del info["data"]["fingerprint"]
    old.write_run(info)
    assert "cannot tell whether" in user_error("compare", tmp_path / "run-mine", old.path)


def test_metrics_multilabel_file_policy_and_recording(runs, tmp_path):
    resnet, _ = runs
    run = tmp_path / "resnet"
    shutil.copytree(resnet, run)
    refused = user_error("metrics", run, "--multilabel-file", DUMMY_EXPERT)
    assert "--no-verify" in refused and EXPERT_SHA256 in refused
    out = reassess("metrics", run, "--multilabel-file", DUMMY_EXPERT, "--no-verify", "--json")
    metrics = json.loads(out.stdout)
    assert "sha256" in out.stderr and "unverified" in out.stderr
    recorded = metrics["label_files"]["expert"]
    assert recorded["file"] == str(DUMMY_EXPERT) and recorded["verified"] is False
    # the dummy file: 11 annotated val images (none problematic), ImageNet-M of 3
    assert metrics["expert_top1_images"]["n"] == 11
    assert metrics["imagenet_m"]["of"] == 3 and metrics["imagenet_m"]["n"] == 3
    data = json.loads(DUMMY_EXPERT.read_text())["initial_annots"]
    pred = dict(
        zip(
            RunDir(run).read_predictions().sample_ids,
            RunDir(run).read_predictions().top1.tolist(),
            strict=True,
        )
    )
    from reassess.labels import imagenet_classes

    wnids = imagenet_classes().wnids
    hits = sum(
        wnids[pred[f]] in entry.get("correct", []) + entry.get("unclear", [])
        for f, entry in data.items()
    )
    assert metrics["expert_top1_images"]["value"] == pytest.approx(hits / 11)
    # a later `metrics` without the option reuses the recorded file
    again = reassess("metrics", run, "--no-verify")
    assert "using the expert labels recorded" in again.stdout and "ImageNet-M" in again.stdout
    strict = json.loads(reassess("metrics", run, "--no-verify", "--strict", "--json").stdout)
    assert "expert_strict_top1_images" in strict and strict["options"]["strict"] is True


def test_label_error_corrected_accuracy_of_the_shipped_resnet50(runs, shipped_resnet50_predictions):
    resnet, _ = runs
    metrics = json.loads((resnet / "metrics.json").read_text())
    pred = resnet_top1(shipped_resnet50_predictions)
    labels = val_labels().astype(np.int64)  # val file order
    ok = pred == labels
    counted = np.ones(50_000, dtype=bool)
    with gzip.open(
        data_file("cleanlab_label_errors.json.gz"),
        "rt",
    ) as f:
        errors = json.load(f)
    excluded = np.zeros(50_000, dtype=bool)
    for e in errors:
        i, v = int(e["file_name"][15:23]) - 1, e["votes"]
        if v["given"] >= 3:
            continue
        excluded[i] = True
        if v["guessed"] >= 3:
            ok[i] = pred[i] == e["guessed"]
        elif v["both"] >= 3:
            ok[i] = pred[i] in (e["given"], e["guessed"])
        else:
            counted[i] = False
    corrected = metrics["corrected_top1"]
    assert corrected["n"] == int(counted.sum()) == 49_109
    assert corrected["value"] == pytest.approx(ok[counted].mean())
    assert round(100 * corrected["value"], 2) == 78.18
    cleaned = metrics["cleaned_top1"]
    assert cleaned["n"] == 47_084
    assert cleaned["value"] == pytest.approx((pred == labels)[~excluded].mean())
    assert metrics["top1"]["value"] == pytest.approx(0.72732)
