"""Shared CLI steps: finishing a run (metrics + per-class table) and printing metrics."""

from __future__ import annotations

import csv
import dataclasses
import io
from typing import Any

from rich.table import Table

from reassess.cli.app import console
from reassess.datasets.base import Dataset, dataset_families
from reassess.datasets.shifts import scoring_class_map
from reassess.labels.imagenet import imagenet_classes
from reassess.labels.label_sets import LabelSets
from reassess.metrics.suite import MetricOptions, compute_metrics, per_class_table
from reassess.store.atomic import atomic_write_text
from reassess.store.predictions import Predictions
from reassess.store.run import RunDir

METRIC_TITLES = {
    "top1": "Top-1 (original labels)",
    "top5": "Top-5 (original labels)",
    "real_top1": "ReaL top-1",
    "real_top5": "ReaL top-5",
    "valid_labels_top1": "Top-1, any valid label (samples)",
    "valid_labels_top5": "Top-5, any valid label (samples)",
}
METRIC_TITLES.update(
    {
        "top1_equiv": "Top-1, equivalent classes merged",
        "top5_equiv": "Top-5, equivalent classes merged",
        "multilabel_top1": "ImageNetV2 multi-label top-1",
        "multilabel_top5": "ImageNetV2 multi-label top-5",
        "corrected_top1": "Top-1, known label errors corrected",
        "corrected_top5": "Top-5, known label errors corrected",
        "cleaned_top1": "Top-1, known label errors excluded",
        "cleaned_top5": "Top-5, known label errors excluded",
        "expert_top1": "Expert multi-label top-1 (per class)",
        "expert_top1_images": "Expert multi-label top-1 (per image)",
        "expert_strict_top1": "Expert multi-label top-1, strict (per class)",
        "expert_strict_top1_images": "Expert multi-label top-1, strict (per image)",
        "imagenet_m": "ImageNet-M",
        "ece": "Expected calibration error",
    }
)
_SET_TITLES = {
    "real": "ReaL",
    "multilabel": "ImageNetV2 multi-label",
    "expert": "Expert",
    "expert_strict": "Expert strict",
}
_SUFFIX_TITLES = {
    "_vtopk": "variable top-k",
    "_vtopk_soft": "variable top-k, soft",
    "_asma": "ASMA",
    "_share_2plus": "images with 2+ labels",
}


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


def metric_title(key: str) -> str:
    """Human-readable name of a metrics.json key."""
    if key in METRIC_TITLES:
        return METRIC_TITLES[key]
    for suffix, title in _SUFFIX_TITLES.items():
        name = key[: -len(suffix)]
        if key.endswith(suffix) and name in _SET_TITLES:
            return f"{_SET_TITLES[name]} {title}"
    return key.replace("_", " ").replace("top", "top-")


def metrics_table(metrics: dict[str, Any], title: str) -> Table:
    """A rich table of every ``{"value", "n", "ci95"}`` entry of a metrics dictionary."""
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("n", justify="right")
    for key, entry in metrics.items():
        if isinstance(entry, dict) and {"value", "n", "ci95"} <= entry.keys():
            lo, hi = entry["ci95"]
            table.add_row(
                metric_title(key),
                f"{100 * entry['value']:.2f}%",
                f"{100 * lo:.2f} - {100 * hi:.2f}",
                f"{entry['n']:,}",
            )
    return table


def _percent(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "-"
    lo, hi = entry["ci95"]
    return f"{100 * entry['value']:.2f}% ({100 * lo:.2f} - {100 * hi:.2f})"


def subgroup_table(metrics: dict[str, Any], name: str) -> Table | None:
    """Variable top-k accuracy per number of valid labels (the subgroups ASMA averages)."""
    entry = metrics.get(f"{name}_vtopk_subgroups")
    if not entry:
        return None
    table = Table(
        title=f"Variable top-k by number of valid labels ({_SET_TITLES.get(name, name)}); ASMA, "
        f"the unweighted mean of the strict column: {_percent(metrics.get(f'{name}_asma'))}",
        title_justify="left",
    )
    for column in ("labels", "images", "strict (all k in top-k)", "soft (fraction found)"):
        table.add_column(column, justify="right")
    for group in entry["subgroups"]:
        table.add_row(
            str(group["labels"]),
            f"{group['strict']['n']:,}",
            _percent(group["strict"]),
            _percent(group["soft"]),
        )
    return table


def reliability_table(metrics: dict[str, Any]) -> Table | None:
    """Accuracy against mean confidence per confidence bin."""
    entry = metrics.get("calibration")
    if not entry or "ece" not in metrics:
        return None
    table = Table(
        title=f"Calibration of top-1 confidence: ECE {_percent(metrics['ece'])}, mean confidence "
        f"{100 * entry['mean_confidence']:.2f}%, accuracy {100 * entry['accuracy']:.2f}%",
        title_justify="left",
    )
    for column in ("confidence bin", "images", "mean confidence", "accuracy (95% CI)"):
        table.add_column(column, justify="right")
    for b in entry["bins"]:
        table.add_row(
            f"{b['lo']:.2f} - {b['hi']:.2f}",
            f"{b['count']:,}",
            f"{100 * b['confidence']:.2f}%",
            _percent(b["accuracy"]),
        )
    return table


def print_metrics(metrics: dict[str, Any], title: str, *, details: bool = True) -> None:
    """The metrics table, then (with ``details``) the breakdowns, then what was skipped and why."""
    console.print(metrics_table(metrics, title))
    if "imagenet_m" in metrics:
        m = metrics["imagenet_m"]
        hits, of = m.get("hits", round(m["value"] * m["n"])), m.get("of", m["n"])
        missing = f" ({of - m['n']} of its {of} images are not in this run)" if of > m["n"] else ""
        console.print(f"ImageNet-M: {hits} of {m['n']} right{missing}")
    if "multilabel_top1" in metrics and "top1" in metrics:
        share = metrics.get("multilabel_share_2plus")
        console.print(
            "ImageNetV2 view: single-label top-1 "
            f"{_percent(metrics['top1'])}, multi-label top-1 {_percent(metrics['multilabel_top1'])}"
            + (f"; {_percent(share)} of images have 2+ valid labels" if share else "")
        )
    if details:
        for name in _SET_TITLES:
            table = subgroup_table(metrics, name)
            if table is not None:
                console.print(table)
        table = reliability_table(metrics)
        if table is not None:
            console.print(table)
    files = metrics.get("label_files", {})
    for name, info in files.items():
        state = "sha256 verified" if info.get("verified") else "[yellow]UNVERIFIED sha256[/]"
        console.print(f"{name} labels: {info.get('file')} ({state})")
    options = metrics.get("options", {})
    if options.get("strict"):
        console.print("expert labels: strict (only 'correct' classes count)")
    if options.get("equivalences"):
        console.print("equivalent classes (e.g. sunglass/sunglasses) count as the same class")
    for key, note in metrics.get("notes", {}).items():
        console.print(f"  [dim]note on {metric_title(key)}: {note}[/]")
    for key, reason in metrics.get("skipped", {}).items():
        console.print(f"  [dim]skipped {metric_title(key)}: {reason}[/]")
