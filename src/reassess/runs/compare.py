"""Comparing two runs on the same images: paired differences of every metric."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from reassess.datasets.base import scoring_class_map
from reassess.metrics.suite import MetricOptions, metric_outcomes
from reassess.runs.errors import IncomparableRunsError
from reassess.runs.labels import run_label_sets
from reassess.store.predictions import Predictions
from reassess.store.run import RunDir


def _data_name(info: dict[str, Any]) -> str:
    data = info.get("data", {})
    return data.get("name") or str(data.get("spec", "?")).partition(":")[0]


def _refuse_other_images(run_a: RunDir, run_b: RunDir, info_a: dict, info_b: dict) -> None:
    """Two runs whose image files differ although their names match (e.g. two ``folder:`` runs)."""
    data_a, data_b = info_a.get("data", {}), info_b.get("data", {})
    root_a, root_b = data_a.get("root"), data_b.get("root")
    print_a, print_b = data_a.get("fingerprint"), data_b.get("fingerprint")
    where = f"{run_a.path} (images in {root_a}) and {run_b.path} (images in {root_b})"
    if print_a and print_b and print_a != print_b:
        raise IncomparableRunsError(
            f"{where} are on different image files under the same names (their sizes differ); "
            "compare needs two runs on the same images"
        )
    unknown = not (print_a and print_b) and root_a and root_b and root_a != root_b
    if unknown and _data_name(info_a) == "folder":  # names of one's own images prove nothing
        raise IncomparableRunsError(
            f"{where}: cannot tell whether the two folders hold the same images (a run made "
            "before reassess recorded image fingerprints); run eval again into a new --out"
        )


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
    _refuse_other_images(run_a, run_b, info_a, info_b)
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
