"""Per-image sets of valid classes (ReaL, expert multi-labels, reviewed labels), stored sparsely."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class LabelSets:
    """A set of valid class indices for each of N samples, CSR-style.

    ``indices[indptr[i]:indptr[i + 1]]`` are the valid classes of sample ``sample_ids[i]``.
    ``annotated[i]`` is False where the label source says nothing about the sample (after
    :meth:`align` to samples it does not cover); an annotated sample with an empty set is one the
    source asks to exclude (ReaL's convention).
    """

    name: str
    sample_ids: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    annotated: np.ndarray

    @classmethod
    def from_lists(
        cls, name: str, sample_ids: Sequence[str], sets: Iterable[Iterable[int]]
    ) -> LabelSets:
        """Build from one iterable of class indices per sample."""
        rows = [s if isinstance(s, list | tuple) else list(s) for s in sets]
        fast = _csr_from_rows(rows) if len(rows) == len(sample_ids) else None
        if fast is not None:
            indptr, flat = fast
        else:  # exact per-row path: any int()-able entries, and the length check
            lists = [sorted(set(int(c) for c in s)) for s in rows]
            if len(lists) != len(sample_ids):
                raise ValueError(
                    f"{name}: {len(sample_ids)} sample ids but {len(lists)} label sets"
                )
            counts = np.fromiter((len(s) for s in lists), dtype=np.int64, count=len(lists))
            indptr = np.zeros(len(lists) + 1, dtype=np.int64)
            np.cumsum(counts, out=indptr[1:])
            flat = np.fromiter((c for s in lists for c in s), dtype=np.int16, count=int(indptr[-1]))
        return cls(
            name=name,
            sample_ids=np.asarray(sample_ids, dtype=object),
            indptr=indptr,
            indices=flat,
            annotated=np.ones(len(rows), dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.sample_ids)

    @property
    def counts(self) -> np.ndarray:
        """Number of valid classes per sample."""
        return np.diff(self.indptr)

    @property
    def row_ids(self) -> np.ndarray:
        """The sample row of each entry of ``indices``."""
        return np.repeat(np.arange(len(self)), self.counts)

    @property
    def evaluable(self) -> np.ndarray:
        """Samples that count in an evaluation: annotated and with at least one valid class."""
        return self.annotated & (self.counts > 0)

    def labels_of(self, row: int) -> list[int]:
        return self.indices[self.indptr[row] : self.indptr[row + 1]].tolist()

    def to_lists(self) -> list[list[int]]:
        return [self.labels_of(i) for i in range(len(self))]

    def align(self, sample_ids: Sequence[str]) -> LabelSets:
        """The same label sets reordered to ``sample_ids``; ids this source lacks get ``annotated=False``."""
        if len(self) == 0:
            empty = LabelSets.from_lists(self.name, list(sample_ids), [[] for _ in sample_ids])
            return replace(empty, annotated=np.zeros(len(sample_ids), dtype=bool))
        position = {sid: i for i, sid in enumerate(self.sample_ids)}
        rows = np.fromiter(
            (position.get(s, -1) for s in sample_ids), dtype=np.int64, count=len(sample_ids)
        )
        found = rows >= 0
        counts = np.where(found, self.counts[np.where(found, rows, 0)], 0)
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        starts = self.indptr[np.where(found, rows, 0)]
        # gather every source entry of every found row, in the new row order
        take = np.repeat(starts - indptr[:-1], counts) + np.arange(int(indptr[-1]))
        return LabelSets(
            name=self.name,
            sample_ids=np.asarray(sample_ids, dtype=object),
            indptr=indptr,
            indices=self.indices[take],
            annotated=found & self.annotated[np.where(found, rows, 0)],
        )

    def contains(self, classes: np.ndarray) -> np.ndarray:
        """Hit matrix: ``out[i, j]`` is True when ``classes[i, j]`` is a valid class of sample i.

        ``classes`` is (N,) or (N, K), e.g. top-k predictions; the result has the same shape.
        This one step serves every set-based metric (ReaL, multi-label, ImageNet-M, variable top-k).
        """
        classes = np.asarray(classes)
        squeeze = classes.ndim == 1
        table = classes[:, None] if squeeze else classes
        if len(table) != len(self):
            raise ValueError(f"{self.name}: {len(table)} predictions for {len(self)} label sets")
        rows = self.row_ids
        match_entry, match_col = np.nonzero(table[rows] == self.indices[:, None])
        out = np.zeros(table.shape, dtype=bool)
        out[rows[match_entry], match_col] = True
        return out[:, 0] if squeeze else out


def _csr_from_rows(rows: list) -> tuple[np.ndarray, np.ndarray] | None:
    """Sorted, de-duplicated CSR (indptr, int16 indices) of integer rows, vectorised.

    ReaL has 50,000 rows: this is ~10x faster than sorting each row in Python. None when an entry
    is not a plain integer or does not fit int16, so the caller's exact per-row path decides.
    """
    import itertools

    counts = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    total = int(counts.sum())
    try:
        flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=total)
    except (TypeError, ValueError, OverflowError):
        return None
    if total and (flat.min() < np.iinfo(np.int16).min or flat.max() > np.iinfo(np.int16).max):
        return None
    row_of = np.repeat(np.arange(len(rows)), counts)
    order = np.lexsort((flat, row_of))  # by row, then class
    flat, row_of = flat[order], row_of[order]
    keep = np.ones(total, dtype=bool)
    keep[1:] = (flat[1:] != flat[:-1]) | (row_of[1:] != row_of[:-1])
    flat, row_of = flat[keep], row_of[keep]
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of, minlength=len(rows)), out=indptr[1:])
    return indptr, flat.astype(np.int16)
