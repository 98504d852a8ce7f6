"""Faults a run must survive: kill -9 at any atomic rename, Ctrl-C, a full or read-only disk,
changed options on resume, a failed first attempt. Each leaves a folder the rerun finishes."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from reassess.inference.runner import InferenceOptions
from reassess.models import create_model
from reassess.runs import evaluate, import_run
from reassess.runs.errors import RunError
from reassess.store import atomic
from reassess.store.run import RunDir, RunFolderBusy
from tests.cli.test_eval_import_metrics import reassess


class Killed(BaseException):
    """Stands for kill -9: nothing after it may rename a file into place."""


@pytest.fixture(scope="module")
def lite0():
    return create_model("lite0")


@pytest.fixture
def cached_model(lite0, monkeypatch):
    """``evaluate`` gets the already loaded lite0 instead of loading it again."""
    import reassess.models.registry as registry

    real = registry.create_model
    monkeypatch.setattr(
        registry,
        "create_model",
        lambda spec, options=None, **kw: lite0 if spec == "lite0" else real(spec, options, **kw),
    )
    return lite0


def _options(**kw) -> InferenceOptions:
    return InferenceOptions(batch_size=2, workers=0, progress=False, flush_every=2, **kw)


def _kill_at_rename(monkeypatch, number: int) -> dict[str, int]:
    """Make the ``number``-th atomic rename (and every later one) die like kill -9 does.

    The dying writer's temporary stays on disk under its own name, as after a real kill.
    """
    real_replace = os.replace
    calls = {"n": 0}

    def replace(src, dst):
        calls["n"] += 1
        if calls["n"] >= number:
            leftover = Path(src).with_name(Path(src).name.replace(".tmp", "-killed.tmp"))
            shutil.copyfile(src, leftover)  # atomic_path's cleanup would not run after kill -9
            raise Killed
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    return calls


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.tmp"))


@pytest.mark.slow
def test_kill_at_every_atomic_rename_then_rerun_finishes_the_same_run(
    photo_folder, cached_model, tmp_path, monkeypatch
):
    data = f"folder:{photo_folder}"
    reference = evaluate("lite0", data, tmp_path / "reference", _options())
    renames = _kill_at_rename(monkeypatch, 10**9)
    evaluate("lite0", data, tmp_path / "counted", _options(cache_root=tmp_path / "c"))
    total = renames["n"]
    assert total >= 8  # run.json thrice, parts, cache files, predictions, metrics, per-class
    monkeypatch.undo()

    for number in range(1, total + 1):
        out, cache = tmp_path / f"killed-at-{number}", tmp_path / f"cache-{number}"
        with monkeypatch.context() as patch:
            _kill_at_rename(patch, number)
            with pytest.raises(Killed):
                evaluate("lite0", data, out, _options(cache_root=cache))
        assert _leftovers(out) + _leftovers(cache), "the simulated kill leaves a temporary"
        metrics = evaluate("lite0", data, out, _options(cache_root=cache))
        assert metrics["top1"] == reference["top1"], number
        run = RunDir(out)
        assert run.read_run()["status"] == "complete"
        assert run.read_predictions().sample_ids.tolist() == (
            RunDir(tmp_path / "reference").read_predictions().sample_ids.tolist()
        )
        assert _leftovers(out) == [] and not run.parts_dir.exists(), number


@pytest.mark.slow
def test_killed_during_the_first_run_json_write_is_not_refused_for_good(
    photo_folder, cached_model, tmp_path
):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".run.json.k2j3.tmp").write_text('{"created": "2026-')  # cut short by kill -9
    metrics = evaluate("lite0", f"folder:{photo_folder}", out, _options())
    assert metrics["top1"]["n"] == 5
    assert _leftovers(out) == []


def test_a_folder_of_other_files_is_still_refused(photo_folder, tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("precious")
    with pytest.raises(RunError, match="not a reassess run"):
        evaluate("lite0", f"folder:{photo_folder}", out, _options(), overwrite=True)
    assert (out / "chapter1.tex").read_text() == "precious"


@contextlib.contextmanager
def _model_fails_at_batch(model, number: int, error: type[BaseException]) -> Iterator[None]:
    """Inside, the model's ``number``-th forward pass (and every later one) raises ``error``."""
    forward, calls = model.module.forward, {"n": 0}

    def failing(x):
        calls["n"] += 1
        if calls["n"] >= number:
            raise error
        return forward(x)

    model.module.forward = failing
    try:
        yield
    finally:
        model.module.forward = forward


@pytest.mark.slow
def test_time_based_flush_keeps_the_batches_of_a_small_killed_run(
    photo_folder, cached_model, tmp_path
):
    """flush_every is never reached in a small run; flush_seconds=0 stores every batch."""
    # batches: [coffee, cmyk], [gray, not_an_image (skipped)], then the model dies
    for flush_seconds, kept in ((3600.0, 0), (0.0, 3)):
        run = RunDir(tmp_path / f"flush-{flush_seconds}")
        options = _options(flush_seconds=flush_seconds, cache=False)
        options.flush_every = 10**6
        with _model_fails_at_batch(cached_model, 3, Killed), pytest.raises(Killed):
            evaluate("lite0", f"folder:{photo_folder}", run.path, options)
        stored = run.read_parts()
        assert (0 if stored is None else len(stored)) == kept


@pytest.mark.slow
def test_ctrl_c_stores_finished_batches_and_says_how_to_resume(
    photo_folder, cached_model, tmp_path
):
    from reassess.runs.errors import Interrupted

    options = _options(cache=False)
    options.flush_every = 10**6  # nothing stored before the interrupt: it must store the batches
    options.flush_seconds = 3600.0
    with (
        _model_fails_at_batch(cached_model, 3, KeyboardInterrupt),
        pytest.raises(Interrupted) as caught,
    ):
        evaluate("lite0", f"folder:{photo_folder}", tmp_path / "run", options)
    # [coffee, cmyk] and [gray, not_an_image] done; of [png_named, truncated] the model was
    # interrupted on png_named, but truncated is known not to decode: 5 images, 3 predicted
    assert str(caught.value).startswith("interrupted after 5 of 7 images; rerun the same command")
    assert len(RunDir(tmp_path / "run").read_parts()) == 3


@pytest.mark.slow
def test_changed_topk_on_resume_is_refused_up_front(photo_folder, cached_model, tmp_path):
    data, out = f"folder:{photo_folder}", tmp_path / "run"
    with _model_fails_at_batch(cached_model, 2, Killed), pytest.raises(Killed):
        evaluate("lite0", data, out, _options(cache=False))
    assert RunDir(out).stored_predictions()
    with pytest.raises(RunError, match="was started with --topk 5; rerun with --topk 5"):
        evaluate("lite0", data, out, _options(k=3, cache=False))
    assert evaluate("lite0", data, out, _options(cache=False))["top1"]["n"] == 5
    again = evaluate("lite0", data, out, _options(k=3, cache=False), overwrite=True)
    assert again["top1"]["n"] == 5
    assert RunDir(out).read_predictions().topk.shape[1] == 3


@pytest.mark.slow
def test_a_failed_eval_that_stored_nothing_is_replaced(photo_folder, tmp_path):
    out = tmp_path / "run"
    failed = reassess(
        "eval", "--model", "timm:resnet5O", "--data", f"folder:{photo_folder}", "--out", out,
        check=False,
    )  # fmt: skip
    assert failed.returncode == 2 and len(failed.stderr.strip().splitlines()) == 1
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    fixed = reassess(
        "eval", "--model", "lite0", "--data", f"folder:{photo_folder}", "--out", out,
        "--workers", "0", "--no-progress", "--json",
    )  # fmt: skip
    assert json.loads(fixed.stdout)["top1"]["n"] == 5


@pytest.mark.slow
def test_eval_json_prints_json_alone_on_stdout(photo_folder, tmp_path):
    out = reassess(
        "eval", "--model", "lite0", "--data", f"folder:{photo_folder}", "--out", tmp_path / "r",
        "--workers", "0", "--json",
    )  # fmt: skip
    metrics = json.loads(out.stdout)  # skipped files and notes went to stderr
    assert metrics["top1"]["n"] == 5
    assert "truncated.jpg" in out.stderr and "2 unreadable images skipped" in out.stderr
    again = reassess(
        "eval", "--model", "lite0", "--data", f"folder:{photo_folder}", "--out", tmp_path / "r",
        "--json",
    )  # fmt: skip
    assert json.loads(again.stdout) == metrics and "already complete" in again.stderr


