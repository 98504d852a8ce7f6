"""`reassess eval` and `reassess import`: parse the options, call :mod:`reassess.runs.evaluate`, print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from reassess.cli.app import app, console, err_console
from reassess.cli.common import print_metrics
from reassess.cli.options import (
    Amp,
    AmpDtype,
    BatchSize,
    CropPct,
    Device,
    FlushSeconds,
    ImgSize,
    Interpolation,
    KeepLogits,
    Mean,
    Overwrite,
    Precision,
    Std,
    TopK,
    UseCache,
    Workers,
    inference_precision,
    preprocessing_overrides,
)
from reassess.runs.evaluate import evaluate, import_run


@app.command(
    "eval",
    epilog="Example: reassess eval --model timm:convnext_tiny.fb_in1k "
    "--data imagenet-val:/data/imagenet/val --out runs/convnext -b 128 -j 8 --amp",
)
def eval_command(
    model: Annotated[
        str,
        typer.Option(
            help="Model spec: lite0, timm:NAME[@CKPT], torchvision:NAME, open_clip:ARCH@TAG, "
            "hf-clip:REPO (list: reassess models)"
        ),
    ],
    data: Annotated[
        str,
        typer.Option(
            help="Data spec: imagenet-val:PATH, imagenetv2:PATH (also imagenetv2-threshold-0.7:, "
            "imagenetv2-top-images:), folder:PATH, imagenet-a:PATH, imagenet-r:PATH, "
            "imagenet-sketch:PATH, objectnet:PATH, or samples (built-in photos)"
        ),
    ],
    out: Annotated[Path, typer.Option(help="Run folder to create or resume")],
    batch_size: BatchSize = 64,
    workers: Workers = None,
    device: Device = "auto",
    topk: TopK = 5,
    keep_logits: KeepLogits = False,
    threads: Annotated[int | None, typer.Option(help="Torch intra-op threads")] = None,
    cache: UseCache = True,
    precision: Precision = "fp32",
    amp: Amp = False,
    amp_dtype: AmpDtype = None,
    compile_model: Annotated[
        bool, typer.Option("--compile", help="torch.compile the model first")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
    flush_seconds: FlushSeconds = 30.0,
    overwrite: Overwrite = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print metrics as JSON")] = False,
    img_size: ImgSize = None,
    crop_pct: CropPct = None,
    interpolation: Interpolation = None,
    mean: Mean = None,
    std: Std = None,
    templates: Annotated[
        str | None,
        typer.Option(help="Zero-shot templates: openai (80), simple (7), none, or a file"),
    ] = None,
    prompts: Annotated[
        Path | None, typer.Option(help="Zero-shot prompts JSON {class: [sentences]} (CuPL style)")
    ] = None,
    class_names: Annotated[
        Path | None, typer.Option(help="Zero-shot class names: JSON {class: name} or 1000 lines")
    ] = None,
    prompt_weighting: Annotated[
        bool, typer.Option(help="Zero-shot: weight templates on the test images (ZPE)")
    ] = False,
) -> None:
    """Run a classifier over a dataset, store its predictions and print the metrics.

    Images are resized and cropped as the model's own config says (timm's test-time size, like
    timm's validate.py); --img-size, --crop-pct, --interpolation, --mean and --std override it.
    """
    from reassess.inference.runner import InferenceOptions

    options = InferenceOptions(
        batch_size=batch_size,
        workers=workers,
        device=device,
        k=topk,
        keep_logits=keep_logits,
        threads=threads,
        cache=cache,
        precision=inference_precision(precision, amp, amp_dtype, device),
        compile=compile_model,
        progress=progress and not json_output,
        flush_seconds=flush_seconds,
    )
    model_options = {
        "templates": templates,
        "prompts": prompts,
        "class_names": class_names,
        "prompt_weighting": prompt_weighting,
    }
    say = err_console if json_output else console  # --json keeps stdout for the JSON
    metrics = evaluate(
        model,
        data,
        out,
        options,
        model_options=model_options,
        preprocessing=preprocessing_overrides(img_size, crop_pct, interpolation, mean, std),
        overwrite=overwrite,
        notify=lambda note: say.print(note, highlight=False, markup=False),
    )
    _show(metrics, f"{model} on {data}", out, json_output)


def _show(metrics: dict[str, Any], title: str, out: Path, json_output: bool) -> None:
    if json_output:
        import json

        typer.echo(json.dumps(metrics, indent=2))
    else:
        print_metrics(metrics, title)
        console.print(f"run folder: [bold]{out}[/]")


@app.command(
    "import", epilog="Example: reassess import my_preds.csv --data imagenet-val --out runs/mine"
)
def import_command(
    predictions_file: Annotated[Path, typer.Argument(help=".npy, .csv or .parquet predictions")],
    data: Annotated[
        str, typer.Option(help="Data the predictions are for: imagenet-val, imagenetv2, ...")
    ],
    out: Annotated[Path, typer.Option(help="Run folder to write")],
    model_name: Annotated[str | None, typer.Option(help="Name to record for the model")] = None,
    topk: Annotated[int, typer.Option(min=1, help="Ranked predictions to keep from scores")] = 5,
    allow_missing: Annotated[
        bool, typer.Option(help="Evaluate on the covered subset only")
    ] = False,
    overwrite: Overwrite = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print metrics as JSON")] = False,
) -> None:
    """Store predictions made elsewhere (joined on file names) and print the metrics."""
    metrics = import_run(
        predictions_file,
        data,
        out,
        model_name=model_name,
        topk=topk,
        allow_missing=allow_missing,
        overwrite=overwrite,
    )
    _show(metrics, f"{model_name or predictions_file.name} on {data}", out, json_output)
