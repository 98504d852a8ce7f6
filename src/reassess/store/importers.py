"""Read predictions made elsewhere (.npy, .csv, .parquet) and align them to a dataset's samples.

Accepted forms, checked strictly (a bad file gets a one-line error naming it and the problem):

- ``.npy`` in the dataset's canonical order (val file order for ImageNet val): (N,) int top-1,
  (N, K) int top-k (best first), or (N, C) float logits or probabilities.
- ``.csv`` / ``.parquet`` with a file-name column (``file_name``, ``filename``, ``file``, ``path``,
  ``image`` or ``sample_id``) and one of: a ``prediction`` column (top-1), a ``topk`` column (list, or
  a string of space/comma separated indices), columns ``top1, top2, ...``, or a ``logits`` /
  ``probs`` list column. Rows are joined on the file's base name, never on position.

Messages name rows the way a user finds them: data rows of a table counted from 1 (the header is not
a row), rows of a .npy array counted from 0 (``array[i]``).
"""

from __future__ import annotations

import re
import reprlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reassess.datasets.base import Dataset
from reassess.store.predictions import Predictions

NAME_COLUMNS = ("file_name", "filename", "file", "path", "image", "sample_id")
TOP1_COLUMNS = ("prediction", "pred", "predicted", "top1", "predicted_label")


class ImportError_(ValueError):
    """A predictions file that cannot be imported; the message names the file and the problem."""


def _fail(path: Path, message: str) -> ImportError_:
    """The error for ``path``, on one line (library messages can hold newlines)."""
    return ImportError_(f"{path}: {' '.join(message.splitlines())}")


def _rows(*indices: int, base: int = 1) -> str:
    """0-based row indices as a message names them, with the convention: 'rows 2 and 5 (...)'."""
    note = "data rows counted from 1" if base else "array rows counted from 0"
    numbers = " and ".join(str(i + base) for i in indices)
    return f"{'row' if len(indices) == 1 else 'rows'} {numbers} ({note})"


def _count(n: int, noun: str) -> str:
    """'1 row', '3 rows'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _not_utf8(path: Path, exc: UnicodeDecodeError, where: str) -> ImportError_:
    """The error for text that is not UTF-8 (Latin-1 names would otherwise all look unknown)."""
    return _fail(
        path, f"not UTF-8 text (byte 0x{exc.object[exc.start]:02X} {where}); save it as UTF-8"
    )


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
    csv = path.suffix.lower() == ".csv"
    try:
        if csv:
            import pyarrow.csv as pacsv

            table = pacsv.read_csv(path)
        else:
            import pyarrow.parquet as pq

            table = pq.ParquetFile(path).read()
    except (pa.ArrowInvalid, OSError) as exc:
        if csv and isinstance(exc, pa.ArrowInvalid):
            _check_utf8(path)
        raise _fail(path, f"cannot read table ({exc})") from exc
    if csv and not _is_utf8_table(table):
        _check_utf8(path)
    return table


def _is_utf8_table(table: pa.Table) -> bool:
    """False where pyarrow kept bytes that are not UTF-8: as a binary column, or in the header."""
    try:
        names = table.column_names
    except UnicodeDecodeError:
        return False
    return not any(pa.types.is_binary(table.schema.field(n).type) for n in names)


def _check_utf8(path: Path) -> None:
    """Fail naming the first byte of the file that is not UTF-8, with its line and offset."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _not_utf8(path, exc, f"on line {line}, at offset {exc.start} of the file") from None


def _from_npy(path: Path, dataset: Dataset, *, k: int) -> Predictions:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _fail(path, f"not a readable .npy array ({exc})") from exc
    if not isinstance(array, np.ndarray):
        raise _fail(path, "is an .npz archive, not a single .npy array")
    if array.ndim == 0:
        raise _fail(
            path, f"holds a single value ({reprlib.repr(array.item())}), not one row per sample"
        )
    if len(array) != len(dataset):
        raise _fail(
            path,
            f"has {len(array)} rows but {dataset.name} has {len(dataset)} samples; a .npy must hold "
            "one row per sample in the dataset's order (or use a CSV/Parquet with file names)",
        )
    return _predictions_from_array(
        path, array, dataset.sample_ids, dataset.labels, dataset, k=k, row_base=0
    )


