"""Decode once: a disk cache of uint8 center crops, shared by every model with the same preprocessing.

JPEG decoding and resizing cost more CPU time than a small model's forward pass. Models that share
an input size, interpolation and crop (most ResNets, EfficientNets, ViTs at 224 bicubic or bilinear)
see exactly the same uint8 crop of each image, so reassess stores those crops once, under
``cache_dir('preprocessed')``, and the next model reads them instead of decoding. Normalisation
(mean/std differ between models) happens after the cache, on the device.

Layout of one cache folder (named by a hash of what determines the crops)::

    meta.json     the key: dataset, file-list hash, input size, interpolation, crop_pct, crop_mode
    images.npy    uint8 (N, H, W, 3), a plain .npy file: ``np.load(path, mmap_mode="r")`` maps it
    status.npy    uint8 (N,): 0 not yet stored, 1 stored, 2 not decodable (error in errors.json)
    errors.json   {position: error message} of the undecodable files
    lock          held (flock) by the one process that fills the cache

Filling is resumable and never exposes a half-written row: crops are written into ``images.npy``
first, flushed to disk, and only then marked in ``status.npy``, which is replaced atomically. A
process that finds the lock taken (another model is filling the same cache) reads the rows already
marked and decodes the rest itself without storing them. Reads and writes use positioned I/O on the
file rather than a long-lived memory map, so resident memory stays bounded for any dataset size.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from reassess.cache import cache_dir
from reassess.datasets.base import Dataset
from reassess.store.atomic import (
    atomic_write,
    atomic_write_json,
    describe_os_error,
    remove_stale_temporaries,
)

NOT_STORED, STORED, UNDECODABLE = 0, 1, 2
CACHE_VERSION = 1
_FREE_SPACE_MARGIN = 1 << 30  # leave 1 GiB free on the cache's disk


def files_digest(dataset: Dataset) -> str:
    """sha256 over every file's absolute path, size and modification time (changes invalidate).

    A file that cannot be stat'ed counts by its error, so one broken link does not stop a run.
    """
    digest = hashlib.sha256()
    for path, stat in zip(dataset.paths, dataset.file_stats, strict=True):
        if isinstance(stat, OSError):  # dangling symlink, symlink loop: decoding skips it
            state = f"\0unreadable\0{stat.errno}\n"
        else:
            state = f"\0{stat[0]}\0{stat[1]}\n"
        digest.update(os.fsencode(os.path.abspath(path)) + state.encode())
    return digest.hexdigest()


def crop_geometry(data_config: dict[str, Any]) -> dict[str, Any]:
    """The data-config fields that determine a uint8 crop (mean/std do not: applied later)."""
    _, height, width = data_config["input_size"]
    return {
        "input_size": [int(height), int(width)],
        "interpolation": str(data_config.get("interpolation", "bilinear")),
        "crop_pct": float(data_config.get("crop_pct") or 0.875),
        "crop_mode": str(data_config.get("crop_mode") or "center"),
    }


def cache_key(dataset: Dataset, data_config: dict[str, Any]) -> dict[str, Any]:
    """Everything that identifies one cache: dataset, its exact files, and the crop geometry."""
    if dataset.paths is None:
        raise ValueError(f"{dataset.spec}: no image files to cache")
    return {
        "version": CACHE_VERSION,
        "dataset": dataset.name,
        "root": str(Path(dataset.root).resolve()) if dataset.root else None,
        "num_samples": len(dataset.paths),
        "files_sha256": files_digest(dataset),
        **crop_geometry(data_config),
    }


def _key_name(key: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    height, width = key["input_size"]
    return f"{key['dataset']}-{height}x{width}-{key['interpolation']}-{digest}"


class RowFile:
    """Positioned reads and writes of whole rows of a uint8 .npy array; picklable, opened lazily."""

    def __init__(self, path: Path, offset: int, row_shape: tuple[int, ...]) -> None:
        self.path = Path(path)
        self.offset = offset
        self.row_shape = tuple(row_shape)
        self.row_bytes = int(np.prod(row_shape))
        self._fd: int | None = None
        self._writable = False

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fd": None, "_writable": False}

    def _open(self, write: bool) -> int:
        if self._fd is None or (write and not self._writable):
            self.close()
            self._fd = os.open(self.path, os.O_RDWR if write else os.O_RDONLY)
            self._writable = write
        return self._fd

    def read(self, positions: np.ndarray) -> np.ndarray:
        """Rows at ``positions`` as one (B, *row_shape) array; consecutive rows read in one call."""
        fd = self._open(write=False)
        out = np.empty((len(positions), *self.row_shape), dtype=np.uint8)
        flat = out.reshape(len(positions), self.row_bytes)
        for start, stop in _runs(positions):
            view = memoryview(flat[start:stop]).cast("B")
            offset = self.offset + int(positions[start]) * self.row_bytes
            done = 0
            while done < len(view):
                n = os.preadv(fd, [view[done:]], offset + done)
                if n == 0:
                    raise OSError(f"{self.path}: file ends before row {positions[start]}")
                done += n
        return out

    def write(self, positions: np.ndarray, rows: np.ndarray) -> None:
        """Write ``rows`` (B, *row_shape) at ``positions``."""
        fd = self._open(write=True)
        flat = np.ascontiguousarray(rows, dtype=np.uint8).reshape(len(positions), self.row_bytes)
        for start, stop in _runs(positions):
            view = memoryview(flat[start:stop]).cast("B")
            offset = self.offset + int(positions[start]) * self.row_bytes
            done = 0
            while done < len(view):
                done += os.pwrite(fd, view[done:], offset + done)

    def sync(self) -> None:
        if self._fd is not None and self._writable:
            os.fdatasync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _runs(positions: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges of ``positions`` whose values are consecutive integers."""
    positions = np.asarray(positions, dtype=np.int64)
    if len(positions) == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    edges = [0, *breaks.tolist(), len(positions)]
    return list(zip(edges[:-1], edges[1:], strict=True))


class PreprocessCache:
    """One dataset's uint8 crops at one preprocessing, filled resumably; see the module docstring.

    Examples
    --------
    >>> cache = PreprocessCache.open(dataset, model.data_config)  # doctest: +SKIP
    >>> stored = cache.positions(STORED)  # doctest: +SKIP
    >>> crops = cache.rows.read(stored[:64])  # (64, H, W, 3) uint8  # doctest: +SKIP
    """

    def __init__(self, path: Path, key: dict[str, Any], lock_fd: int | None) -> None:
        self.path = path
        self.key = key
        self._lock_fd = lock_fd
        self.writable = lock_fd is not None
        self.filler = self.writable  # this process fills the cache (others only read)
        self.status = np.load(path / "status.npy")
        errors = json.loads((path / "errors.json").read_text())
        self.errors = {int(k): v for k, v in errors.items()}
        header = np.load(path / "images.npy", mmap_mode="r")
        self.rows = RowFile(path / "images.npy", header.offset, header.shape[1:])
        del header
        self._dirty = False
        self._pending: list[np.ndarray] = []
        self._failed: list[int] = []
        self.hits = 0
        self.stored_now = 0

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, dataset: Dataset, data_config: dict[str, Any], *, root: Path | None = None
    ) -> PreprocessCache | None:
        """The cache for ``dataset`` at this preprocessing, created if needed; None if unusable.

        The first process to open a cache fills it; others (the lock is taken) only read what is
        already stored. None (with a warning) when the disk lacks room or locking is unavailable.
        """
        key = cache_key(dataset, data_config)
        try:
            return cls._open(key, root)
        except OSError as exc:  # read-only or full cache folder: evaluate without the cache
            warnings.warn(
                f"preprocessing cache unusable ({describe_os_error(exc)}); running without it",
                stacklevel=2,
            )
            return None

    @classmethod
    def _open(cls, key: dict[str, Any], root: Path | None) -> PreprocessCache | None:
        path = (root or cache_dir("preprocessed")) / _key_name(key)
        path.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # not POSIX: no safe way to share the cache between processes
            warnings.warn(
                "preprocessing cache needs POSIX file locks; running without it", stacklevel=2
            )
            return None
        lock_fd = os.open(path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another process is filling it: read what is there
            os.close(lock_fd)
            return cls(path, key, None) if _is_valid(path, key) else None
        try:
            remove_stale_temporaries(path)  # of a filler that was killed; we hold the lock now
            if not _is_valid(path, key) and not _create(path, key):
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
                os.close(lock_fd)
                return None
            return cls(path, key, lock_fd)
        except BaseException:
            os.close(lock_fd)
            raise

    # --- reading and filling -------------------------------------------------------------------

    def positions(self, state: int) -> np.ndarray:
        """Positions whose status is ``state`` (NOT_STORED, STORED or UNDECODABLE)."""
        return np.flatnonzero(self.status == state)

    def store(self, positions: np.ndarray, crops: np.ndarray) -> None:
        """Write decoded crops; they count as stored only after the next :meth:`commit`."""
        if not self.writable or len(positions) == 0:
            return
        try:
            self.rows.write(np.asarray(positions), crops)
        except OSError as exc:
            self._stop_filling(exc)
            return
        self._pending.append(np.asarray(positions, dtype=np.int64))
        self._dirty = True

    def store_failed(self, position: int, error: str) -> None:
        """Remember that a file does not decode, so later models skip it without trying again."""
        if not self.writable:
            return
        self.errors[int(position)] = error
        self._failed.append(int(position))
        self._dirty = True

    def commit(self) -> None:
        """Flush written crops to disk, then mark them stored (atomically replacing status.npy)."""
        if not self.writable or not self._dirty:
            return
        try:
            self._commit()
        except OSError as exc:
            self._stop_filling(exc)

    def _stop_filling(self, exc: OSError) -> None:
        """A write failed (e.g. the disk filled up): keep evaluating, stop caching."""
        warnings.warn(
            f"{self.path}: stopped filling the cache ({describe_os_error(exc)})", stacklevel=3
        )
        self._release()

    def _commit(self) -> None:
        self.rows.sync()
        if self._pending:
            stored = np.concatenate(self._pending)
            self.status[stored] = STORED
            self.stored_now += len(stored)
        for position in self._failed:
            self.status[position] = UNDECODABLE
        self._pending, self._failed = [], []
        atomic_write_json(self.path / "errors.json", {str(k): v for k, v in self.errors.items()})
        atomic_write(self.path / "status.npy", lambda tmp: _save_npy(tmp, self.status))
        self._dirty = False

    @property
    def complete(self) -> bool:
        return bool(np.all(self.status != NOT_STORED))

    def describe(self) -> dict[str, Any]:
        """What run.json records: where the cache is, how much of it this run read and wrote."""
        return {
            "path": str(self.path),
            "filled": int(np.count_nonzero(self.status)),
            "num_samples": int(len(self.status)),
            "read_from_cache": self.hits,
            "stored_by_this_run": self.stored_now,
            "filled_by_this_process": self.filler,
        }

    def read_batches(self, positions: np.ndarray, batch_size: int) -> CachedBatches:
        """A torch dataset of stored crops at ``positions``, one item per batch."""
        chunks = [positions[i : i + batch_size] for i in range(0, len(positions), batch_size)]
        self.hits += len(positions)
        return CachedBatches(self.rows, chunks)

    def close(self) -> None:
        """Commit what was written and release the fill lock."""
        if self.writable:
            self.commit()
        self._release()

    def _release(self) -> None:
        self.rows.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None
        self.writable = False

    def __enter__(self) -> PreprocessCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CachedBatches:
    """Map-style torch dataset: batch index -> (uint8 (B, H, W, 3) tensor, positions, no failures)."""

    def __init__(self, rows: RowFile, chunks: list[np.ndarray]) -> None:
        self.rows = rows
        self.chunks = chunks

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, index: int):
        import torch

        positions = self.chunks[index]
        crops = torch.from_numpy(self.rows.read(positions))
        return crops, torch.from_numpy(positions.astype(np.int64)), []


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array)


