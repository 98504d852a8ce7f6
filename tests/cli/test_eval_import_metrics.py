"""The foundation end to end through the real `reassess` command."""

import json
import os
import subprocess
import sys

import pytest


def reassess(*args, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "reassess.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},  # rich wraps at 80 columns when not on a terminal
    )
    if check and result.returncode != 0:
        raise AssertionError(f"reassess {args} failed:\n{result.stdout}\n{result.stderr}")
    return result


def test_import_then_metrics_recomputes_the_same_numbers(tmp_path, shipped_resnet50_predictions):
    run = tmp_path / "resnet50"
    out = reassess(
        "import", shipped_resnet50_predictions, "--data", "imagenet-val", "--out", run, "--json"
    )
    imported = json.loads(out.stdout)
    assert imported["top1"]["value"] == pytest.approx(0.72732)
    assert imported["top1"]["n"] == 50_000
    lo, hi = imported["top1"]["ci95"]
    assert lo < 0.72732 < hi and hi - lo < 0.01
    assert imported["real_top1"]["n"] == 46_837
    assert {p.name for p in run.iterdir()} >= {
        "run.json",
        "predictions.parquet",
        "metrics.json",
        "per_class.csv",
    }
    again = json.loads(reassess("metrics", run, "--json").stdout)
    assert again == imported
    info = json.loads((run / "run.json").read_text())
    assert len(info["source"]["sha256"]) == 64
    table = reassess("metrics", run).stdout
    assert "ReaL top-1" in table and "72.73%" in table


@pytest.mark.slow
def test_eval_on_a_folder_writes_a_complete_run(tmp_path, photo_folder):
    run = tmp_path / "run"
    out = reassess(
        "eval",
        "--model",
        "lite0",
        "--data",
        f"folder:{photo_folder}",
        "--out",
        run,
        "--workers",
        "0",
        "--batch-size",
        "4",
        "--no-progress",
    )
    assert "2 unreadable images skipped" in out.stdout
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "complete" and info["num_predictions"] == 5
    assert info["preprocessing"]["interpolation"] == "bicubic"
    assert info["images_per_second"] > 0 and info["environment"]["torch"]
    assert {r["sample_id"] for r in info["skipped"]} == {
        "967/truncated.jpg",
        "967/not_an_image.jpg",
    }
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["top1"]["n"] == 5 and metrics["top1"]["value"] >= 0.8
    assert not (run / "parts").exists()
    # a second eval into the same folder does not rerun the model
    again = reassess("eval", "--model", "lite0", "--data", f"folder:{photo_folder}", "--out", run)
    assert "already complete" in again.stdout
    other = reassess(
        "eval", "--model", "lite1", "--data", f"folder:{photo_folder}", "--out", run, check=False
    )
    assert other.returncode == 2 and "holds a run of lite0" in other.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["eval", "--model", "resnet", "--data", "samples", "--out", "x"],
            "unknown model spec 'resnet'",
        ),
        (
            ["eval", "--model", "lite0", "--data", "coco:/x", "--out", "x"],
            "unknown data spec 'coco:/x'",
        ),
        (
            ["eval", "--model", "lite0", "--data", "imagenet-vall", "--out", "x"],
            "unknown data spec 'imagenet-vall'; did you mean imagenet-val,",
        ),
        (
            ["eval", "--model", "timmm:resnet50", "--data", "samples", "--out", "x"],
            "did you mean timm?",
        ),
        (["metrics", "/no/such/run"], "not a run folder"),
        (
            ["eval", "--model", "lite0", "--data", "samples", "--out", "x", "--crop-pct", "1.5"],
            "crop_pct",
        ),
        (
            ["eval", "--model", "lite0", "--data", "samples", "--out", "x", "--mean", "0.5,0.5"],
            "three",
        ),
    ],
)
def test_bad_input_is_one_clear_line(args, message, tmp_path):
    result = reassess(*args, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert len(result.stderr) < 400, result.stderr  # a short list of choices, not all of them


@pytest.mark.slow
def test_preprocessing_overrides_are_used_and_recorded_and_pin_the_run(tmp_path):
    """--img-size/--crop-pct/--interpolation/--mean/--std replace the model's config, as timm's
    validate.py flags do; run.json records both, and a resume with other ones is refused."""
    run = tmp_path / "run"
    flags = ["--img-size", "256", "--crop-pct", "0.9", "--interpolation", "bilinear"]
    flags += ["--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25"]
    base = ["eval", "--model", "lite0", "--data", "samples", "--out", run, "--no-progress"]
    reassess(*base, *flags, "--workers", "0")
    info = json.loads((run / "run.json").read_text())
    used = info["preprocessing"]
    assert used["input_size"] == [3, 256, 256] and used["crop_pct"] == 0.9
    assert used["interpolation"] == "bilinear" and used["mean"] == [0.5, 0.5, 0.5]
    assert used["std"] == [0.25, 0.25, 0.25]
    assert info["preprocessing_overrides"] == {
        "img_size": 256,
        "crop_pct": 0.9,
        "interpolation": "bilinear",
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25],
    }
    other = reassess(*base, "--img-size", "224", check=False)
    assert other.returncode == 2 and "preprocessing overrides" in other.stderr
