"""`reassess zoo`: many (model, dataset) pairs, resumable, one failing pair does not stop the rest."""

import json
import subprocess
import sys

import pytest
from PIL import Image

from reassess.zoo.plan import data_folder_name, model_folder_name
from tests.conftest import skimage_photo


def reassess(*args):
    return subprocess.run(
        [sys.executable, "-m", "reassess.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """A models file (lite0, a random-weight timm checkpoint, a missing checkpoint) and two folders."""
    import timm
    import torch

    root = tmp_path_factory.mktemp("zoo")
    torch.manual_seed(0)
    checkpoint = root / "mnv3_random.pth"
    torch.save(timm.create_model("mobilenetv3_small_050").state_dict(), checkpoint)
    models = root / "models.txt"
    models.write_text(
        "# a small zoo\n"
        "lite0\n"
        f"timm:mobilenetv3_small_050@{checkpoint}   # random weights\n"
        "\n"
        f"timm:resnet10t@{root / 'missing.pth'}\n"
    )
    second = root / "second" / "n02123045"  # tabby cat
    second.mkdir(parents=True)
    cat = skimage_photo("chelsea")
    for i, size in enumerate([(500, 375), (375, 500), (640, 480)]):
        cat.resize(size, Image.BICUBIC).save(second / f"cat{i}.jpg", quality=90)
    return {"models": models, "checkpoint": checkpoint, "second": root / "second"}


def _leaderboard(out):
    return json.loads((out / "leaderboard.json").read_text())["rows"]


@pytest.mark.slow
def test_local_zoo_runs_every_pair_reports_the_failure_and_resumes(zoo, photo_folder, tmp_path):
    out = tmp_path / "runs"
    data = [f"folder:{photo_folder}", f"folder:{zoo['second']}"]
    args = [
        "zoo",
        zoo["models"],
        "--data",
        data[0],
        "--data",
        data[1],
        "--out",
        out,
        "--workers",
        "0",
        "--batch-size",
        "4",
    ]
    result = reassess(*args)
    assert result.returncode == 1, result.stderr  # one model fails on both datasets
    assert "2 of 6 pairs failed" in result.stdout
    assert "checkpoint file not found" in result.stdout
    rows = _leaderboard(out)
    assert len(rows) == 6
    assert {r["status"] for r in rows} == {"complete", "failed"}
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["model"] for r in failed} == {
        f"timm:resnet10t@{zoo['models'].parent / 'missing.pth'}"
    }
    lite0 = {r["data"]: r for r in rows if r["model"] == "lite0"}
    assert lite0[data[0]]["n"] == 5 and lite0[data[0]]["metrics"]["top1"] >= 0.8
    assert lite0[data[1]]["n"] == 3 and lite0[data[1]]["metrics"]["top5"] == 1.0  # tabby in top-5
    run_dir = out / data_folder_name(data[1]) / model_folder_name("lite0")
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "complete" and info["model"]["spec"] == "lite0"
    assert {p.name for p in run_dir.iterdir()} >= {
        "predictions.parquet",
        "metrics.json",
        "per_class.csv",
    }
    csv_lines = (out / "leaderboard.csv").read_text().splitlines()
    assert csv_lines[0].startswith("data,model,status,top1") and len(csv_lines) == 7
    # the second model shares lite0's crop (224 bicubic 0.875): it read every crop from the cache
    mnv3 = json.loads(
        (
            out
            / data_folder_name(data[1])
            / model_folder_name(f"timm:mobilenetv3_small_050@{zoo['checkpoint']}")
            / "run.json"
        ).read_text()
    )
    assert mnv3["preprocessing_cache"]["read_from_cache"] == 3

    again = reassess(*args)
    assert again.returncode == 1
    assert again.stdout.count("already complete") == 4  # only the failing pairs run again
    assert [r["metrics"] for r in _leaderboard(out) if r["status"] != "failed"] == [
        r["metrics"] for r in rows if r["status"] != "failed"
    ]


def test_bad_models_file_is_one_clear_line(tmp_path, photo_folder):
    models = tmp_path / "models.txt"
    models.write_text("lite0\nresnet50\n")
    result = reassess("zoo", models, "--data", f"folder:{photo_folder}", "--out", tmp_path / "r")
    assert result.returncode == 2
    assert "models.txt line 2: unknown model spec 'resnet50'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_ray_zoo_on_a_local_two_cpu_cluster(zoo, tmp_path):
    pytest.importorskip("ray")
    data = f"folder:{zoo['second']}"
    out = tmp_path / "ray"
    args = ["zoo", zoo["models"], "--data", data, "--out", out, "--batch-size", "4"]
    result = reassess(*args, "--engine", "ray", "--num-cpus", "2", "--no-progress")
    assert result.returncode == 1, result.stderr
    assert "1 of 3 pairs failed" in result.stdout and "checkpoint file not found" in result.stdout
    rows = {r["model"]: r for r in _leaderboard(out)}
    assert [r["status"] for r in rows.values()] == ["complete", "complete", "failed"]
    assert rows["lite0"]["n"] == 3 and rows["lite0"]["metrics"]["top5"] == 1.0
    # the same pair through `eval`'s own code path gives the same numbers (up to summation order)
    from reassess.inference import InferenceOptions
    from reassess.runs import evaluate

    options = InferenceOptions(batch_size=4, workers=0, progress=False)
    expected = evaluate("lite0", data, tmp_path / "eval", options)
    expected = {k: v["value"] for k, v in expected.items() if isinstance(v, dict) and "value" in v}
    assert rows["lite0"]["metrics"] == pytest.approx(expected, abs=1e-6)