def _is_valid(path: Path, key: dict[str, Any]) -> bool:
    """A complete cache skeleton for exactly this key (contents may still be partly unfilled)."""
    try:
        if json.loads((path / "meta.json").read_text()) != key:
            return False
        status = np.load(path / "status.npy")
        images = np.load(path / "images.npy", mmap_mode="r")
        json.loads((path / "errors.json").read_text())
    except (OSError, ValueError):
        return False
    height, width = key["input_size"]
    n = key["num_samples"]
    return status.shape == (n,) and images.shape == (n, height, width, 3)


def _create(path: Path, key: dict[str, Any]) -> bool:
    """Lay out an empty cache (sparse images.npy, zero status); False if the disk is too small."""
    height, width = key["input_size"]
    n = key["num_samples"]
    needed = n * height * width * 3
    free = shutil.disk_usage(path).free
    if free < needed + _FREE_SPACE_MARGIN:
        warnings.warn(
            f"{path}: {needed / 2**30:.1f} GiB preprocessing cache does not fit in "
            f"{free / 2**30:.1f} GiB free; running without it",
            stacklevel=3,
        )
        return False
    (path / "meta.json").unlink(missing_ok=True)  # meta.json last: it marks a finished layout

    def make_images(tmp: Path) -> None:
        array = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.uint8, shape=(n, height, width, 3)
        )
        del array  # a sparse file: only the header is written now

    atomic_write(path / "images.npy", make_images)
    atomic_write(path / "status.npy", lambda tmp: _save_npy(tmp, np.zeros(n, dtype=np.uint8)))
    atomic_write_json(path / "errors.json", {})
    atomic_write_json(path / "meta.json", key)
    return True


@contextlib.contextmanager
def open_cache(dataset: Dataset, data_config: dict[str, Any], *, root: Path | None = None):
    """Context manager around :meth:`PreprocessCache.open` that always commits and unlocks."""
    cache = PreprocessCache.open(dataset, data_config, root=root)
    try:
        yield cache
    finally:
        if cache is not None:
            cache.close()
