"""Zoo planning: models files, stable run-folder names, leaderboard ordering."""

import pytest

from reassess.models.registry import ModelSpecError
from reassess.zoo.engines import PairResult
from reassess.zoo.leaderboard import leaderboard_rows, write_leaderboard
from reassess.zoo.plan import (
    Pair,
    data_folder_name,
    model_folder_name,
    plan_pairs,
    read_models_file,
)


def test_folder_names_are_stable_safe_and_distinct():
    assert model_folder_name("lite0") == "lite0"
    assert model_folder_name("timm:resnet50.a1_in1k") == "timm_resnet50.a1_in1k"
    a = model_folder_name("timm:resnet50@/ckpt/a/best.pth")
    b = model_folder_name("timm:resnet50@/ckpt/b/best.pth")
    assert a.startswith("timm_resnet50@best-") and a != b and "/" not in a
    assert a == model_folder_name("timm:resnet50@/ckpt/a/best.pth")
    assert data_folder_name("samples") == "samples"
    assert data_folder_name("folder:/data/x/val").startswith("folder_val-")
    assert data_folder_name("folder:/data/x/val") != data_folder_name("folder:/data/y/val")


def test_models_file_comments_blank_lines_and_duplicates(tmp_path):
    path = tmp_path / "models.txt"
    path.write_text("# zoo\nlite0\n\n  timm:resnet50@/ckpt/x#1.pth  # best\nlite0\n")
    assert read_models_file(path) == ["lite0", "timm:resnet50@/ckpt/x#1.pth"]
    path.write_text("# nothing\n")
    with pytest.raises(ValueError, match="no model specs"):
        read_models_file(path)
    path.write_text("lite0\nvit_base\n")
    with pytest.raises(ModelSpecError, match="line 2: unknown model spec 'vit_base'"):
        read_models_file(path)


def test_plan_pairs_every_model_on_every_dataset(photo_folder, tmp_path):
    data = [f"folder:{photo_folder}", "samples"]
    pairs = plan_pairs(["lite0", "lite1"], data, tmp_path)
    assert [(p.model, p.data) for p in pairs] == [
        ("lite0", data[0]),
        ("lite1", data[0]),
        ("lite0", "samples"),
        ("lite1", "samples"),
    ]
    assert pairs[2].out == str(tmp_path / "samples" / "lite0")
    assert not pairs[0].is_complete()


def test_leaderboard_ranks_by_real_then_top1_and_puts_failures_last(tmp_path):
    from reassess.store.run import RunDir

    results = []
    for name, metrics in {
        "a": {"top1": 0.5, "real_top1": 0.6},
        "b": {"top1": 0.7},
        "c": None,
    }.items():
        pair = Pair(name, "d", str(tmp_path / name))
        if metrics is None:
            results.append(PairResult(pair, "failed", error="ModelSpecError: nope"))
            continue
        run = RunDir(pair.out)
        info = {"model": {"spec": name}, "data": {"spec": "d"}, "images_per_second": 10.0}
        run.write_run({"status": "complete", **info})
        run.write_metrics({k: {"value": v, "n": 4, "ci95": [0, 1]} for k, v in metrics.items()})
        results.append(PairResult(pair, "complete"))
    rows = leaderboard_rows(results)
    assert [r["model"] for r in rows] == [
        "b",
        "a",
        "c",
    ]  # 0.7 top-1 (no ReaL) > 0.6 ReaL; failed last
    csv_path, _ = write_leaderboard(rows, tmp_path)
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "data,model,status,top1,real_top1,n,images_per_second,run,error"
    assert lines[1].startswith("d,b,complete,0.700000,,4,10.0,")
    assert lines[3].endswith("ModelSpecError: nope")
