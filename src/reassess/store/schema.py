"""The run folder's documented schema: file names, the fields of each file, and their version.

A run folder is readable without reassess (lm-evaluation-harness style: one documented layout,
with the versions and options that produced it):

``run.json`` (:class:`RunInfo`)
    what produced the run: model, data, options, preprocessing, software versions, timings.
``predictions.parquet``
    ranked top-k (and optionally probabilities/logits) per image, see :mod:`reassess.store.predictions`.
``metrics.json`` (:class:`MetricsDoc`)
    every metric as ``{"value", "n", "ci95"}`` plus how it was scored.
``per_class.csv`` (:data:`PER_CLASS_COLUMNS`)
    support and single-label top-1 of each class the run has images of.
``analysis.json`` (:class:`AnalysisDoc`) and ``mistakes.parquet`` (:data:`MISTAKES_COLUMNS`)
    written by ``reassess analyze``: the summary, and one row per top-1 mistake.

Each JSON file carries ``schema_version`` (:data:`SCHEMA_VERSION`) and ``mistakes.parquet`` carries
it in its schema metadata. Files without one were written by reassess 0.1 in the same layout
(version 0) and are read as they are, as are 0.1's analysis.json files, whose ``schema_version``
1 or 2 numbered the summary alone (hence the folder-wide numbering starts at 3). A file from a
newer reassess is refused with one line.
This module only validates and names; :class:`reassess.store.run.RunDir` does the reading and
writing, so each file has one writer and one reader.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any, Literal, TypedDict

SCHEMA_VERSION = 3
SCHEMA_VERSION_KEY = "schema_version"
PARQUET_VERSION_KEY = b"reassess.schema_version"

RUN_FILE = "run.json"
PREDICTIONS_FILE = "predictions.parquet"
METRICS_FILE = "metrics.json"
PER_CLASS_FILE = "per_class.csv"
ANALYSIS_FILE = "analysis.json"
MISTAKES_FILE = "mistakes.parquet"
OOV_FILE = "oov_clip.parquet"
PARTS_DIR = "parts"

RunStatus = Literal["running", "importing", "complete"]
RUN_STATUSES: tuple[str, ...] = ("running", "importing", "complete")


class RunFolderError(ValueError):
    """A run-folder file that is missing, unreadable or not of the schema (the message names it)."""


class ModelInfo(TypedDict, total=False):
    spec: str  # the model spec given to eval, or the --model-name of an import
    family: str
    num_classes: int


class DataInfo(TypedDict, total=False):
    spec: str  # the data spec, e.g. "imagenet-val:/data/val"
    name: str
    root: str
    num_samples: int
    fingerprint: str  # digest of the image files' names and sizes


class RunInfo(TypedDict, total=False):
    """``run.json``. ``model`` and ``data`` are always there; the rest as the run got that far."""

    schema_version: int
    created: str
    finished: str
    status: RunStatus
    model: ModelInfo
    data: DataInfo
    options: dict[str, Any]  # inference options (batch size, top-k, precision, ...)
    model_options: dict[str, str]  # zero-shot prompt options
    preprocessing: dict[str, Any]  # the resolved timm data config the images went through
    preprocessing_overrides: dict[str, Any]  # --img-size/--crop-pct/... given by the user
    environment: dict[str, Any]  # software versions (and, for eval, the hardware)
    timings: dict[str, Any]
    images_per_second: float | None
    num_predictions: int
    skipped: list[dict[str, str]]
    preprocessing_cache: dict[str, Any] | None
    source: dict[str, str]  # imports: the predictions file and its sha256


class MetricEntry(TypedDict, total=False):
    value: float
    n: int
    ci95: list[float]


class MetricsDoc(TypedDict, total=False):
    """``metrics.json``: metric keys -> :class:`MetricEntry`, and how the run was scored."""

    schema_version: int
    options: dict[str, Any]
    label_files: dict[str, Any]
    notes: dict[str, str]
    skipped: dict[str, str]
    calibration: dict[str, Any]


class AnalysisDoc(TypedDict, total=False):
    """``analysis.json``: :func:`reassess.analysis.summary.summarize_mistakes` plus provenance."""

    schema_version: int
    run: dict[str, Any]
    num_labelled: int
    num_mistakes: int
    categories: list[dict[str, Any]]
    severity: dict[str, Any]
    sources: dict[str, Any]
    files: dict[str, str]


ANALYSIS_REQUIRED = ("run", "num_labelled", "num_mistakes", "categories", "severity")

#: Columns every ``mistakes.parquet`` has, with the kind of Arrow type each holds; the analysis
#: adds more (evidence details, WordNet groups, ImageNet-X factors), see
#: :func:`reassess.analysis.mistakes.classify_mistakes`. Class columns hold ImageNet indices.
MISTAKES_COLUMNS: dict[str, str] = {
    "sample_id": "string",
    "label": "integer",
    "label_name": "string",
    "prediction": "integer",
    "prediction_name": "string",
    "category": "string",
    "severity": "string",
    "evidence": "string",
    "valid_labels": "list of integers",
    "confidence": "floating point",
}

PER_CLASS_COLUMNS = ("class", "wnid", "name", "support", "top1")


def stamped(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with this reassess's :data:`SCHEMA_VERSION` first, as every JSON writer stores it."""
    body = {k: v for k, v in doc.items() if k != SCHEMA_VERSION_KEY}
    return {SCHEMA_VERSION_KEY: SCHEMA_VERSION, **body}


def check_version(version: Any, path: Path) -> int:
    """The schema version of a file (0 when it has none); refuses a newer or malformed one."""
    if version is None:
        return 0
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise RunFolderError(f"{path}: schema_version must be a whole number, got {version!r}")
    if version > SCHEMA_VERSION:
        raise RunFolderError(
            f"{path}: written by a newer reassess (run-folder schema {version}, this one reads up "
            f"to {SCHEMA_VERSION}); upgrade reassess"
        )
    return version


def parse_document(doc: Any, path: Path, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON document of the run folder, checked: an object, a known version, ``required`` keys.

    Returns its body without ``schema_version``.
    """
    if not isinstance(doc, dict):
        raise RunFolderError(f"{path}: expected a JSON object, got {type(doc).__name__}")
    check_version(doc.get(SCHEMA_VERSION_KEY), path)
    missing = [key for key in required if key not in doc]
    if missing:
        raise RunFolderError(f"{path}: missing {', '.join(missing)} (not a reassess {path.name})")
    return {k: v for k, v in doc.items() if k != SCHEMA_VERSION_KEY}


def parse_run_info(doc: Any, path: Path) -> RunInfo:
    """``run.json`` checked: ``model.spec`` and ``data.spec`` are text, ``status`` is known."""
    info = parse_document(doc, path)
    for part in ("model", "data"):
        entry = info.get(part)
        if not isinstance(entry, dict) or not isinstance(entry.get("spec"), str):
            raise RunFolderError(f"{path}: no {part} spec recorded (expected {part}.spec)")
    status = info.get("status")
    if status is not None and status not in RUN_STATUSES:
        raise RunFolderError(
            f"{path}: unknown status {status!r} (expected one of {', '.join(RUN_STATUSES)})"
        )
    return info  # type: ignore[return-value]


def check_mistakes_table(table: Any, path: Path) -> None:
    """Refuse a mistakes table that lacks a column of :data:`MISTAKES_COLUMNS` or has another type."""
    missing = [name for name in MISTAKES_COLUMNS if name not in table.column_names]
    if missing:
        raise RunFolderError(
            f"{path}: missing column(s) {', '.join(missing)} (expected reassess analyze's output)"
        )
    wrong = [
        f"{name} is {table.schema.field(name).type} (expected {kind})"
        for name, kind in MISTAKES_COLUMNS.items()
        if not _is_kind(table.schema.field(name).type, kind)
    ]
    if wrong:
        raise RunFolderError(f"{path}: {'; '.join(wrong)}")


def _is_kind(arrow_type: Any, kind: str) -> bool:
    import pyarrow as pa

    if pa.types.is_null(arrow_type):  # a column with no value at all
        return True
    if kind == "list of integers":
        return pa.types.is_list(arrow_type) and _is_kind(arrow_type.value_type, "integer")
    check = {
        "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
        "integer": pa.types.is_integer,
        "floating point": pa.types.is_floating,
    }[kind]
    return check(arrow_type)


def software_versions() -> dict[str, str]:
    """The versions of Python, reassess and its core libraries, recorded by every run writer."""
    import numpy as np
    import pyarrow as pa

    import reassess

    return {
        "reassess": reassess.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "pyarrow": pa.__version__,
    }
