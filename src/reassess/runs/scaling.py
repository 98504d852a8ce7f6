"""Reading a results table (one row per model: family, scale, accuracy) for scaling-law fits."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from reassess.runs.errors import RunError

X_COLUMNS = ("compute", "params", "samples")


def _float(text: str, where: str) -> float:
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        raise RunError(f"{where}: {text!r} is not a number") from None


def read_results(
    path: Path,
    *,
    family_column: str = "family",
    model_column: str = "model",
    x_column: str | None = None,
    accuracy_column: str = "accuracy",
    where: list[str] | None = None,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], str]:
    """Read a results CSV into {family: (x, accuracy as fraction, model names)} and the x column.

    ``where`` filters rows: ``COLUMN=VALUE`` or ``COLUMN=V1,V2`` (any of). ``model_column`` may
    name several columns (``arch,samples_seen``), joined with ``@``. Accuracies above 1 are read
    as percentages.
    """
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such results file")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        rows = list(reader)
    if x_column is None:
        x_column = next((c for c in X_COLUMNS if c in header), None)
        if x_column is None:
            raise RunError(
                f"{path}: no column named {', '.join(X_COLUMNS)}; name the scale column with --x-column"
            )
    filters = []
    for clause in where or []:
        column, sep, values = clause.partition("=")
        if not sep or not column:
            raise RunError(f"--where {clause!r}: expected COLUMN=VALUE or COLUMN=V1,V2")
        filters.append((column, set(values.split(","))))
    model_columns = model_column.split(",")
    needed = [family_column, *model_columns, x_column, accuracy_column, *(c for c, _ in filters)]
    for column in needed:
        if column not in header:
            raise RunError(f"{path}: no column {column!r} (columns: {', '.join(header)})")
    rows = [r for r in rows if all(r[c] in values for c, values in filters)]
    if not rows:
        raise RunError(f"{path}: no rows left after the --where filters")
    grouped: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for i, r in enumerate(rows, start=2):
        where_text = f"{path}: row {i}"
        grouped[r[family_column]].append(
            (
                _float(r[x_column], f"{where_text}, {x_column}"),
                _float(r[accuracy_column], f"{where_text}, {accuracy_column}"),
                "@".join(r[c] for c in model_columns),
            )
        )
    all_acc = np.array([a for items in grouped.values() for _, a, _ in items])
    percent = bool((all_acc > 1).any())
    if (all_acc < 0).any() or (all_acc > (100 if percent else 1)).any():
        raise RunError(
            f"{path}: {accuracy_column} must be a fraction (0-1) or a percentage (0-100)"
        )
    families = {}
    for name, items in grouped.items():
        x = np.array([i[0] for i in items])
        if (x <= 0).any():
            raise RunError(f"{path}: family {name!r} has a non-positive {x_column}")
        acc = np.array([i[1] for i in items]) / (100.0 if percent else 1.0)
        families[name] = (x, acc, np.array([i[2] for i in items], dtype=object))
    return families, x_column
