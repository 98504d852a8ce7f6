"""The run folder: one model on one dataset, as files others can read without reassess.

``run.json`` (what produced the run), ``predictions.parquet`` (see :mod:`reassess.store.predictions`),
``metrics.json``, ``per_class.csv``; later stages add ``mistakes.parquet`` and reports. While an
``eval`` is in progress, finished batches sit in ``parts/`` so an interrupted run resumes exactly.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from reassess.store.atomic import (
    TEMPORARY_GLOB,
    atomic_write,
    atomic_write_json,
    remove_stale_temporaries,
)
from reassess.store.predictions import Predictions, read_predictions, write_predictions

LOCK_FILE = ".reassess.lock"


class RunFolderBusy(RuntimeError):
    """Another process is writing the same run folder."""


class RunDir:
    """Paths and readers/writers of one run folder."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def predictions_file(self) -> Path:
        return self.path / "predictions.parquet"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.json"

    @property
    def per_class_file(self) -> Path:
        return self.path / "per_class.csv"

    @property
    def parts_dir(self) -> Path:
        return self.path / "parts"

    def exists(self) -> bool:
        return self.run_json.exists()

    def holds_only_leftovers(self) -> bool:
        """No run.json, and nothing but what a writer killed before its first rename leaves."""
        if self.exists() or not self.path.is_dir():
            return False
        for entry in self.path.iterdir():
            if entry.name == LOCK_FILE or entry.match(TEMPORARY_GLOB):
                continue
            if entry == self.parts_dir and not self._part_files():
                continue
            return False
        return True

    def stored_predictions(self) -> bool:
        """Whether any prediction reached disk (a finished file or a part of an interrupted run)."""
        return self.predictions_file.exists() or bool(self._part_files())

    def remove_stale_temporaries(self) -> None:
        """Delete temporaries of writers that were killed (only call while holding :meth:`lock`)."""
        remove_stale_temporaries(self.path)
        if self.parts_dir.is_dir():
            remove_stale_temporaries(self.parts_dir)

    def clear(self) -> None:
        """Delete everything in the run folder (``--overwrite``); the folder itself stays."""
        for entry in self.path.iterdir():
            if entry.name == LOCK_FILE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's write lock; :class:`RunFolderBusy` if another process holds it."""
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # not POSIX: no cross-process lock
            yield
            return
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunFolderBusy(
                    f"{self.path}: another reassess process is writing this run folder"
                ) from None
            yield
        finally:
            os.close(fd)

    def read_run(self) -> dict[str, Any]:
        if not self.run_json.exists():
            raise FileNotFoundError(f"{self.path}: not a run folder (no run.json)")
        try:
            return json.loads(self.run_json.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{self.run_json}: not valid JSON ({exc})") from exc

    def write_run(self, info: dict[str, Any]) -> None:
        atomic_write_json(self.run_json, info)

    def update_run(self, **fields: Any) -> dict[str, Any]:
        info = self.read_run() if self.exists() else {}
        info.update(fields)
        self.write_run(info)
        return info

    def read_predictions(self) -> Predictions:
        return read_predictions(self.predictions_file)

    def write_predictions(self, predictions: Predictions) -> None:
        write_predictions(self.predictions_file, predictions)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        atomic_write_json(self.metrics_file, metrics)

    def read_metrics(self) -> dict[str, Any]:
        return json.loads(self.metrics_file.read_text())

    # --- resumable evaluation: finished batches are kept as numbered parts -------------------

    def _part_files(self) -> list[Path]:
        return sorted(self.parts_dir.glob("part-*.parquet"))

    def append_part(self, predictions: Predictions) -> Path:
        """Store one finished batch atomically as the next numbered part."""
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        existing = self._part_files()
        number = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
        path = self.parts_dir / f"part-{number:06d}.parquet"
        table = predictions.to_table()
        atomic_write(path, lambda tmp: pq.write_table(table, tmp))
        return path

    def read_parts(self) -> Predictions | None:
        """All finished batches so far, or None when there are none."""
        parts = [Predictions.from_table(pq.ParquetFile(p).read()) for p in self._part_files()]
        return Predictions.concat(parts) if parts else None

    def clear_parts(self) -> None:
        shutil.rmtree(self.parts_dir, ignore_errors=True)
