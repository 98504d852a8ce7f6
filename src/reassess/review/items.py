"""What there is to review: the top-1 mistakes of one or more runs, with all a reviewer needs.

For each run the mistakes are the rows of ``RUNDIR/mistakes.parquet`` (written by
``reassess analyze``, with its automatic category, severity and evidence) when that file exists,
and otherwise the same classification computed in memory (:func:`reassess.runs.classify_run`).
A sample that several runs get wrong is one item listing each model's prediction. Each item
carries the original label, each model's top-k with probabilities, the label sets the run's
dataset has (ReaL for ImageNet val, ...), and the expert multi-labels when ``--multilabel-file``
is given.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reassess.labels.imagenet import imagenet_classes
from reassess.review.store import SEVERITIES
from reassess.runs import classify_run, run_label_sets
from reassess.store.predictions import Predictions
from reassess.store.run import RunDir

# Label sets whose classes pre-fill "valid labels", most trusted first.
SUGGESTION_ORDER = ("real", "multilabel", "valid_labels", "corrected")
# Sets derived from the single label; shown only where they differ from it (a known label error).
_DERIVED_SETS = ("corrected", "cleaned")
# Columns of mistakes.parquet shown in their own place; every other column is listed as a detail.
_KNOWN_COLUMNS = {
    "sample_id",
    "label",
    "prediction",
    "category",
    "severity",
    "severity_if_mistake",
    "evidence",
}


@dataclass(frozen=True)
class ModelMistake:
    """One model's wrong top-1 on an item, with what the automatic analysis said about it."""

    model: str
    run: str
    topk: tuple[int, ...]
    probs: tuple[float, ...] | None
    category: str | None = None
    severity: str | None = None
    evidence: Any = None
    #: The automatic severity should the reviewer call it a mistake (also for forgiven ones).
    suggested_severity: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def prediction(self) -> int:
        """The wrong top-1 class."""
        return self.topk[0]


@dataclass(frozen=True)
class ReviewItem:
    """One image to review: a sample at least one model gets wrong."""

    index: int
    sample_id: str
    label: int
    mistakes: tuple[ModelMistake, ...]
    label_sets: dict[str, list[int] | None] = field(default_factory=dict)
    expert: dict[str, list[int]] | None = None
    expert_problematic: bool = False
    imagenet_m: bool = False

    @property
    def predictions(self) -> list[int]:
        """Distinct wrong top-1 classes, in model order."""
        return list(dict.fromkeys(m.prediction for m in self.mistakes))

    @property
    def models(self) -> list[str]:
        """The models that get this image wrong."""
        return [m.model for m in self.mistakes]

    @property
    def categories(self) -> set[str]:
        """Automatic categories of the item's mistakes (``none`` where there is no analysis)."""
        return {m.category or "none" for m in self.mistakes}

    @property
    def classes(self) -> set[int]:
        """The label and every wrong prediction (what the class filter matches)."""
        return {self.label, *self.predictions}

    def candidates(self) -> list[int]:
        """Classes put in front of the reviewer, deduplicated: label, top-k, label sets, expert."""
        out = [self.label]
        for mistake in self.mistakes:
            out.extend(mistake.topk)
        for classes in self.label_sets.values():
            out.extend(classes or [])
        for state in ("correct", "unclear", "wrong"):
            out.extend((self.expert or {}).get(state, []))
        return list(dict.fromkeys(int(c) for c in out))

    def suggested_valid(self) -> list[int]:
        """Valid classes before review: expert correct, else a multi-label set, else the label.

        Multi-label sets are tried in :data:`SUGGESTION_ORDER` (ReaL first); the crowd-corrected
        label stands in for the original one where the original is a known error.
        """
        if self.expert and self.expert.get("correct"):
            return list(self.expert["correct"])
        for name in SUGGESTION_ORDER:
            if self.label_sets.get(name):
                return list(self.label_sets[name] or [])
        return [self.label]


@dataclass
class ReviewSet:
    """All items of a review session, and what they came from."""

    items: list[ReviewItem]
    runs: list[dict[str, Any]]
    dataset: str
    expert_file: dict[str, Any] | None = None
    _by_sample: dict[str, ReviewItem] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_sample = {item.sample_id: item for item in self.items}

    @property
    def models(self) -> list[str]:
        """Model names of the runs, in the order given."""
        return [r["model"] for r in self.runs]

    def item_of(self, sample_id: str) -> ReviewItem | None:
        """The item of a sample id, or None if no model gets it wrong."""
        return self._by_sample.get(sample_id)

    def __len__(self) -> int:
        return len(self.items)


