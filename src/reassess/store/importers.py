"""Read predictions made elsewhere (.npy, .csv, .parquet) and align them to a dataset's samples.

Accepted forms, checked strictly (a bad file gets a one-line error naming it and the problem):

- ``.npy`` in the dataset's canonical order (val file order for ImageNet val): (N,) int top-1,
  (N, K) int top-k (best first), or (N, C) float logits or probabilities.
- ``.csv`` / ``.parquet`` with a file-name column (``file_name``, ``filename``, ``file``, ``path``,
  ``image`` or ``sample_id``) and one of: a ``prediction`` column (top-1), a ``topk`` column (list, or
  a string of space/comma separated indices), columns ``top1, top2, ...``, or a ``logits`` /
  ``probs`` list column. Rows are joined on the file's base name, never on position.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa

from reassess.datasets.base import Dataset
from reassess.store.predictions import Predictions

NAME_COLUMNS = ("file_name", "filename", "file", "path", "image", "sample_id")
TOP1_COLUMNS = ("prediction", "pred", "predicted", "top1", "predicted_label")


class ImportError_(ValueError):
    """A predictions file that cannot be imported; the message names the file and the problem."""


def _fail(path: Path, message: str) -> ImportError_:
    return ImportError_(f"{path}: {message}")


def import_predictions(
    path: Path, dataset: Dataset, *, k: int = 5, allow_missing: bool = False
) -> Predictions:
    """Load ``path`` and return predictions aligned to ``dataset`` (its sample order)."""
    path = Path(path)
    if not path.exists():
        raise _fail(path, "no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _from_npy(path, dataset, k=k)
    if suffix in (".csv", ".parquet", ".pq"):
        table = _read_table(path)
        return _from_table(path, table, dataset, k=k, allow_missing=allow_missing)
    raise _fail(path, f"unsupported format {suffix!r}; use .npy, .csv or .parquet")


def _read_table(path: Path) -> pa.Table:
    try:
        if path.suffix.lower() == ".csv":
            import pyarrow.csv as pacsv

            return pacsv.read_csv(path)
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).read()
    except (pa.ArrowInvalid, OSError) as exc:
        raise _fail(path, f"cannot read table ({exc})") from exc


def _from_npy(path: Path, dataset: Dataset, *, k: int) -> Predictions:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise _fail(path, f"not a readable .npy array ({exc})") from exc
    if len(array) != len(dataset):
        raise _fail(
            path,
            f"has {len(array)} rows but {dataset.name} has {len(dataset)} samples; a .npy must hold "
            "one row per sample in the dataset's order (or use a CSV/Parquet with file names)",
        )
    return _predictions_from_array(path, array, dataset.sample_ids, dataset.labels, dataset, k=k)


def _predictions_from_array(
    path: Path,
    array: np.ndarray,
    sample_ids: np.ndarray,
    labels: np.ndarray,
    dataset: Dataset,
    *,
    k: int,
) -> Predictions:
    num_classes = dataset.num_classes
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise _fail(
            path, f"expected a (N,), (N, K) or (N, {num_classes}) array, got shape {array.shape}"
        )
    if np.issubdtype(array.dtype, np.integer):
        if array.shape[1] > num_classes:
            raise _fail(
                path,
                f"{array.shape[1]} ranked predictions per row, more than {num_classes} classes",
            )
        lo, hi = int(array.min()), int(array.max())
        if lo < 0 or hi >= num_classes:
            raise _fail(path, f"class indices must be in 0..{num_classes - 1}, found {lo}..{hi}")
        return Predictions(
            sample_ids=np.asarray(sample_ids, dtype=object),
            labels=np.asarray(labels, dtype=np.int32),
            topk=array.astype(np.int16),
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise _fail(path, f"unsupported dtype {array.dtype}; expected integers or floats")
    if array.shape[1] != num_classes:
        raise _fail(
            path,
            f"scores have {array.shape[1]} classes but {dataset.name} has {num_classes} "
            "(a 1001-class model has a background class: drop column 0 first)",
        )
    bad = ~np.isfinite(array)
    if bad.any():
        row = int(np.argwhere(bad)[0, 0])
        raise _fail(
            path,
            f"{int(bad.any(axis=1).sum())} rows hold NaN or infinite scores (first: row {row})",
        )
    sums = array.sum(axis=1)
    are_probs = bool(
        (array >= 0).all() and (array <= 1).all() and np.allclose(sums, 1.0, atol=1e-3)
    )
    return Predictions.from_scores(
        sample_ids, labels, array, k=k, keep_logits=not are_probs, are_probabilities=are_probs
    )


def _column(table: pa.Table, names: tuple[str, ...]) -> str | None:
    lowered = {c.lower(): c for c in table.column_names}
    return next((lowered[n] for n in names if n in lowered), None)


def _parse_index_lists(path: Path, column: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_list(column.type) or pa.types.is_fixed_size_list(column.type):
        rows = column.to_pylist()
    else:
        rows = [[int(t) for t in re.split(r"[\s,;\[\]]+", str(s)) if t] for s in column.to_pylist()]
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise _fail(
            path, f"ranked predictions have different lengths per row: {sorted(widths)[:5]}"
        )
    return np.array(rows)


def _from_table(
    path: Path, table: pa.Table, dataset: Dataset, *, k: int, allow_missing: bool
) -> Predictions:
    name_col = _column(table, NAME_COLUMNS)
    if name_col is None:
        raise _fail(path, f"no file-name column; name one of {', '.join(NAME_COLUMNS)}")
    # ids that are paths under the data root (folder, ImageNet-A/-R/-Sketch, ObjectNet) join as is
    relative = len(dataset) > 0 and "/" in str(dataset.sample_ids[0])
    names = [str(n) if relative else Path(str(n)).name for n in table.column(name_col).to_pylist()]
    position = {sid: i for i, sid in enumerate(dataset.sample_ids.tolist())}
    rows = np.fromiter((position.get(n, -1) for n in names), dtype=np.int64, count=len(names))
    unknown = np.flatnonzero(rows < 0)
    if len(unknown):
        raise _fail(
            path,
            f"{len(unknown)} file names are not in {dataset.name} (first: {names[unknown[0]]!r})",
        )
    if len(np.unique(rows)) != len(rows):
        dup = names[int(np.flatnonzero(np.bincount(rows) > 1)[0])] if len(rows) else ""
        raise _fail(path, f"file names repeat (e.g. {dup!r}); one row per image")
    missing = len(dataset) - len(rows)
    if missing and not allow_missing:
        raise _fail(
            path,
            f"covers {len(rows)} of {len(dataset)} samples of {dataset.name}; pass --allow-missing "
            "to evaluate the covered subset only",
        )
    order = np.argsort(rows, kind="stable")
    rows_sorted = rows[order]
    ids = dataset.sample_ids[rows_sorted]
    labels = dataset.labels[rows_sorted]

    top1_col = _column(table, TOP1_COLUMNS)
    topk_col = _column(table, ("topk", "top5", "top_k"))
    scores_col = _column(table, ("logits", "probs", "probabilities", "scores"))
    rank_cols = [c for c in table.column_names if re.fullmatch(r"top\d+", c.lower())]
    if scores_col is not None:
        array = np.array(table.column(scores_col).to_pylist(), dtype=np.float32)
    elif topk_col is not None:
        array = _parse_index_lists(path, table.column(topk_col))
    elif len(rank_cols) > 1:
        rank_cols.sort(key=lambda c: int(c[3:]))
        array = np.stack([table.column(c).to_numpy() for c in rank_cols], axis=1)
    elif top1_col is not None:
        column = table.column(top1_col)
        if column.null_count:
            raise _fail(path, f"column {top1_col!r} has {column.null_count} empty values")
        array = column.to_numpy()
        if not np.issubdtype(array.dtype, np.integer):
            raise _fail(
                path, f"column {top1_col!r} must hold integer class indices, got {array.dtype}"
            )
    else:
        raise _fail(
            path,
            "no prediction column; name one of prediction, topk, top1..topK, logits or probs",
        )
    return _predictions_from_array(path, np.asarray(array)[order], ids, labels, dataset, k=k)
