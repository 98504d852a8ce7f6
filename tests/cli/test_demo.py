"""`reassess demo`, the README's first command, end to end and offline."""

import json
import re

import pytest

from reassess.cli.commands_demo import few_images_calibration, resnet50_provenance
from reassess.metrics.calibration import MIN_CALIBRATION_IMAGES
from tests.cli.test_eval_import_metrics import reassess


@pytest.mark.slow
def test_demo_runs_a_real_model_imports_real_predictions_and_writes_a_report(tmp_path):
    out = tmp_path / "demo"
    result = reassess("demo", "--out", out, "--no-progress")
    samples = json.loads((out / "lite0-samples" / "metrics.json").read_text())
    assert samples["top1"]["n"] == 8 and samples["top1"]["value"] == pytest.approx(5 / 8)
    assert samples["valid_labels_top1"]["value"] == pytest.approx(6 / 8)
    resnet = json.loads((out / "resnet50-imagenet-val" / "metrics.json").read_text())
    assert resnet["top1"]["value"] == pytest.approx(0.72732)
    analysis = json.loads((out / "resnet50-imagenet-val" / "analysis.json").read_text())
    assert analysis["num_mistakes"] == 50_000 - 36_366
    assert sum(c["count"] for c in analysis["categories"]) == analysis["num_mistakes"]
    report = (out / "report.html").read_text()
    assert "lite0" in report and "72.73" in report and "cross-validated" in report
    assert "72.73%" in result.stdout and str(out / "report.html") in result.stdout

    stdout = " ".join(result.stdout.split())  # rich wraps long lines
    # the ResNet-50 is said to be cleanlab's cross-validated one, next to torchvision's figure
    assert "cleanlab's cross-validated ResNet-50 predictions" in stdout
    assert "top-1 72.73% here; not torchvision's pretrained resnet50" in stdout
    assert "published top-1 is 76.13%" in stdout
    # no calibration headline on 8 photos: no ECE row, no reliability table, a caveat instead
    assert "Expected calibration error" not in stdout and "confidence bin" not in stdout
    ece = samples["ece"]
    assert (
        f"calibration not shown: 8 images are too few (the demo shows it from "
        f"{MIN_CALIBRATION_IMAGES:,}). ECE {100 * ece['value']:.1f}%" in stdout
    )
    floor = re.search(r"would score ([\d.]+)% on average", stdout)
    assert floor and float(floor.group(1)) > 10  # noise alone, for a calibrated model


def test_calibration_is_kept_from_the_minimum_number_of_images(tmp_path):
    metrics = {
        "top1": {"value": 0.7, "n": MIN_CALIBRATION_IMAGES, "ci95": [0.67, 0.73]},
        "ece": {"value": 0.05, "n": MIN_CALIBRATION_IMAGES, "ci95": [0.04, 0.07]},
        "calibration": {"bins": []},
    }
    kept, note = few_images_calibration(metrics, run=None)  # the run is not read when n suffices
    assert kept is metrics and note == ""
    assert few_images_calibration({"top1": metrics["top1"]}, run=None) == (
        {"top1": metrics["top1"]},
        "",
    )


def test_the_provenance_line_prints_the_computed_top1():
    line = resnet50_provenance({"top1": {"value": 0.5, "n": 2, "ci95": [0.01, 0.99]}})
    assert "cross-validated" in line and "top-1 50.00% here" in line
