"""Reading a results table (one row per model and task: family, scale, accuracy) for scaling fits.

A long-format table (one row per model, downstream task and metric, as LAION publishes theirs)
holds several tasks; their accuracies are different quantities and must never share a curve. The
reader splits the rows by the task columns it finds (``task``, ``benchmark``,
``downstream_dataset``, ``eval_dataset``, ``metric``) and refuses a table that still holds more
than one task after the filters unless the caller asks for one comparison per task.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reassess.runs.errors import RunError
from reassess.suggest import short_list

X_COLUMNS = ("compute", "params", "samples")
TASK_COLUMNS = ("task", "benchmark", "downstream_dataset", "eval_dataset", "metric")
# columns that, left out of --family-column, pool several training curves into one family
CURVE_COLUMNS = (
    "dataset",
    "pretrain_dataset",
    "pretraining_dataset",
    "train_dataset",
    "data",
    "schedule",
    "lr_scheduler",
    "scheduler",
)
JOIN = "/"  # joins the values of several family or task columns into one name

Families = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class ResultsTable:
    """A results CSV read for scaling fits: families per task, the scale column, notes."""

    tasks: dict[str | None, Families]  # task name (None: the table names no task) -> families
    x_column: str
    task_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _float(text: str, where: str) -> float:
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        raise RunError(f"{where}: {text!r} is not a number") from None


def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def read_results_table(
    path: Path,
    *,
    family_column: str = "family",
    model_column: str = "model",
    x_column: str | None = None,
    accuracy_column: str = "accuracy",
    where: list[str] | None = None,
    task_column: str | None = None,
    task: str | None = None,
    metric: str | None = None,
    per_task: bool = False,
) -> ResultsTable:
    """Read a results CSV into families per task, refusing to pool tasks unless ``per_task``.

    ``family_column`` and ``model_column`` may name several columns (``model_type,dataset``):
    their joint value names a family (joined with ``/``) or a model (joined with ``@``).
    ``where`` filters rows: ``COLUMN=VALUE`` or ``COLUMN=V1,V2`` (any of); ``task`` filters the
    task column (the first of ``task``, ``benchmark``, ``downstream_dataset``, ``eval_dataset``)
    and ``metric`` the ``metric`` column. ``task_column`` names the task columns (default: those
    of :data:`TASK_COLUMNS` present; ``""``: none). More than one task left after the filters
    raises RunError listing them, unless ``per_task``: then each task is its own comparison.
    Accuracies above 1 are read as percentages (decided per task).
    """
    path = Path(path)
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
    family_columns, model_columns = _columns(family_column), _columns(model_column)
    if task_column is None:
        task_columns = [c for c in TASK_COLUMNS if c in header and c not in family_columns]
    else:
        task_columns = _columns(task_column)
    filters = []
    for clause in where or []:
        column, sep, values = clause.partition("=")
        if not sep or not column:
            raise RunError(f"--where {clause!r}: expected COLUMN=VALUE or COLUMN=V1,V2")
        filters.append((column, set(values.split(","))))
    if task is not None:
        named = [c for c in task_columns if c != "metric"]
        if not named:
            raise RunError(
                f"{path}: --task needs a task column ({', '.join(TASK_COLUMNS[:-1])}) "
                f"or --task-column (columns: {', '.join(header)})"
            )
        filters.append((named[0], set(task.split(","))))
    if metric is not None:
        if "metric" not in header:
            raise RunError(
                f"{path}: --metric needs a column 'metric' (columns: {', '.join(header)})"
            )
        filters.append(("metric", set(metric.split(","))))
    needed = [*family_columns, *model_columns, x_column, accuracy_column, *task_columns]
    for column in [*needed, *(c for c, _ in filters)]:
        if column not in header:
            raise RunError(f"{path}: no column {column!r} (columns: {', '.join(header)})")
    numbered = [
        (line, r)
        for line, r in enumerate(rows, start=2)
        if all(r[c] in values for c, values in filters)
    ]
    if not numbered:
        raise RunError(f"{path}: no rows left after the --where/--task/--metric filters")
    by_task: dict[str | None, list[tuple[int, dict]]] = defaultdict(list)
    for line, r in numbered:
        key = JOIN.join(r[c] for c in task_columns) if task_columns else None
        by_task[key].append((line, r))
    if len(by_task) > 1 and not per_task:
        found = "; ".join(
            f"{c}: {short_list(sorted({r[c] for _, r in numbered}))}"
            for c in task_columns
            if len({r[c] for _, r in numbered}) > 1
        )
        raise RunError(
            f"{path}: the rows hold {len(by_task)} tasks, which must not share one curve ({found}); "
            "pick one with --task/--metric or --where COLUMN=VALUE, or fit each with --per-task"
        )
    notes = []
    tasks: dict[str | None, Families] = {}
    for key in sorted(by_task, key=lambda k: "" if k is None else k):
        tasks[key] = _families(
            path, by_task[key], family_columns, model_columns, x_column, accuracy_column, key
        )
        notes += _pooled_curve_notes(by_task[key], family_columns, header, key)
    return ResultsTable(tasks=tasks, x_column=x_column, task_columns=task_columns, notes=notes)


def _families(
    path, rows, family_columns, model_columns, x_column, accuracy_column, task
) -> Families:
    """{family: (x, accuracy as fraction, model names)} of one task's rows, families sorted."""
    grouped: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for line, r in rows:
        where_text = f"{path}: row {line}"
        grouped[JOIN.join(r[c] for c in family_columns)].append(
            (
                _float(r[x_column], f"{where_text}, {x_column}"),
                _float(r[accuracy_column], f"{where_text}, {accuracy_column}"),
                "@".join(r[c] for c in model_columns),
            )
        )
    all_acc = np.array([a for items in grouped.values() for _, a, _ in items])
    percent = bool((all_acc > 1).any())
    if (all_acc < 0).any() or (all_acc > (100 if percent else 1)).any():
        scope = f" (task {task})" if task else ""
        raise RunError(
            f"{path}: {accuracy_column}{scope} must be a fraction (0-1) or a percentage (0-100)"
        )
    families = {}
    for name in sorted(grouped):
        items = grouped[name]
        x = np.array([i[0] for i in items])
        if (x <= 0).any():
            raise RunError(f"{path}: family {name!r} has a non-positive {x_column}")
        acc = np.array([i[1] for i in items]) / (100.0 if percent else 1.0)
        families[name] = (x, acc, np.array([i[2] for i in items], dtype=object))
    return families


def _pooled_curve_notes(rows, family_columns, header, task) -> list[str]:
    """A note per curve-defining column (dataset, schedule) whose values a family pools."""
    notes = []
    for column in (c for c in CURVE_COLUMNS if c in header and c not in family_columns):
        per_family: dict[str, set[str]] = defaultdict(set)
        for _, r in rows:
            per_family[JOIN.join(r[c] for c in family_columns)].add(r[column])
        pooled = sorted(name for name, values in per_family.items() if len(values) > 1)
        if pooled:
            values = {v for name in pooled for v in per_family[name]}
            notes.append(
                f"{'task ' + task + ': ' if task else ''}families {', '.join(pooled)} pool "
                f"{len(values)} values of {column} ({short_list(sorted(values))}) into one front; "
                f"add it to --family-column (e.g. {','.join(family_columns)},{column}) for one "
                "curve each"
            )
    return notes
