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
from reassess.store.atomic import atomic_write, atomic_write_json, atomic_write_text
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


# --- mistake analysis ---------------------------------------------------------------------------

MISTAKES_FILE = "mistakes.parquet"
ANALYSIS_FILE = "analysis.json"
# Label sets of a run that are not human multi-labels: cleanlab's corrected / cleaned single
# labels. The analysis consults the cleanlab list itself (rule 2), so these are left out.
DERIVED_LABEL_SETS = ("corrected", "cleaned")


@dataclasses.dataclass(frozen=True)
class OOVCheck:
    """Options of the CLIP out-of-vocabulary check of :func:`analyze_run`."""

    clip_spec: str
    images: Path
    device: str | None = None
    batch_size: int = 32
    workers: int | None = None
    progress: bool = True


def _oov_queries(mistakes: Any, images: Path) -> tuple[list[Any], int]:
    """The mistakes rule 4 asks about (not fine-grained, not forgiven, experts silent), with
    their image files; and how many of them have no image under ``images``."""
    from reassess.datasets.image_files import ImageResolver
    from reassess.inference.oov_clip import OOVQuery

    resolver = ImageResolver(images)
    wnids = imagenet_classes().wnids
    ask = np.isin(mistakes.category, ("fine_grained_oov", "spurious_correlation", "unexplained"))
    ask &= mistakes["oov_source"] != "expert"
    queries, missing = [], 0
    for j in np.flatnonzero(ask).tolist():
        sample_id = str(mistakes["sample_id"][j])
        path = resolver.find(sample_id, wnids[int(mistakes["label"][j])])
        if path is None:
            missing += 1
            continue
        valid = tuple(int(c) for c in mistakes["valid_labels"][j] if c != mistakes["prediction"][j])
        queries.append(OOVQuery(sample_id, path, int(mistakes["prediction"][j]), valid))
    return queries, missing


def classify_run(
    run: RunDir,
    *,
    expert_labels: Any = None,
    oov_verdicts: Any = None,
    info: dict[str, Any] | None = None,
    predictions: Predictions | None = None,
) -> tuple[Any, dict[str, LabelSets], LabelSets | None]:
    """Classify a run's top-1 mistakes as ``reassess analyze`` does (nothing is written).

    Returns the :class:`~reassess.analysis.mistakes.Mistakes`, the human multi-label sets used
    and the aligned expert sets (or None). The review app calls this for runs not analysed yet.
    """
    from reassess.analysis.mistakes import classify_mistakes, default_evidence

    info = info if info is not None else run.read_run()
    predictions = predictions if predictions is not None else run.read_predictions()
    if not (predictions.labels >= 0).any():
        raise ValueError(
            f"{run.path}: no sample has a single label, so there are no top-1 mistakes to analyse"
        )
    ids = predictions.sample_ids.tolist()
    label_sets = {
        name: sets
        for name, sets in run_label_sets(info, predictions).items()
        if name not in DERIVED_LABEL_SETS
    }
    expert = expert_labels.accepted().align(ids) if expert_labels is not None else None
    mistakes = classify_mistakes(
        predictions.sample_ids,
        predictions.labels,
        predictions.top1.astype("int64"),
        label_sets=label_sets,
        expert=expert,
        evidence=default_evidence(),
        confidence=predictions.probs[:, 0] if predictions.probs is not None else None,
        oov_verdicts=oov_verdicts,
    )
    return mistakes, label_sets, expert


def analyze_run(
    run: RunDir, *, expert_labels: Any = None, oov_check: OOVCheck | None = None
) -> tuple[Any, dict[str, Any]]:
    """Classify and summarise a run's mistakes; write mistakes.parquet and analysis.json.

    ``expert_labels`` is an :class:`~reassess.labels.expert.ExpertLabels` or None. With
    ``oov_check``, a CLIP model looks at the images of the mistakes rule 4 asks about; its
    verdicts are cached in ``RUNDIR/oov_clip.parquet`` and reused by later calls.
    """
    import pyarrow.parquet as pq

    from reassess.analysis.evidence import IMAGENET_X_LICENSE
    from reassess.analysis.mistakes import default_evidence
    from reassess.analysis.summary import summarize_mistakes

    info = run.read_run()
    predictions = run.read_predictions()
    mistakes, label_sets, expert = classify_run(
        run, expert_labels=expert_labels, info=info, predictions=predictions
    )
    evidence = default_evidence()
    oov_summary = None
    if oov_check is not None:
        from reassess.inference.oov_clip import OOV_FILE, clip_oov_verdicts

        queries, missing = _oov_queries(mistakes, oov_check.images)
        verdicts, oov_summary = clip_oov_verdicts(
            queries,
            oov_check.clip_spec,
            cache_path=run.path / OOV_FILE,
            device=oov_check.device,
            batch_size=oov_check.batch_size,
            workers=oov_check.workers,
            progress=oov_check.progress,
        )
        oov_summary["images_not_found"] = missing
        oov_summary["file"] = OOV_FILE
        mistakes, _, _ = classify_run(
            run,
            expert_labels=expert_labels,
            oov_verdicts=verdicts,
            info=info,
            predictions=predictions,
        )
    summary = summarize_mistakes(
        mistakes,
        predictions.sample_ids,
        predictions.labels,
        predictions.top1.astype("int64"),
        label_sets=label_sets,
        expert=expert,
        imagenet_x=evidence.imagenet_x,
        hierarchy=evidence.hierarchy,
    )
    x_annotated = int(mistakes["x_annotated"].sum())
    result = {
        "run": {
            "path": str(run.path),
            "model": info.get("model", {}).get("spec"),
            "data": info.get("data", {}).get("spec"),
        },
        **summary,
        "sources": {
            "label_sets": {
                name: {"annotated": int(s.annotated.sum()), "evaluable": int(s.evaluable.sum())}
                for name, s in label_sets.items()
            },
            "expert": expert_labels.describe() if expert_labels is not None else None,
            "cleanlab_label_errors": {
                "mistakes_flagged": int((~mistakes.null["cleanlab_category"]).sum()),
                "license": "Apache-2.0",
            },
            "imagenet_x": {"mistakes_annotated": x_annotated, "license": IMAGENET_X_LICENSE},
            "cooccurrence": f"{evidence.cooccurrence_source} multi-labels of other images",
            "confusability": evidence.confusability.source if evidence.confusability else None,
            "rater_scores": "ReaL Dawid-Skene scores (Beyer et al. 2020), Apache-2.0",
            "hierarchy": "WordNet 3.0 is-a hierarchy of the 1000 classes",
            "oov_clip": oov_summary,
        },
        "files": {"mistakes": MISTAKES_FILE},
    }
    table = mistakes.to_table()
    atomic_write(run.path / MISTAKES_FILE, lambda tmp: pq.write_table(table, tmp))
    atomic_write_json(run.path / ANALYSIS_FILE, result)
    return mistakes, result
