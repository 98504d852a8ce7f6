"""`reassess demo`, the README's first command, end to end and offline."""

import json

import pytest

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
    assert "lite0" in report and "72.73" in report
    assert "72.73%" in result.stdout and str(out / "report.html") in result.stdout
