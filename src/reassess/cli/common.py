"""Shared CLI steps: finishing a run (metrics + per-class table) and printing metrics."""

from __future__ import annotations

import csv
import io
from typing import Any

from rich.table import Table

from reassess.cli.app import console
from reassess.datasets.base import Dataset, dataset_families
from reassess.labels.imagenet import imagenet_classes
from reassess.labels.label_sets import LabelSets
from reassess.metrics.suite import compute_metrics, per_class_table
from reassess.store.atomic import atomic_write_text
from reassess.store.predictions import Predictions
from reassess.store.run import RunDir

METRIC_TITLES = {
    "top1": "Top-1 (original labels)",
    "top5": "Top-5 (original labels)",
    "real_top1": "ReaL top-1",
    "real_top5": "ReaL top-5",
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
    """Label sets that apply to a run, aligned to its stored predictions."""
    dataset = dataset_index(run_info["data"]["spec"])
    if dataset is None:
        return {}
    ids = predictions.sample_ids.tolist()
    return {name: load().align(ids) for name, load in dataset.label_set_loaders.items()}


def finish_run(run: RunDir, predictions: Predictions | None = None) -> dict[str, Any]:
    """Compute and store ``metrics.json`` and ``per_class.csv`` from the stored predictions."""
    predictions = predictions if predictions is not None else run.read_predictions()
    info = run.read_run()
    metrics = compute_metrics(predictions, run_label_sets(info, predictions))
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
    if key in METRIC_TITLES:
        return METRIC_TITLES[key]
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


def print_metrics(metrics: dict[str, Any], title: str) -> None:
    console.print(metrics_table(metrics, title))
    for key, reason in metrics.get("skipped", {}).items():
        console.print(f"  [dim]skipped {metric_title(key)}: {reason}[/]")
