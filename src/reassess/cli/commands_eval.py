"""`reassess eval` and `reassess import`: the two ways predictions enter a run folder."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from reassess.cli.app import UserError, app, console
from reassess.cli.common import print_metrics
from reassess.cli.options import BatchSize, Device, KeepLogits, Precision, TopK, UseCache
from reassess.datasets.base import parse_data_spec
from reassess.labels.resources import file_sha256
from reassess.runs import finish_run
from reassess.store.run import RunDir


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _check_same_run(run: RunDir, model: str, data: str) -> dict[str, Any] | None:
    """The existing run.json if ``run`` holds this same model+data, error if another; None if new."""
    if not run.exists():
        if run.path.exists() and any(run.path.iterdir()):
            raise UserError(
                f"{run.path}: folder exists and is not a reassess run; choose another --out"
            )
        return None
    info = run.read_run()
    if info.get("model", {}).get("spec") != model or info.get("data", {}).get("spec") != data:
        raise UserError(
            f"{run.path}: holds a run of {info.get('model', {}).get('spec')} on "
            f"{info.get('data', {}).get('spec')}; use another --out"
        )
    return info


def evaluate(
    model: str,
    data: str,
    out: Path,
    options,
    *,
    quiet: bool = False,
    model_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``model`` on ``data`` into ``out`` (resuming if interrupted) and return the metrics.

    ``model_options`` (zero-shot prompts: templates, prompts, class_names, prompt_weighting) go to
    :func:`create_model` with the dataset and device; they are recorded in run.json.
    """
    from reassess.inference.runner import environment_info, resolve_device, run_inference
    from reassess.models.registry import create_model, model_families

    if model.partition(":")[0] not in model_families():
        create_model(model)  # raises the error listing accepted specs
    dataset = parse_data_spec(data)
    if not dataset.has_images:
        raise UserError(f"data spec {data!r} names no image folder; e.g. imagenet-val:/data/val")
    run = RunDir(out)
    existing = _check_same_run(run, model, data)
    recorded = {k: str(v) for k, v in (model_options or {}).items() if v not in (None, False)}
    if existing and existing.get("model_options", {}) != recorded:
        raise UserError(
            f"{run.path}: holds a run with model options {existing.get('model_options', {})}; "
            "use another --out"
        )
    if existing and existing.get("status") == "complete" and run.predictions_file.exists():
        console.print(
            f"{run.path}: run already complete; recomputing metrics from stored predictions"
        )
        return finish_run(run)
    info = existing or {"created": _now()}
    info.update(
        status="running",
        model={"spec": model},
        data=dataset.describe(),
        options={k: v for k, v in vars(options).items() if k != "progress"},
        model_options=recorded,
    )
    run.write_run(info)

    load_start = time.perf_counter()
    context = {"dataset": dataset, "device": options.device, "batch_size": options.batch_size}
    context.update(workers=options.workers, progress=options.progress)
    loaded = create_model(model, options={**(model_options or {}), **context})
    for line in loaded.details.get("summary", []) if not quiet else []:
        console.print(line, highlight=False)
    load_seconds = time.perf_counter() - load_start
    device = resolve_device(options.device)
    info.update(model=loaded.describe(), preprocessing=loaded.data_config)
    run.write_run(info)

    result = run_inference(loaded, dataset, run, options)
    run.write_predictions(result.predictions)
    info.update(
        status="complete",
        finished=_now(),
        environment=environment_info(device),
        timings={
            "model_load_seconds": round(load_seconds, 3),
            "inference_seconds": round(result.seconds, 3),
            "resumed_after_samples": result.resumed_from,
        },
        images_per_second=round(result.images_per_second, 2) if result.images_per_second else None,
        num_predictions=len(result.predictions),
        skipped=result.skipped,
        preprocessing_cache=result.cache,
    )
    run.write_run(info)
    run.clear_parts()
    metrics = finish_run(run, result.predictions)
    if result.skipped and not quiet:
        console.print(
            f"[yellow]{len(result.skipped)} unreadable images skipped[/] (listed in {run.run_json})"
        )
    return metrics


@app.command("eval")
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
        typer.Option(help="Data spec: imagenet-val:PATH, imagenetv2:PATH, folder:PATH, samples"),
    ],
    out: Annotated[Path, typer.Option(help="Run folder to create or resume")],
    batch_size: BatchSize = 64,
    workers: Annotated[
        int | None, typer.Option(help="Decoding worker processes (default: CPU count, max 8)")
    ] = None,
    device: Device = "auto",
    topk: TopK = 5,
    keep_logits: KeepLogits = False,
    threads: Annotated[int | None, typer.Option(help="Torch intra-op threads")] = None,
    cache: UseCache = True,
    precision: Precision = "fp32",
    compile_model: Annotated[
        bool, typer.Option("--compile", help="torch.compile the model first")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
    json_output: Annotated[bool, typer.Option("--json", help="Print metrics as JSON")] = False,
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
    """Run a classifier over a dataset, store its predictions and print the metrics."""
    from reassess.inference.runner import InferenceOptions

    options = InferenceOptions(
        batch_size=batch_size,
        workers=workers,
        device=device,
        k=topk,
        keep_logits=keep_logits,
        threads=threads,
        cache=cache,
        precision=precision,
        compile=compile_model,
        progress=progress and not json_output,
    )
    model_options = {
        "templates": templates,
        "prompts": prompts,
        "class_names": class_names,
        "prompt_weighting": prompt_weighting,
    }
    metrics = evaluate(model, data, out, options, quiet=json_output, model_options=model_options)
    _show(metrics, f"{model} on {data}", out, json_output)


def _show(metrics: dict[str, Any], title: str, out: Path, json_output: bool) -> None:
    if json_output:
        import json

        typer.echo(json.dumps(metrics, indent=2))
    else:
        print_metrics(metrics, title)
        console.print(f"run folder: [bold]{out}[/]")


def import_run(
    predictions_file: Path,
    data: str,
    out: Path,
    *,
    model_name: str | None,
    topk: int,
    allow_missing: bool,
) -> dict[str, Any]:
    """Store predictions made elsewhere as a run folder and return its metrics."""
    from reassess.store.importers import import_predictions

    dataset = parse_data_spec(data)
    model = model_name or f"imported:{predictions_file.name}"
    run = RunDir(out)
    _check_same_run(run, model, data)
    predictions = import_predictions(predictions_file, dataset, k=topk, allow_missing=allow_missing)
    run.write_predictions(predictions)
    run.write_run(
        {
            "created": _now(),
            "status": "complete",
            "model": {"spec": model, "family": "imported"},
            "data": dataset.describe(),
            "source": {"file": str(predictions_file), "sha256": file_sha256(predictions_file)},
            "num_predictions": len(predictions),
        }
    )
    return finish_run(run, predictions)


@app.command("import")
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
    json_output: Annotated[bool, typer.Option("--json", help="Print metrics as JSON")] = False,
) -> None:
    """Store predictions made elsewhere (joined on file names) and print the metrics."""
    metrics = import_run(
        predictions_file, data, out, model_name=model_name, topk=topk, allow_missing=allow_missing
    )
    _show(metrics, f"{model_name or predictions_file.name} on {data}", out, json_output)
