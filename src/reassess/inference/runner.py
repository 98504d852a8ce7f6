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
from pathlib import Path
from typing import Any

import numpy as np

from reassess.datasets.base import Dataset
from reassess.fsnames import printable_name
from reassess.models.registry import LoadedModel
from reassess.store.predictions import Predictions
from reassess.store.run import RunDir


@dataclass
class InferenceOptions:
    """How to run: batch size, decoding workers, device, precision, cache and what to keep.

    ``cache`` reuses/fills the decoded-crop cache (:mod:`reassess.inference.cache`) under
    ``cache_root`` (default ``cache_dir('preprocessed')``); ``precision`` is fp32, bf16 or fp16
    autocast; ``compile`` wraps the model in ``torch.compile``. Finished batches are stored as a
    part every ``flush_every`` images or ``flush_seconds`` seconds, whichever comes first.
    """

    batch_size: int = 64
    workers: int | None = None
    device: str = "auto"
    k: int = 5
    keep_logits: bool = False
    channels_last: bool = True
    threads: int | None = None
    flush_every: int = 1024
    flush_seconds: float = 30.0
    progress: bool = True
    cache: bool = True
    precision: str = "fp32"
    compile: bool = False
    cache_root: Path | None = None

    def __post_init__(self) -> None:
        from reassess.inference.accel import PRECISIONS

        if self.precision not in PRECISIONS:
            raise ValueError(
                f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}"
            )

    def resolved_workers(self) -> int:
        if self.workers is not None:
            return self.workers
        return max(1, min(8, (os.cpu_count() or 2)))


