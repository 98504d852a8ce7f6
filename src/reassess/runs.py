"""Operations on run folders: the label sets of a run, computing and storing its metrics, the
expert label file it was scored with, and comparing two runs on the same images.

In the data flow (labels/datasets -> models/inference -> store -> metrics -> report/review -> cli)
this module sits right after metrics: it reads run folders and calls the metric functions. The
report, the review app and the CLI use it; it imports none of them and prints nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from reassess.datasets.base import Dataset, dataset_families
from reassess.datasets.shifts import scoring_class_map
from reassess.labels.imagenet import imagenet_classes
from reassess.labels.label_sets import LabelSets
from reassess.metrics.suite import (
    MetricOptions,
    compute_metrics,
    metric_outcomes,
    per_class_table,
)
from reassess.store.atomic import atomic_write_text
from reassess.store.predictions import Predictions
from reassess.store.run import RunDir


class IncomparableRunsError(ValueError):
    """Two runs that cannot be compared: different data, different images or different labels."""


# --- one run ------------------------------------------------------------------------------------


def dataset_index(data_spec: str) -> Dataset | None:
    """The dataset a stored run was made on, without scanning its images (None if not indexable)."""
    name = data_spec.partition(":")[0]
    family = dataset_families().get(name)
    if family is None or family.needs_path:
        return None
    if name == "samples":
        return family.build(None, data_spec)
    return family.build(None, name)


def run_label_sets(run_info: dict[str, Any], predictions: Predictions) -> dict[str, LabelSets]:
    """Label sets that apply to a run, aligned to its stored predictions.

    The dataset's own sets (ReaL, ImageNetV2 multi-labels) and, for ImageNet val runs, the
    original labels with cleanlab's crowd-validated label errors corrected or excluded.
    """
    dataset = dataset_index(run_info["data"]["spec"])
    if dataset is None:
        return {}
    ids = predictions.sample_ids.tolist()
    sets = {name: load().align(ids) for name, load in dataset.label_set_loaders.items()}
    if dataset.name == "imagenet-val":
        from reassess.labels.label_errors import cleaned_label_sets, corrected_label_sets

        sets["corrected"] = corrected_label_sets(predictions.sample_ids, predictions.labels)
        sets["cleaned"] = cleaned_label_sets(predictions.sample_ids, predictions.labels)
    return sets


def finish_run(
    run: RunDir,
    predictions: Predictions | None = None,
    *,
    options: MetricOptions | None = None,
) -> dict[str, Any]:
    """Compute and store ``metrics.json`` and ``per_class.csv`` from the stored predictions."""
    predictions = predictions if predictions is not None else run.read_predictions()
    info = run.read_run()
    class_map = scoring_class_map(info["data"]["spec"])  # ImageNet-A/-R, ObjectNet: class subsets
    if class_map is not None:
        options = dataclasses.replace(options or MetricOptions(), class_map=class_map)
    metrics = compute_metrics(predictions, run_label_sets(info, predictions), options)
    run.write_metrics(metrics)
    write_per_class(run, predictions)
    return metrics


def write_per_class(run: RunDir, predictions: Predictions) -> None:
    """Write the run's ``per_class.csv``: support and top-1 of every class it has images of."""
    classes = imagenet_classes()
    table = per_class_table(predictions, list(classes.names))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["class", "wnid", "name", "support", "top1"])
    for c in range(len(classes)):
        if table["support"][c]:
            writer.writerow(
                [
                    c,
                    classes.wnids[c],
                    table["name"][c],
                    int(table["support"][c]),
                    f"{table['top1'][c]:.6f}",
                ]
            )
    atomic_write_text(run.per_class_file, buffer.getvalue())


def recorded_expert_file(run: RunDir) -> tuple[Path | None, bool]:
    """The expert label file an earlier ``metrics`` call recorded for this run, and if verified."""
    if not run.metrics_file.exists():
        return None, True
    try:
        info = run.read_metrics().get("label_files", {}).get("expert")
    except (json.JSONDecodeError, OSError):
        return None, True
    if not info or not Path(info["file"]).is_file():
        return None, True
    return Path(info["file"]), bool(info.get("verified", True))


# --- two runs -----------------------------------------------------------------------------------


