"""The zoo's leaderboard: one row per (model, dataset) pair, read back from the run folders."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from reassess.metrics.registry import REGISTRY, metric, metric_order, metric_title
from reassess.store.atomic import atomic_write_json, atomic_write_text
from reassess.zoo.engines import PairResult

#: the ranking metric: ReaL top-1 where the data has ReaL labels, else top-1
RANK_BY = ("real_top1", "top1")


def _metric_values(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        key: entry
        for key, entry in metrics.items()
        if isinstance(entry, dict) and {"value", "n"} <= entry.keys()
    }


def leaderboard_rows(results: list[PairResult]) -> list[dict[str, Any]]:
    """One row per pair: its metrics from ``metrics.json``, speed from ``run.json``, or its error.

    Rows are sorted by dataset, then ReaL top-1 (top-1 where ReaL does not apply), best first
    as the registry's direction says; failed pairs come last within their dataset.
    """
    rows = []
    for result in results:
        pair = result.pair
        row: dict[str, Any] = {
            "data": pair.data,
            "model": pair.model,
            "status": result.status,
            "run": pair.out,
            "error": result.error,
        }
        run = pair.run
        if result.ok and run.metrics_file.exists():
            metrics = _metric_values(run.read_metrics())
            info = run.read_run()
            row.update(
                n=metrics.get("top1", {}).get("n"),
                images_per_second=info.get("images_per_second"),
                metrics={k: e["value"] for k, e in metrics.items()},
                ci95={k: e.get("ci95") for k, e in metrics.items()},
            )
        rows.append(row)

    def rank(row: dict[str, Any]) -> tuple:
        metrics = row.get("metrics") or {}
        key = next((k for k in RANK_BY if k in metrics), None)
        score = metrics[key] if key else None
        best_first = metric(key).best_first(score) if score is not None else 0.0
        return (row["data"], score is None, best_first, row["model"])

    return sorted(rows, key=rank)


def _is_headline(key: str) -> bool:
    found = REGISTRY.get(key)
    return found is not None and found.headline


def metric_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Metric keys present in any row: the registry's headline ones (top-1/top-5 on the original
    and ReaL labels) first, then the others; each in registry order, unknown keys last."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row.get("metrics") or {}))
    ordered = metric_order(seen)
    return [k for k in ordered if _is_headline(k)] + [k for k in ordered if not _is_headline(k)]


def write_leaderboard(rows: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    """Write ``leaderboard.csv`` and ``leaderboard.json`` into ``out`` (atomically)."""
    columns = metric_columns(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["data", "model", "status", *columns, "n", "images_per_second", "run", "error"])
    for row in rows:
        metrics = row.get("metrics") or {}
        writer.writerow(
            [
                row["data"],
                row["model"],
                row["status"],
                *(f"{metrics[k]:.6f}" if k in metrics else "" for k in columns),
                row.get("n") if row.get("n") is not None else "",
                row.get("images_per_second") or "",
                row["run"],
                row["error"] or "",
            ]
        )
    csv_path, json_path = Path(out) / "leaderboard.csv", Path(out) / "leaderboard.json"
    atomic_write_text(csv_path, buffer.getvalue())
    atomic_write_json(json_path, {"columns": columns, "rows": rows})
    return csv_path, json_path


def leaderboard_table(rows: list[dict[str, Any]], title: str = "Leaderboard"):
    """A rich table of the leaderboard (the headline metrics as percentages)."""
    from rich.table import Table

    columns = [k for k in metric_columns(rows) if _is_headline(k)]
    table = Table(title=title, title_justify="left")
    for name in ("data", "model"):
        table.add_column(name)
    for key in columns:
        table.add_column(metric_title(key), justify="right")
    table.add_column("n", justify="right")
    table.add_column("img/s", justify="right")
    table.add_column("status")
    for row in rows:
        metrics = row.get("metrics") or {}
        status = row["status"] if row["status"] != "failed" else "[red]failed[/]"
        table.add_row(
            row["data"],
            row["model"],
            *(f"{100 * metrics[k]:.2f}%" if k in metrics else "-" for k in columns),
            f"{row['n']:,}" if row.get("n") is not None else "-",
            f"{row['images_per_second']:.1f}" if row.get("images_per_second") else "-",
            status,
        )
    return table


def leaderboard_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps({"columns": metric_columns(rows), "rows": rows}, indent=2, default=str)
