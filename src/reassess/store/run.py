"""The run folder: one model on one dataset, as files others can read without reassess.

The files and their fields are documented in :mod:`reassess.store.schema`; :class:`RunDir` is their
one reader and writer. While an ``eval`` is in progress, finished batches sit in ``parts/`` so an
interrupted run resumes exactly.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from reassess.store import schema
from reassess.store.atomic import (
    TEMPORARY_GLOB,
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    remove_stale_temporaries,
)
from reassess.store.predictions import Predictions, read_predictions, write_predictions
from reassess.store.schema import AnalysisDoc, MetricsDoc, RunFolderError, RunInfo

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
        return self.path / schema.RUN_FILE

    @property
    def predictions_file(self) -> Path:
        return self.path / schema.PREDICTIONS_FILE

    @property
    def metrics_file(self) -> Path:
        return self.path / schema.METRICS_FILE

    @property
    def per_class_file(self) -> Path:
        return self.path / schema.PER_CLASS_FILE

    @property
    def analysis_file(self) -> Path:
        return self.path / schema.ANALYSIS_FILE

    @property
    def mistakes_file(self) -> Path:
        return self.path / schema.MISTAKES_FILE

    @property
    def oov_file(self) -> Path:
        return self.path / schema.OOV_FILE

    @property
    def parts_dir(self) -> Path:
        return self.path / schema.PARTS_DIR

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

    # --- the schema's files: one reader and one writer each ---------------------------------

    def _read_json(self, path: Path, missing: str) -> Any:
        if not path.is_file():
            raise RunFolderError(f"{self.path}: {missing} (no {path.name})")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunFolderError(f"{path}: not valid JSON ({exc})") from exc

    def read_run(self) -> RunInfo:
        """``run.json``, checked against :class:`~reassess.store.schema.RunInfo`."""
        doc = self._read_json(self.run_json, "not a run folder")
        return schema.parse_run_info(doc, self.run_json)

    def write_run(self, info: RunInfo | dict[str, Any]) -> None:
        atomic_write_json(self.run_json, schema.stamped(dict(info)))

    def update_run(self, **fields: Any) -> RunInfo:
        info = self.read_run() if self.exists() else {}
        info.update(fields)
        self.write_run(info)
        return info  # type: ignore[return-value]

    def read_predictions(self) -> Predictions:
        return read_predictions(self.predictions_file)

    def write_predictions(self, predictions: Predictions) -> None:
        write_predictions(self.predictions_file, predictions)

    def has_metrics(self) -> bool:
        return self.metrics_file.is_file()

    def read_metrics(self) -> MetricsDoc:
        """``metrics.json``: metric keys -> ``{"value", "n", "ci95"}`` and how they were scored."""
        doc = self._read_json(
            self.metrics_file, f"no metrics yet; run reassess metrics {self.path}"
        )
        return schema.parse_document(doc, self.metrics_file)  # type: ignore[return-value]

    def write_metrics(self, metrics: MetricsDoc | dict[str, Any]) -> None:
        atomic_write_json(self.metrics_file, schema.stamped(dict(metrics)))

    def read_analysis(self) -> AnalysisDoc:
        """``analysis.json``, the summary ``reassess analyze`` wrote."""
        doc = self._read_json(self.analysis_file, f"not analysed; run reassess analyze {self.path}")
        body = schema.parse_document(doc, self.analysis_file, schema.ANALYSIS_REQUIRED)
        return body  # type: ignore[return-value]

    def write_analysis(self, summary: AnalysisDoc | dict[str, Any]) -> None:
        """Store ``analysis.json`` (write :meth:`write_mistakes` first: the summary describes it)."""
        body = schema.parse_document(dict(summary), self.analysis_file, schema.ANALYSIS_REQUIRED)
        atomic_write_json(self.analysis_file, schema.stamped(body))

    def write_mistakes(self, table: Any) -> None:
        """Store ``mistakes.parquet``: a pyarrow Table with at least :data:`MISTAKES_COLUMNS`."""
        schema.check_mistakes_table(table, self.mistakes_file)
        version = {schema.PARQUET_VERSION_KEY: str(schema.SCHEMA_VERSION).encode()}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **version})
        atomic_write(self.mistakes_file, lambda tmp: pq.write_table(table, tmp))

    def read_mistakes(self) -> Any:
        """``mistakes.parquet`` as a pyarrow Table, checked against the schema's columns."""
        import pyarrow as pa

        path = self.mistakes_file
        if not path.is_file():
            raise RunFolderError(f"{self.path}: not analysed; run reassess analyze {self.path}")
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise RunFolderError(f"{path}: not a Parquet file ({exc})") from exc
        version = (table.schema.metadata or {}).get(schema.PARQUET_VERSION_KEY)
        schema.check_version(int(version) if version and version.isdigit() else None, path)
        schema.check_mistakes_table(table, path)
        return table

    def write_per_class(self, rows: list[dict[str, Any]]) -> None:
        """``per_class.csv``: one row per class with images, columns :data:`PER_CLASS_COLUMNS`."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=schema.PER_CLASS_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.per_class_file, buffer.getvalue())

    def read_per_class(self) -> list[dict[str, Any]] | None:
        """Rows of ``per_class.csv`` with numbers parsed, or None for a run without one."""
        path = self.per_class_file
        if not path.is_file():
            return None
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in schema.PER_CLASS_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise RunFolderError(f"{path}: missing column(s) {', '.join(missing)}")
            try:
                return [
                    {
                        "class": int(row["class"]),
                        "wnid": row["wnid"],
                        "name": row["name"],
                        "support": int(row["support"]),
                        "top1": float(row["top1"]),
                    }
                    for row in reader
                ]
            except (TypeError, ValueError) as exc:
                raise RunFolderError(
                    f"{path}: line {reader.line_num}: not a number ({exc})"
                ) from exc

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