@pytest.mark.slow
def test_sigint_says_how_many_images_were_kept_and_the_rerun_resumes(tmp_path):
    """A real Ctrl-C (SIGINT to the process group) in the middle of a real eval."""
    photo = tmp_path / "photos" / "967"
    photo.mkdir(parents=True)
    import skimage.data

    coffee = Image.fromarray(skimage.data.coffee()).resize((160, 120))
    for i in range(400):
        coffee.save(photo / f"coffee{i:03d}.jpg")
    out = tmp_path / "run"
    args = [sys.executable, "-m", "reassess.cli.main", "eval", "--model", "lite0", "--data",
            f"folder:{tmp_path / 'photos'}", "--out", str(out), "--batch-size", "4",
            "--workers", "1", "--no-cache", "--flush-seconds", "0"]  # fmt: skip
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 300
    while not list((out / "parts").glob("part-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    last = stderr.strip().splitlines()[-1]
    assert "interrupted after" in last and "of 400 images; rerun the same command" in last
    kept = int(last.split("interrupted after ")[1].split(" of")[0].replace(",", ""))
    assert 0 < kept < 400 and len(RunDir(out).read_parts()) == kept
    finished = subprocess.run(
        [*args, "--no-progress", "--json"], capture_output=True, text=True, timeout=600
    )
    assert json.loads(finished.stdout)["top1"]["n"] == 400
    assert json.loads((out / "run.json").read_text())["timings"]["resumed_after_samples"] == kept


@pytest.mark.parametrize("where", ["out_is_a_file", "out_below_a_file"])
def test_unusable_out_is_one_line(where, photo_folder, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = blocker if where == "out_is_a_file" else blocker / "run"
    result = reassess(
        "eval", "--model", "lite0", "--data", f"folder:{photo_folder}", "--out", out, check=False
    )
    assert result.returncode in (1, 2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(blocker) in lines[0]
    assert "Traceback" not in result.stderr


def _main(argv: list[str], monkeypatch, capsys) -> tuple[int, str]:
    """Run the real entry point in-process: (exit status, stderr)."""
    from reassess.cli.main import main

    monkeypatch.setattr(sys, "argv", ["reassess", *map(str, argv)])
    with pytest.raises(SystemExit) as exited:
        main()
    return exited.value.code, capsys.readouterr().err


@pytest.mark.parametrize("failure", [errno.EACCES, errno.ENOSPC])
def test_read_only_or_full_run_folder_is_one_line(
    failure, shipped_resnet50_predictions, tmp_path, monkeypatch, capsys
):
    """As root chmod does not stop writes, so the refusal comes from a patched mkstemp."""

    def refused(*args, dir=None, **kwargs):
        raise OSError(failure, os.strerror(failure), str(dir))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refused)
    out = tmp_path / "ro"
    status, stderr = _main(
        ["import", shipped_resnet50_predictions, "--data", "imagenet-val", "--out", out],
        monkeypatch,
        capsys,
    )
    assert status == 1
    assert stderr.strip() == f"error: {out}: {os.strerror(failure)}"


def test_full_disk_during_import_leaves_a_run_the_rerun_replaces(
    shipped_resnet50_predictions, tmp_path, monkeypatch
):
    import reassess.store.predictions as store_predictions

    out = tmp_path / "run"
    real_write = store_predictions.pq.write_table

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_predictions.pq, "write_table", disk_full)
    with pytest.raises(OSError, match="No space left"):
        import_run(
            shipped_resnet50_predictions, "imagenet-val", out, model_name=None, topk=5,
            allow_missing=False,
        )  # fmt: skip
    assert json.loads((out / "run.json").read_text())["status"] == "importing"
    assert _leftovers(out) == []
    monkeypatch.setattr(store_predictions.pq, "write_table", real_write)
    metrics = import_run(
        shipped_resnet50_predictions, "imagenet-val", out, model_name="resnet50", topk=5,
        allow_missing=False,
    )  # fmt: skip
    assert metrics["top1"]["n"] == 50000
    assert json.loads((out / "run.json").read_text())["status"] == "complete"


def test_two_processes_cannot_write_one_run_folder(tmp_path):
    run = RunDir(tmp_path / "run")
    with (
        run.lock(),
        pytest.raises(RunFolderBusy, match="another reassess process"),
        RunDir(tmp_path / "run").lock(),
    ):
        pass
    with run.lock():  # released
        pass


@pytest.mark.parametrize(
    "device,unavailable",
    [("cuda", "cuda"), ("cuda:1", "cuda"), ("mps", "mps")],
)
def test_a_device_this_machine_lacks_is_one_line(
    device, unavailable, tmp_path, monkeypatch, capsys
):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    out = tmp_path / "run"
    for command in (
        ["eval", "--model", "lite0", "--data", "samples", "--out", out],
        ["zoo", tmp_path / "models.txt", "--data", "samples", "--out", out],
    ):
        (tmp_path / "models.txt").write_text("lite0\n")
        status, stderr = _main([*command, "--device", device], monkeypatch, capsys)
        lines = stderr.strip().splitlines()
        assert status == 2 and len(lines) == 1, stderr
        assert lines[0].startswith(f"error: --device {device}: ")
        assert ("CUDA" if unavailable == "cuda" else "MPS") in lines[0]
        assert "--device cpu or auto" in lines[0]
        assert not out.exists()


def test_offline_eval_fails_in_seconds_with_one_line(tmp_path, monkeypatch, capsys):
    """No network (every connect refused), nothing cached: one line, in seconds, not a minute of
    retries; it names the weights and the cache folder to fill."""
    from huggingface_hub import constants

    from reassess.models import hub

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "_connect", lambda *a: (_ for _ in ()).throw(OSError("refused")))
    hub._reachable.cache_clear()
    start = time.perf_counter()
    status, stderr = _main(
        ["eval", "--model", "timm:resnet18", "--data", "samples", "--out", tmp_path / "r"],
        monkeypatch,
        capsys,
    )
    seconds = time.perf_counter() - start
    hub._reachable.cache_clear()
    lines = stderr.strip().splitlines()
    assert status == 2 and len(lines) == 1, stderr
    assert seconds < 10
    assert lines[0].startswith("error: timm:resnet18: weights timm/resnet18.a1_in1k ")
    assert str(tmp_path / "hub") in lines[0] and "HF_HOME" in lines[0]