def _predictions_from_array(
    path: Path,
    array: np.ndarray,
    sample_ids: np.ndarray,
    labels: np.ndarray,
    dataset: Dataset,
    *,
    k: int,
    row_base: int,
) -> Predictions:
    num_classes = dataset.num_classes
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise _fail(
            path, f"expected a (N,), (N, K) or (N, {num_classes}) array, got shape {array.shape}"
        )
    if array.shape[1] == 0:
        raise _fail(
            path,
            f"rows are empty (shape {array.shape}); each row needs a class index, ranked class "
            f"indices or {num_classes} scores",
        )
    if np.issubdtype(array.dtype, np.integer):
        if array.shape[1] > num_classes:
            raise _fail(
                path,
                f"{array.shape[1]} ranked predictions per row, more than {num_classes} classes",
            )
        lo, hi = int(array.min()), int(array.max())
        if lo < 0 or hi >= num_classes:
            row = int(np.argwhere((array < 0) | (array >= num_classes))[0, 0])
            raise _fail(
                path,
                f"class indices must be in 0..{num_classes - 1}, found {lo}..{hi}; the first "
                f"bad one is in {_rows(row, base=row_base)}",
            )
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
            f"NaN or infinite scores in {_count(int(bad.any(axis=1).sum()), 'row')}; the first is "
            f"{_rows(row, base=row_base)}",
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


def _is_list(kind: pa.DataType) -> bool:
    """Whether a column of type ``kind`` holds one list per row (any of Arrow's list types)."""
    return (
        pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    )


def _check_no_nulls(path: Path, column: pa.Array | pa.ChunkedArray, name: str) -> None:
    """Fail naming the first empty cell of column ``name``: it would surface as NaN or None."""
    if column.null_count:
        first = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        more = column.null_count - 1
        others = f" and {_count(more, 'other row')}" if more else ""
        raise _fail(path, f"column {name!r} is empty in {_rows(first)}{others}")


def _file_names(path: Path, column: pa.ChunkedArray, name: str) -> list[str]:
    """The file-name column as text; names stored as bytes must be UTF-8."""
    _check_no_nulls(path, column, name)
    values = column.to_pylist()
    if not (pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type)):
        return [str(v) for v in values]
    names = []
    for row, value in enumerate(values):
        try:
            names.append(value.decode("utf-8"))
        except UnicodeDecodeError as exc:
            where = f"at offset {exc.start} of column {name!r} in {_rows(row)}"
            raise _not_utf8(path, exc, where) from None
    return names


def _index_lists(path: Path, column: pa.ChunkedArray, name: str) -> pa.Array:
    """The ranked-index column as a list array; strings like '3 1 7' or '[3, 1, 7]' are parsed."""
    if _is_list(column.type):
        return column.combine_chunks()
    _check_no_nulls(path, column, name)
    rows = []
    for row, text in enumerate(column.to_pylist()):
        tokens = [t for t in re.split(r"[\s,;\[\]]+", str(text)) if t]
        try:
            indices = [int(t) for t in tokens]
        except ValueError:
            indices = []
        if not indices:
            raise _fail(
                path,
                f"column {name!r} holds {reprlib.repr(text)} in {_rows(row)}; expected class "
                "indices separated by spaces or commas, e.g. '3 1 7'",
            )
        rows.append(indices)
    try:
        return pa.array(rows, pa.list_(pa.int64()))
    except OverflowError as exc:
        raise _fail(path, f"column {name!r} holds a class index too large to be one") from exc


def _list_matrix(path: Path, column: pa.Array, name: str) -> np.ndarray:
    """A list column as an (N, K) array; fails naming the first empty or ragged row."""
    _check_no_nulls(path, column, name)
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    ragged = np.flatnonzero(lengths != lengths[0])
    if len(ragged):
        row = int(ragged[0])
        raise _fail(
            path,
            f"column {name!r} has lists of different lengths: {_rows(0, row)} hold "
            f"{lengths[0]} and {lengths[row]} values; every row needs the same number",
        )
    values = column.flatten()
    if values.null_count:
        parents = pc.list_parent_indices(column).to_numpy(zero_copy_only=False)
        first = int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0])
        raise _fail(
            path,
            f"column {name!r} has an empty value inside the list in {_rows(int(parents[first]))}",
        )
    return values.to_numpy(zero_copy_only=False).reshape(len(column), int(lengths[0]))


def _class_indices(path: Path, matrix: np.ndarray, name: str) -> np.ndarray:
    """``matrix`` if it holds integers: class indices read as floats or text are an error."""
    if not np.issubdtype(matrix.dtype, np.integer):
        raise _fail(path, f"column {name!r} must hold integer class indices, got {matrix.dtype}")
    return matrix