def shared_expert_file(run_a: RunDir, run_b: RunDir) -> tuple[Path | None, bool]:
    """The expert label file to score both runs with: the one A, else B, was scored with.

    Raises IncomparableRunsError when the two were scored with different files (sha256 differs).
    """
    recorded = []
    for run in (run_a, run_b):
        info = {}
        if run.metrics_file.exists():
            info = run.read_metrics().get("label_files", {}).get("expert") or {}
        recorded.append(info.get("sha256"))
    if recorded[0] and recorded[1] and recorded[0] != recorded[1]:
        raise IncomparableRunsError(
            f"{run_a.path} and {run_b.path} were scored with different expert label files "
            "(sha256 differs); pass --multilabel-file to score both with the same one"
        )
    path, was_verified = recorded_expert_file(run_a)
    if path is None:
        path, was_verified = recorded_expert_file(run_b)
    return path, was_verified


def _data_name(info: dict[str, Any]) -> str:
    data = info.get("data", {})
    return data.get("name") or str(data.get("spec", "?")).partition(":")[0]


def aligned_pair(
    run_a: RunDir, run_b: RunDir
) -> tuple[dict[str, Any], dict[str, Any], Predictions, Predictions]:
    """Both runs' info and predictions, B reordered to A's samples; refuses different data/labels."""
    info_a, info_b = run_a.read_run(), run_b.read_run()
    name_a, name_b = _data_name(info_a), _data_name(info_b)
    if name_a != name_b:
        raise IncomparableRunsError(
            f"{run_a.path} is on {name_a} but {run_b.path} is on {name_b}; compare needs two runs "
            "on the same data"
        )
    pred_a, pred_b = run_a.read_predictions(), run_b.read_predictions()
    ids_a, ids_b = pred_a.sample_ids.tolist(), pred_b.sample_ids.tolist()
    if len(set(ids_a)) != len(ids_a) or len(set(ids_b)) != len(ids_b):
        raise IncomparableRunsError("a run holds the same sample twice; re-import it")
    if set(ids_a) != set(ids_b):
        only_a = len(set(ids_a) - set(ids_b))
        only_b = len(set(ids_b) - set(ids_a))
        raise IncomparableRunsError(
            f"{run_a.path} ({len(ids_a):,} images) and {run_b.path} ({len(ids_b):,} images) are on "
            f"different images of {name_a}: {only_a:,} only in A, {only_b:,} only in B"
        )
    position = {sid: i for i, sid in enumerate(ids_b)}
    pred_b = pred_b.take(np.array([position[s] for s in ids_a], dtype=np.int64))
    differ = np.flatnonzero(pred_a.labels != pred_b.labels)
    if differ.size:
        first = int(differ[0])
        raise IncomparableRunsError(
            f"{run_a.path} and {run_b.path} label {differ.size:,} images differently (e.g. "
            f"{ids_a[first]}: {int(pred_a.labels[first])} vs {int(pred_b.labels[first])}); "
            "compare needs the same labels"
        )
    return info_a, info_b, pred_a, pred_b


def compare_runs(
    run_a: RunDir,
    run_b: RunDir,
    *,
    options: MetricOptions | None = None,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Every metric of both runs, A - B, its paired bootstrap 95% CI and McNemar's exact test."""
    from reassess.metrics.compare import paired_differences

    options = options or MetricOptions()
    info_a, info_b, pred_a, pred_b = aligned_pair(run_a, run_b)
    class_map = scoring_class_map(info_a["data"]["spec"])  # ImageNet-A/-R: class subsets
    if class_map is not None:
        options = dataclasses.replace(options, class_map=class_map)
    sets = run_label_sets(info_a, pred_a)
    outcomes_a, skipped = metric_outcomes(pred_a, sets, options)
    outcomes_b, skipped_b = metric_outcomes(pred_b, sets, options)
    for key, reason in skipped_b.items():
        skipped.setdefault(key, f"run B: {reason}")
    for key in sorted(set(outcomes_a) ^ set(outcomes_b)):
        skipped.setdefault(key, "computed for only one of the runs (e.g. fewer stored top-k)")
    differences = paired_differences(
        outcomes_a, outcomes_b, len(pred_a), resamples=resamples, seed=seed
    )
    return {
        "a": {"run": str(run_a.path), "model": info_a["model"]["spec"]},
        "b": {"run": str(run_b.path), "model": info_b["model"]["spec"]},
        "data": _data_name(info_a),
        "num_samples": len(pred_a),
        "bootstrap": {"resamples": resamples, "seed": seed},
        "options": options.describe(),
        "label_files": {"expert": options.expert.describe()} if options.expert else {},
        "metrics": {key: d.to_dict() for key, d in differences.items()},
        "skipped": skipped,
    }