# Options whose change would mix incompatible rows in one run's parts (checked on resume).
PREDICTION_OPTIONS = {"k": "--topk", "keep_logits": "--keep-logits", "precision": "--precision"}


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during inference, after every finished batch was stored: the run can resume."""

    def __init__(self, stored: int, total: int) -> None:
        super().__init__(f"interrupted after {stored:,} of {total:,} images")
        self.stored, self.total = stored, total


@dataclass
class InferenceResult:
    """Predictions in dataset order, skipped files, speed, and what the cache did."""

    predictions: Predictions
    skipped: list[dict[str, str]] = field(default_factory=list)
    images_per_second: float | None = None
    seconds: float = 0.0
    resumed_from: int = 0
    cache: dict[str, Any] | None = None
    decoded: int = 0


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
    """Predict every sample of ``dataset`` not yet stored in ``run``'s parts; merge at the end.

    Images come from the preprocessing cache where a model with the same crop already decoded
    them, else from worker processes that decode them (and fill the cache). Workers send uint8
    crops; the device normalises them, runs the model (autocast if asked) and ranks the scores.
    """
    import torch

    from reassess.inference.accel import (
        Normalizer,
        autocast,
        check_device,
        configure_threads,
        precision_notes,
        prepare_module,
    )

    if not dataset.has_images:
        raise ValueError(f"{dataset.spec}: no image folder given, nothing to run the model on")
    device = check_device(options.device)
    notes = precision_notes(device, options.precision)
    configure_threads(device, options.threads)
    done = run.read_parts()
    skipped = _read_skipped(run)
    finished = set(done.sample_ids.tolist()) if done is not None else set()
    finished.update(r["sample_id"] for r in skipped)
    todo = np.array(
        [i for i, sid in enumerate(dataset.sample_ids.tolist()) if sid not in finished],
        dtype=np.int64,
    )
    resumed_from = len(finished)

    module = prepare_module(
        model.module, device, channels_last=options.channels_last, compile=options.compile
    )
    normalize = Normalizer(
        model.data_config["mean"],
        model.data_config["std"],
        device,
        channels_last=options.channels_last,
    )
    cache = _open_cache(dataset, model, options) if len(todo) else None
    source = _ImageSource(dataset, model, todo, cache, options, device)
    pending: list[Predictions] = []
    pending_rows = 0
    new_skips: list[dict[str, str]] = []
    processed = 0
    stored = resumed_from
    last_flush = time.monotonic()
    cuda = device.startswith("cuda")
    in_flight: tuple = ()

    def skip(position: int, error: str) -> None:
        new_skips.append(
            {
                "sample_id": dataset.sample_ids[position],
                "path": str(dataset.paths[position]),
                "error": error,
            }
        )

    def collect(logits, positions) -> None:
        nonlocal pending_rows, processed
        rows = positions.numpy()
        scores = logits.float().cpu().numpy()
        scores = dataset.restrict_scores(scores)  # ImageNet-A/-R, ObjectNet: their classes only
        pending.append(
            Predictions.from_scores(
                dataset.sample_ids[rows],
                dataset.labels[rows],
                scores,
                k=options.k,
                keep_logits=options.keep_logits,
            )
        )
        pending_rows += len(rows)
        processed += len(rows)

    def flush() -> None:
        nonlocal pending, pending_rows, new_skips, stored, last_flush
        # Taken off the queue before writing: a Ctrl-C inside a write can lose a batch (predicted
        # again on resume) but never store it twice.
        rows, records, pending, pending_rows, new_skips = pending, new_skips, [], 0, []
        if rows:
            part = Predictions.concat(rows)
            run.append_part(part)
            stored += len(part)
        if records:
            _append_skipped(run, records)
            stored += len(records)
            for record in records:
                bar.console.print(
                    f"[yellow]skipped[/] {printable_name(record['path'])}: {record['error']}",
                    highlight=False,
                    soft_wrap=True,
                )
        if cache is not None:
            cache.commit()
        last_flush = time.monotonic()

    def due() -> bool:
        if not pending_rows and not new_skips:
            return False
        return (
            pending_rows >= options.flush_every
            or len(new_skips) >= 64
            or time.monotonic() - last_flush >= options.flush_seconds
        )

    if len(todo) and (cuda or options.compile):
        _warm_up(module, model.data_config, device, options)
    progress = _progress(options.progress, label=model.spec)
    started = time.perf_counter()
    try:
        with progress as bar, torch.inference_mode():
            for note in notes:
                bar.console.print(f"[yellow]note[/]: {note}", highlight=False)
            task = bar.add_task("images", total=len(dataset), completed=resumed_from)
            for position, error in source.known_failures():
                skip(position, error)
            bar.update(task, advance=len(new_skips))
            for crops, positions, failed in source:
                for position, error in failed:
                    skip(position, error)
                if crops is not None:
                    images = normalize(crops.to(device, non_blocking=True))
                    n = images.shape[0]
                    if options.compile and n < options.batch_size:  # one shape: no recompiling
                        images = _pad_batch(images, options.batch_size)
                    with autocast(device, options.precision):
                        logits = module(images)[:n]
                    if cuda:  # rank the previous batch while the GPU runs this one
                        if in_flight:
                            collect(*in_flight)
                        in_flight = (logits, positions)
                    else:
                        collect(logits, positions)
                bar.update(task, advance=len(positions) + len(failed))
                if due():
                    flush()
            if in_flight:
                collect(*in_flight)
            flush()
    except KeyboardInterrupt:
        flush()  # every batch the model finished is kept
        raise RunInterrupted(stored, len(dataset)) from None
    finally:
        if cache is not None:
            cache.close()
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
        cache=cache.describe() if cache is not None else None,
        decoded=source.decoded,
    )


def _warm_up(module, data_config: dict, device: str, options: InferenceOptions) -> None:
    """One forward pass on a dummy batch, so cuDNN autotuning and compilation are not timed."""
    import torch

    from reassess.inference.accel import autocast

    _, height, width = data_config["input_size"]
    memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
    x = torch.zeros(options.batch_size, 3, height, width, device=device)
    with torch.inference_mode(), autocast(device, options.precision):
        module(x.contiguous(memory_format=memory_format))


def _pad_batch(images, batch_size: int):
    """``images`` padded with zero images to ``batch_size`` rows, keeping its memory format."""
    import torch

    pad = images.new_zeros((batch_size - images.shape[0], *images.shape[1:]))
    memory_format = (
        torch.channels_last
        if images.is_contiguous(memory_format=torch.channels_last)
        else torch.contiguous_format
    )
    return torch.cat([images, pad]).contiguous(memory_format=memory_format)


def _open_cache(dataset: Dataset, model: LoadedModel, options: InferenceOptions):
    """The preprocessing cache for this dataset and crop, or None when disabled or unusable."""
    if not options.cache:
        return None
    from reassess.inference.cache import PreprocessCache

    return PreprocessCache.open(dataset, model.data_config, root=options.cache_root)


class _ImageSource:
    """Batches of (uint8 crops, positions, failures): cached crops first, then decoded ones.

    Decoded crops are written into the cache (when this process fills it) as they arrive.
    """

    def __init__(self, dataset, model, todo, cache, options, device) -> None:
        from reassess.inference.cache import NOT_STORED, STORED, UNDECODABLE
        from reassess.inference.loader import crop_transform

        self.dataset = dataset
        self.cache = cache
        self.options = options
        self.pin = device.startswith("cuda")
        self.crop = crop_transform(model.data_config)
        if cache is None:
            self.cached, self.failed_before, self.to_decode = todo[:0], todo[:0], todo
        else:
            state = cache.status[todo]
            self.cached = todo[state == STORED]
            self.failed_before = todo[state == UNDECODABLE]
            self.to_decode = todo[state == NOT_STORED]
        self.decoded = 0

    def known_failures(self) -> list[tuple[int, str]]:
        """Files the cache already knows do not decode (not tried again)."""
        return [
            (int(p), self.cache.errors.get(int(p), "not decodable")) for p in self.failed_before
        ]

    def _loader(self, dataset, **kwargs):
        from torch.utils.data import DataLoader

        workers = self.options.resolved_workers()
        return DataLoader(
            dataset,
            shuffle=False,
            num_workers=workers,
            pin_memory=self.pin,
            persistent_workers=False,
            prefetch_factor=4 if workers else None,
            **kwargs,
        )

    def __iter__(self):
        from torch.utils.data import Subset

        from reassess.datasets.decoding import ImageFiles, collate_skipping_failures

        if len(self.cached):
            batches = self.cache.read_batches(self.cached, self.options.batch_size)
            yield from self._loader(batches, batch_size=None)
        if len(self.to_decode):
            files = Subset(ImageFiles(self.dataset.paths, self.crop), self.to_decode.tolist())
            loader = self._loader(
                files, batch_size=self.options.batch_size, collate_fn=collate_skipping_failures
            )
            for crops, positions, failed in loader:
                self.decoded += len(positions) + len(failed)
                if self.cache is not None:
                    if crops is not None:
                        self.cache.store(positions.numpy(), crops.numpy())
                    for position, error in failed:
                        self.cache.store_failed(position, error)
                yield crops, positions, failed


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

    from rich.console import Console

    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        ImagesPerSecond(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),  # stdout stays for results (e.g. eval --json)
        disable=not enabled,
    )
