"""Shared CLI output: metrics as rich tables, and expert-label-file warnings as one line each.

Computing and storing a run's metrics is :func:`reassess.runs.finish_run`; this module prints.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.table import Table

from reassess.cli.app import console, err_console
from reassess.metrics.catalog import ASMA, VARIABLE_TOPK_SUBGROUPS
from reassess.metrics.metric import LABEL_SETS
from reassess.metrics.registry import REGISTRY, metric_order, metric_title, metrics_for


def _row_title(key: str) -> str:
    """The metric's registered title, saying so where lower is better (ECE)."""
    found = REGISTRY.get(key)
    lower = found is not None and found.direction == "lower"
    return metric_title(key) + (" [dim](lower is better)[/]" if lower else "")


def metrics_table(metrics: dict[str, Any], title: str) -> Table:
    """A rich table of every ``{"value", "n", "ci95"}`` entry of a metrics dictionary.

    Rows come in the registry's order, keys it does not know last.
    """
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("n", justify="right")
    entries = {
        key: entry
        for key, entry in metrics.items()
        if isinstance(entry, dict) and {"value", "n", "ci95"} <= entry.keys()
    }
    for key in metric_order(entries):
        entry = entries[key]
        lo, hi = entry["ci95"]
        table.add_row(
            _row_title(key),
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
    entry = metrics.get(VARIABLE_TOPK_SUBGROUPS.key(name))
    if not entry:
        return None
    set_title = LABEL_SETS[name].title if name in LABEL_SETS else name
    table = Table(
        title=f"Variable top-k by number of valid labels ({set_title}); ASMA, "
        f"the unweighted mean of the strict column: {_percent(metrics.get(ASMA.key(name)))}",
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
        for subgroups in metrics_for(family=VARIABLE_TOPK_SUBGROUPS):
            table = subgroup_table(metrics, subgroups.label_set)
            if table is not None:
                console.print(table)
        table = reliability_table(metrics)
        if table is not None:
            console.print(table)
    files = metrics.get("label_files", {})
    for name, info in files.items():
        if info.get("reviewed_images") is not None:
            state = f"reviewed labels of {info['reviewed_images']:,} images, from {info['source']}"
        elif info.get("verified"):
            state = "sha256 verified"
        else:
            state = "[yellow]UNVERIFIED sha256[/]"
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


@contextmanager
def label_warnings_printed() -> Iterator[None]:
    """Print each unverified-label-file warning raised inside as one yellow line on stderr."""
    from reassess.labels.expert import UnverifiedLabelsWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnverifiedLabelsWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, UnverifiedLabelsWarning):
            err_console.print(f"[yellow]warning:[/] {warning.message}", highlight=False)
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )
