"""The label sets and expert label file a stored run is scored with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reassess.datasets.base import Dataset, dataset_families
from reassess.labels.label_sets import LabelSets
from reassess.runs.errors import IncomparableRunsError
from reassess.store.predictions import Predictions
from reassess.store.run import RunDir
from reassess.store.schema import RunFolderError


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


def recorded_expert_file(run: RunDir) -> tuple[Path | None, bool]:
    """The expert label file an earlier ``metrics`` call recorded for this run, and if verified."""
    if not run.has_metrics():
        return None, True
    try:
        info = run.read_metrics().get("label_files", {}).get("expert")
    except (RunFolderError, OSError):
        return None, True
    if not info or not Path(info["file"]).is_file():
        return None, True
    return Path(info["file"]), bool(info.get("verified", True))


def shared_expert_file(run_a: RunDir, run_b: RunDir) -> tuple[Path | None, bool]:
    """The expert label file to score both runs with: the one A, else B, was scored with.

    Raises IncomparableRunsError when the two were scored with different files (sha256 differs).
    """
    recorded = []
    for run in (run_a, run_b):
        info = {}
        if run.has_metrics():
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