def _scores(path: Path, column: pa.ChunkedArray, name: str) -> np.ndarray:
    """The (N, C) float32 scores of a list column; fails naming the first row that is not numbers."""
    if not _is_list(column.type):
        raise _fail(
            path,
            f"column {name!r} must hold a list of numbers per row, got {column.type} (a CSV "
            "cannot hold lists: store scores in a .npy or Parquet file)",
        )
    matrix = _list_matrix(path, column.combine_chunks(), name)
    try:
        return matrix.astype(np.float32)
    except (TypeError, ValueError):
        pass
    for index, value in enumerate(matrix.ravel().tolist()):
        try:
            float(value)
        except (TypeError, ValueError):
            row = index // matrix.shape[1]
            raise _fail(
                path, f"column {name!r} holds {reprlib.repr(value)}, not a number, in {_rows(row)}"
            ) from None
    raise _fail(path, f"column {name!r} does not hold numbers ({matrix.dtype})")


def _from_table(
    path: Path, table: pa.Table, dataset: Dataset, *, k: int, allow_missing: bool
) -> Predictions:
    if table.num_rows == 0:
        raise _fail(path, "has no data rows")
    name_col = _column(table, NAME_COLUMNS)
    if name_col is None:
        raise _fail(path, f"no file-name column; name one of {', '.join(NAME_COLUMNS)}")
    # ids that are paths under the data root (folder, ImageNet-A/-R/-Sketch, ObjectNet) join as is
    relative = len(dataset) > 0 and "/" in str(dataset.sample_ids[0])
    names = [
        n if relative else Path(n).name for n in _file_names(path, table.column(name_col), name_col)
    ]
    position = {sid: i for i, sid in enumerate(dataset.sample_ids.tolist())}
    rows = np.fromiter((position.get(n, -1) for n in names), dtype=np.int64, count=len(names))
    unknown = np.flatnonzero(rows < 0)
    garbled = [int(i) for i in unknown if "\ufffd" in names[i]]
    if garbled:
        raise _fail(
            path,
            f"file name {names[garbled[0]]!r} in {_rows(garbled[0])} holds U+FFFD, the mark of "
            "text once decoded with the wrong encoding; export the names as UTF-8",
        )
    if len(unknown):
        raise _fail(
            path,
            f"{len(unknown)} file names are not in {dataset.name} (first: {names[unknown[0]]!r})",
        )
    if len(np.unique(rows)) != len(rows):
        first_row: dict[int, int] = {}
        for row, sample in enumerate(rows.tolist()):
            if sample in first_row:
                raise _fail(
                    path,
                    f"duplicate file name {names[row]!r} in {_rows(first_row[sample], row)}; "
                    "one row per image",
                )
            first_row[sample] = row
    missing = len(dataset) - len(rows)
    if missing and not allow_missing:
        raise _fail(
            path,
            f"covers {len(rows)} of {len(dataset)} samples of {dataset.name}; pass --allow-missing "
            "to evaluate the covered subset only",
        )

    top1_col = _column(table, TOP1_COLUMNS)
    topk_col = _column(table, ("topk", "top5", "top_k"))
    scores_col = _column(table, ("logits", "probs", "probabilities", "scores"))
    rank_cols = [c for c in table.column_names if re.fullmatch(r"top\d+", c.lower())]
    if scores_col is not None:
        array = _scores(path, table.column(scores_col), scores_col)
    elif topk_col is not None:
        lists = _index_lists(path, table.column(topk_col), topk_col)
        array = _class_indices(path, _list_matrix(path, lists, topk_col), topk_col)
    elif len(rank_cols) > 1 or top1_col is not None:
        columns = sorted(rank_cols, key=lambda c: int(c[3:])) if len(rank_cols) > 1 else [top1_col]
        for c in columns:
            _check_no_nulls(path, table.column(c), c)
        array = np.stack(
            [_class_indices(path, table.column(c).to_numpy(), c) for c in columns], axis=1
        )
    else:
        raise _fail(
            path,
            "no prediction column; name one of prediction, topk, top1..topK, logits or probs",
        )
    # check rows in file order (so messages name the user's rows), then put them in dataset order
    ids, labels = dataset.sample_ids[rows], dataset.labels[rows]
    predictions = _predictions_from_array(path, array, ids, labels, dataset, k=k, row_base=1)
    return predictions.take(np.argsort(rows, kind="stable"))
