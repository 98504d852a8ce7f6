"""Stored predictions: one row per sample with its label, top-k classes and probabilities.

Schema of ``predictions.parquet`` (documented in the README):

- ``sample_id`` (string): file name (ImageNet val, ImageNetV2) or path relative to the data root.
- ``label`` (int16): the dataset's single label, -1 where unknown.
- ``topk`` (list<int16>[K]): class indices, best first.
- ``probs`` (list<float32>[K], nullable column): softmax probabilities of ``topk``.
- ``logits`` (list<float16>[C], optional column): full logits when the run kept them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from reassess.store.atomic import atomic_write


@dataclass(frozen=True)
class Predictions:
    """Predictions of one model on one dataset, aligned row by row with ``sample_ids``."""

    sample_ids: np.ndarray
    labels: np.ndarray
    topk: np.ndarray
    probs: np.ndarray | None = None
    logits: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.sample_ids)
        if self.topk.ndim != 2 or len(self.topk) != n or len(self.labels) != n:
            raise ValueError(
                f"inconsistent predictions: {n} ids, {len(self.labels)} labels, topk {self.topk.shape}"
            )
        if self.probs is not None and self.probs.shape != self.topk.shape:
            raise ValueError(f"probs shape {self.probs.shape} != topk shape {self.topk.shape}")

    def __len__(self) -> int:
        return len(self.sample_ids)

    @property
    def top1(self) -> np.ndarray:
        return self.topk[:, 0]

    @property
    def k(self) -> int:
        return self.topk.shape[1]

    def take(self, rows: np.ndarray) -> Predictions:
        """The subset of rows ``rows`` (indices or boolean mask), in that order."""
        return Predictions(
            sample_ids=self.sample_ids[rows],
            labels=self.labels[rows],
            topk=self.topk[rows],
            probs=None if self.probs is None else self.probs[rows],
            logits=None if self.logits is None else self.logits[rows],
        )

    @classmethod
    def concat(cls, parts: list[Predictions]) -> Predictions:
        if not parts:
            raise ValueError("no predictions to concatenate")
        has_probs = all(p.probs is not None for p in parts)
        has_logits = all(p.logits is not None for p in parts)
        return cls(
            sample_ids=np.concatenate([p.sample_ids for p in parts]),
            labels=np.concatenate([p.labels for p in parts]),
            topk=np.concatenate([p.topk for p in parts]),
            probs=np.concatenate([p.probs for p in parts]) if has_probs else None,
            logits=np.concatenate([p.logits for p in parts]) if has_logits else None,
        )

    @classmethod
    def from_scores(
        cls,
        sample_ids: np.ndarray,
        labels: np.ndarray,
        scores: np.ndarray,
        *,
        k: int = 5,
        keep_logits: bool = False,
        are_probabilities: bool = False,
    ) -> Predictions:
        """Rank (N, C) logits or probabilities into top-k classes with softmax probabilities."""
        scores = np.asarray(scores, dtype=np.float32)
        k = min(k, scores.shape[1])
        if are_probabilities:
            probs_all = scores
        else:
            shifted = scores - scores.max(axis=1, keepdims=True)
            probs_all = np.exp(shifted)
            probs_all /= probs_all.sum(axis=1, keepdims=True)
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
        topk = np.take_along_axis(part, order, axis=1)
        return cls(
            sample_ids=np.asarray(sample_ids, dtype=object),
            labels=np.asarray(labels, dtype=np.int32),
            topk=topk.astype(np.int16),
            probs=np.take_along_axis(probs_all, topk, axis=1).astype(np.float32),
            logits=scores.astype(np.float16) if keep_logits else None,
        )

    def to_table(self) -> pa.Table:
        k = self.k
        columns = {
            "sample_id": pa.array(self.sample_ids.tolist(), pa.string()),
            "label": pa.array(self.labels.astype(np.int16)),
            "topk": pa.FixedSizeListArray.from_arrays(
                pa.array(self.topk.astype(np.int16).ravel()), k
            ),
        }
        if self.probs is not None:
            columns["probs"] = pa.FixedSizeListArray.from_arrays(
                pa.array(self.probs.astype(np.float32).ravel()), k
            )
        if self.logits is not None:
            columns["logits"] = pa.FixedSizeListArray.from_arrays(
                pa.array(self.logits.astype(np.float16).ravel()), self.logits.shape[1]
            )
        return pa.table(columns)

    @classmethod
    def from_table(cls, table: pa.Table) -> Predictions:
        n = table.num_rows

        def matrix(name: str, dtype) -> np.ndarray | None:
            if name not in table.column_names:
                return None
            col = table.column(name).combine_chunks()
            if col.null_count == n:
                return None
            width = col.type.list_size
            return col.flatten().to_numpy(zero_copy_only=False).astype(dtype).reshape(n, width)

        return cls(
            sample_ids=np.asarray(table.column("sample_id").to_pylist(), dtype=object),
            labels=table.column("label").to_numpy().astype(np.int32),
            topk=matrix("topk", np.int16),
            probs=matrix("probs", np.float32),
            logits=matrix("logits", np.float16),
        )


def write_predictions(path: Path, predictions: Predictions) -> None:
    """Write predictions to a Parquet file atomically."""
    table = predictions.to_table()
    atomic_write(Path(path), lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def read_predictions(path: Path) -> Predictions:
    """Read a predictions Parquet file written by :func:`write_predictions`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no stored predictions (run `reassess eval` or `import`)")
    try:
        return Predictions.from_table(pq.ParquetFile(path).read())
    except (pa.ArrowInvalid, KeyError, OSError) as exc:
        raise ValueError(f"{path}: not a reassess predictions file ({exc})") from exc
