"""`reassess metrics`: recompute every metric from a run's stored predictions (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reassess.cli.app import app
from reassess.cli.common import finish_run, print_metrics
from reassess.store.run import RunDir


@app.command("metrics")
def metrics_command(
    run_dir: Annotated[Path, typer.Argument(help="A run folder made by eval or import")],
    json_output: Annotated[bool, typer.Option("--json", help="Print metrics as JSON")] = False,
) -> None:
    """Recompute and print all metrics of a run from its stored predictions."""
    run = RunDir(run_dir)
    info = run.read_run()
    metrics = finish_run(run)
    if json_output:
        typer.echo(json.dumps(metrics, indent=2))
    else:
        print_metrics(metrics, f"{info['model']['spec']} on {info['data']['spec']}")
