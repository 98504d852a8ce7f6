"""`reassess metrics`: recompute every metric from a run's stored predictions (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from reassess.cli.app import UserError, app, console
from reassess.cli.common import label_warnings_printed, print_metrics
from reassess.cli.options import MultilabelFile, VerifyExpertFile
from reassess.runs import finish_run, recorded_expert_file
from reassess.store.run import RunDir


def load_expert_option(path: Path | None, *, verify: bool, quiet: bool = False) -> Any:
    """Load ``--multilabel-file`` (None if not given), turning label-file problems into errors."""
    if path is None:
        return None
    from reassess.labels.expert import ExpertLabelsError, load_expert_multilabels

    with label_warnings_printed():
        try:
            if quiet:
                expert = load_expert_multilabels(path, verify=verify)
            else:
                with console.status(f"reading and checking {path} ..."):
                    expert = load_expert_multilabels(path, verify=verify)
        except ExpertLabelsError as exc:
            raise UserError(str(exc)) from None
    return expert


@app.command(
    "metrics",
    epilog="Example: reassess metrics runs/convnext --multilabel-file human_accuracy_v3.0.0.json "
    "--json",
)
def metrics_command(
    run_dir: Annotated[Path, typer.Argument(help="A run folder made by eval or import")],
    multilabel_file: MultilabelFile = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Expert labels: count only 'correct' classes, not 'unclear' ones"
        ),
    ] = False,
    equivalences: Annotated[
        bool,
        typer.Option(
            "--equivalences",
            help="Accept either class of a duplicate pair (sunglass/sunglasses, laptop/notebook...)",
        ),
    ] = False,
    verify: VerifyExpertFile = True,
    details: Annotated[
        bool, typer.Option(help="Also print subgroup and calibration tables")
    ] = True,
    json_output: Annotated[bool, typer.Option("--json", help="Print metrics as JSON")] = False,
) -> None:
    """Recompute and print all metrics of a run from its stored predictions.

    Expert multi-labels: download https://storage.googleapis.com/brain-car-datasets/imagenet-mistakes/human_accuracy_v3.0.0.json
    and pass it as --multilabel-file; later calls without the option reuse the recorded file.
    """
    from reassess.metrics.suite import MetricOptions

    run = RunDir(run_dir)
    info = run.read_run()
    if multilabel_file is None:
        multilabel_file, recorded_verified = recorded_expert_file(run)
        if multilabel_file is not None:
            verify = verify and recorded_verified
            if not json_output:
                console.print(f"using the expert labels recorded for this run: {multilabel_file}")
    expert = load_expert_option(multilabel_file, verify=verify, quiet=json_output)
    options = MetricOptions(expert=expert, strict=strict, equivalences=equivalences)
    metrics = finish_run(run, options=options)
    if json_output:
        typer.echo(json.dumps(metrics, indent=2))
    else:
        print_metrics(
            metrics, f"{info['model']['spec']} on {info['data']['spec']}", details=details
        )