def _plain(value: Any) -> Any:
    """A parquet cell as JSON-able Python (NaN -> None, numpy scalars -> numbers)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _evidence(value: Any) -> Any:
    """Evidence as stored (a JSON string is decoded so it can be shown as key: value lines)."""
    value = _plain(value)
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _run_mistakes(run: RunDir, model: str, predictions: Predictions) -> dict[str, ModelMistake]:
    """The mistakes of one run keyed by sample id, from mistakes.parquet or the predictions."""
    row_of = {sid: i for i, sid in enumerate(predictions.sample_ids.tolist())}

    def mistake(row: int, **analysis: Any) -> ModelMistake:
        probs = predictions.probs
        return ModelMistake(
            model=model,
            run=str(run.path),
            topk=tuple(int(c) for c in predictions.topk[row]),
            probs=None if probs is None else tuple(round(float(p), 6) for p in probs[row]),
            **analysis,
        )

    if run.mistakes_file.is_file():
        records = run.read_mistakes().to_pylist()
    elif not (predictions.labels >= 0).any():
        return {}  # no single label, no top-1 mistake
    else:  # not analysed yet: the same classification, in memory
        records = classify_run(run, predictions=predictions)[0].to_table().to_pylist()
    out: dict[str, ModelMistake] = {}
    for record in records:
        sid = str(record["sample_id"])
        row = row_of.get(sid)
        if row is None:
            raise ValueError(
                f"{run.mistakes_file}: sample {sid!r} is not in {run.predictions_file.name}; "
                "rerun reassess analyze"
            )
        if int(predictions.labels[row]) < 0:
            continue
        out[sid] = mistake(
            row,
            category=_plain(record.get("category")),
            severity=_plain(record.get("severity")),
            evidence=_evidence(record.get("evidence")),
            suggested_severity=_suggested_severity(record),
            details={k: _plain(v) for k, v in record.items() if k not in _KNOWN_COLUMNS},
        )
    return out


def _suggested_severity(record: dict[str, Any]) -> str | None:
    for key in ("severity_if_mistake", "severity"):
        value = _plain(record.get(key))
        if value in SEVERITIES:
            return value
    return None


def _model_names(infos: list[dict[str, Any]], paths: list[Path]) -> list[str]:
    """Each run's model spec, made unique with the run folder name where two runs share one."""
    specs = [
        str(info.get("model", {}).get("spec", path.name))
        for info, path in zip(infos, paths, strict=True)
    ]
    return [
        f"{spec} ({path.name})" if specs.count(spec) > 1 else spec
        for spec, path in zip(specs, paths, strict=True)
    ]


def load_review_set(
    run_dirs: list[Path], *, multilabel_file: Path | None = None, verify: bool = True
) -> ReviewSet:
    """Collect the mistakes of ``run_dirs`` (runs on the same dataset) into review items.

    Parameters
    ----------
    run_dirs : run folders made by ``reassess eval`` or ``import``.
    multilabel_file : an expert multi-label file (human_accuracy_v3.0.0.json schema) whose labels
        are shown next to each image; ``verify`` as in :func:`load_expert_multilabels`.
    """
    if not run_dirs:
        raise ValueError("no run folder given")
    runs = [RunDir(p) for p in run_dirs]
    infos = [run.read_run() for run in runs]
    datasets = {info.get("data", {}).get("name") for info in infos}
    if len(datasets) > 1:
        raise ValueError(
            f"runs are on different datasets ({', '.join(sorted(map(str, datasets)))}); "
            "review one dataset at a time"
        )
    names = _model_names(infos, [run.path for run in runs])
    labels: dict[str, int] = {}
    per_item: dict[str, list[ModelMistake]] = {}
    sets_of: dict[str, dict[str, list[int] | None]] = {}
    for run, info, name in zip(runs, infos, names, strict=True):
        predictions = run.read_predictions()
        mistakes = _run_mistakes(run, name, predictions)
        label_sets = run_label_sets(info, predictions)
        row_of = {sid: i for i, sid in enumerate(predictions.sample_ids.tolist())}
        for sid, mistake in mistakes.items():
            row = row_of[sid]
            label = int(predictions.labels[row])
            if labels.setdefault(sid, label) != label:
                raise ValueError(
                    f"{run.predictions_file}: sample {sid} has label {label}, another run "
                    f"{labels[sid]}; the runs disagree on the dataset's labels"
                )
            per_item.setdefault(sid, []).append(mistake)
            if sid not in sets_of:
                shown = {
                    set_name: (sets.labels_of(row) if sets.annotated[row] else None)
                    for set_name, sets in label_sets.items()
                }
                sets_of[sid] = {
                    k: v for k, v in shown.items() if k not in _DERIVED_SETS or v != [label]
                }
    sample_ids = list(per_item)
    expert_info = None
    expert_sets: dict[str, dict[str, list[int]]] = {}
    problematic: frozenset[str] = frozenset()
    imagenet_m: set[str] = set()
    if multilabel_file is not None:
        from reassess.labels.expert import load_expert_multilabels

        expert = load_expert_multilabels(multilabel_file, verify=verify)
        expert_info = expert.describe()
        aligned = {
            state: getattr(expert, state).align(sample_ids)
            for state in ("correct", "unclear", "wrong")
        }
        for i, sid in enumerate(sample_ids):
            if aligned["correct"].annotated[i]:
                expert_sets[sid] = {s: a.labels_of(i) for s, a in aligned.items()}
        problematic, imagenet_m = expert.problematic, set(expert.imagenet_m)
    items = [
        ReviewItem(
            index=i,
            sample_id=sid,
            label=labels[sid],
            mistakes=tuple(per_item[sid]),
            label_sets=sets_of[sid],
            expert=expert_sets.get(sid),
            expert_problematic=sid in problematic,
            imagenet_m=sid in imagenet_m,
        )
        for i, sid in enumerate(sample_ids)
    ]
    run_rows = [
        {
            "model": name,
            "run": str(run.path),
            "data": info.get("data", {}).get("spec"),
            "mistakes_file": run.mistakes_file.is_file(),
        }
        for run, info, name in zip(runs, infos, names, strict=True)
    ]
    return ReviewSet(
        items=items,
        runs=run_rows,
        dataset=str(next(iter(datasets))),
        expert_file=expert_info,
    )


def class_ref(index: int) -> dict[str, Any]:
    """A class as the page shows it: index, WordNet id and name."""
    classes = imagenet_classes()
    return {"index": int(index), "wnid": classes.wnids[index], "name": classes.name(index)}
