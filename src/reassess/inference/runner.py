"""Run a model over a dataset into a run folder: batched, resumable, with a progress bar.

Finished batches are written atomically as numbered parts; an interrupted run restarts with the
samples no part holds, so no row is lost or duplicated. At the end the parts are merged, in the
dataset's order, into ``predictions.parquet``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reassess.datasets.base import Dataset
from reassess.inference.loader import ImageFiles, collate_skipping_failures
from reassess.models.registry import LoadedModel
from reassess.store.predictions import Predictions
from reassess.store.run import RunDir


@dataclass
class InferenceOptions:
    """How to run: batch size, decoding workers, device, precision and what to keep."""

    batch_size: int = 64
    workers: int | None = None
    device: str = "auto"
    k: int = 5
    keep_logits: bool = False
    channels_last: bool = True
    threads: int | None = None
    flush_every: int = 1024
    progress: bool = True

    def resolved_workers(self) -> int:
        if self.workers is not None:
            return self.workers
        return max(1, min(8, (os.cpu_count() or 2)))


@dataclass
class InferenceResult:
    predictions: Predictions
    skipped: list[dict[str, str]] = field(default_factory=list)
    images_per_second: float | None = None
    seconds: float = 0.0
    resumed_from: int = 0


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def _skipped_log(run: RunDir):
    return run.parts_dir / "skipped.jsonl"


def _read_skipped(run: RunDir) -> list[dict[str, str]]:
    path = _skipped_log(run)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by an interruption
            continue
    return records


def _append_skipped(run: RunDir, records: list[dict[str, str]]) -> None:
    run.parts_dir.mkdir(parents=True, exist_ok=True)
    with open(_skipped_log(run), "a", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
        f.flush()
        os.fsync(f.fileno())


def environment_info(device: str) -> dict[str, Any]:
    """Versions and hardware that produced a run (stored in run.json)."""
    import torch

    import reassess

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "reassess": reassess.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "device": device,
        "torch_threads": torch.get_num_threads(),
    }
    try:
        import timm

        info["timm"] = timm.__version__
    except ImportError:
        pass
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
    else:
        info["cpu"] = platform.processor() or platform.machine()
    return info


def run_inference(
    model: LoadedModel, dataset: Dataset, run: RunDir, options: InferenceOptions
) -> InferenceResult:
    """Predict every sample of ``dataset`` not yet stored in ``run``'s parts; merge at the end."""
    import torch
    from torch.utils.data import DataLoader, Subset

    if not dataset.has_images:
        raise ValueError(f"{dataset.spec}: no image folder given, nothing to run the model on")
    if options.threads:
        torch.set_num_threads(options.threads)
    device = resolve_device(options.device)
    done = run.read_parts()
    skipped = _read_skipped(run)
    finished = set(done.sample_ids.tolist()) if done is not None else set()
    finished.update(r["sample_id"] for r in skipped)
    todo = [i for i, sid in enumerate(dataset.sample_ids.tolist()) if sid not in finished]
    resumed_from = len(finished)

    module = model.module.to(device).eval()
    if options.channels_last:
        module = module.to(memory_format=torch.channels_last)
    files = ImageFiles(dataset.paths, model.transform())
    workers = options.resolved_workers()
    loader = DataLoader(
        Subset(files, todo),
        batch_size=options.batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=collate_skipping_failures,
        pin_memory=device.startswith("cuda"),
        persistent_workers=False,
        prefetch_factor=4 if workers else None,
    )
    pending: list[Predictions] = []
    pending_rows = 0
    new_skips: list[dict[str, str]] = []
    started = time.perf_counter()
    processed = 0

    def flush() -> None:
        nonlocal pending, pending_rows, new_skips
        if pending:
            run.append_part(Predictions.concat(pending))
        if new_skips:
            _append_skipped(run, new_skips)
            for record in new_skips:
                bar.console.print(
                    f"[yellow]skipped[/] {record['path']}: {record['error']}", highlight=False
                )
        pending, pending_rows, new_skips = [], 0, []

    progress = _progress(options.progress, label=model.spec)
    with progress as bar, torch.inference_mode():
        task = bar.add_task("images", total=len(dataset), completed=resumed_from)
        for images, positions, failed in loader:
            for position, error in failed:
                new_skips.append(
                    {
                        "sample_id": dataset.sample_ids[position],
                        "path": str(dataset.paths[position]),
                        "error": error,
                    }
                )
            if images is not None:
                images = images.to(device, non_blocking=True)
                if options.channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                logits = module(images).float().cpu().numpy()
                rows = positions.numpy()
                pending.append(
                    Predictions.from_scores(
                        dataset.sample_ids[rows],
                        dataset.labels[rows],
                        logits,
                        k=options.k,
                        keep_logits=options.keep_logits,
                    )
                )
                pending_rows += len(rows)
                processed += len(rows)
            bar.update(task, advance=len(positions) + len(failed))
            if pending_rows >= options.flush_every or len(new_skips) >= 64:
                flush()
        flush()
    seconds = time.perf_counter() - started

    merged = run.read_parts()
    skipped = _read_skipped(run)
    if merged is None:
        raise ValueError(f"{dataset.spec}: none of the {len(dataset)} images could be decoded")
    position = {sid: i for i, sid in enumerate(dataset.sample_ids.tolist())}
    order = np.argsort([position[s] for s in merged.sample_ids.tolist()], kind="stable")
    predictions = merged.take(order)
    if len(set(predictions.sample_ids.tolist())) != len(predictions):
        raise RuntimeError(f"{run.parts_dir}: duplicate samples in stored parts")
    return InferenceResult(
        predictions=predictions,
        skipped=skipped,
        images_per_second=processed / seconds if processed and seconds > 0 else None,
        seconds=seconds,
        resumed_from=resumed_from,
    )


def _progress(enabled: bool, *, label: str):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class ImagesPerSecond(ProgressColumn):
        def render(self, task) -> Text:
            return Text(
                f"{task.speed:.1f} img/s" if task.speed else "", style="progress.data.speed"
            )

    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        ImagesPerSecond(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )
