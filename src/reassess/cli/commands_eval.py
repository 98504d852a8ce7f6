"""`reassess eval` and `reassess import`: the two ways predictions enter a run folder."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from reassess.cli.app import Interrupted, UserError, app, console, err_console
from reassess.cli.common import print_metrics
from reassess.cli.options import (
    BatchSize,
    Device,
    FlushSeconds,
    KeepLogits,
    Overwrite,
    Precision,
    TopK,
    UseCache,
)
from reassess.datasets.base import parse_data_spec
from reassess.labels.resources import file_sha256
from reassess.runs import finish_run
from reassess.store.run import RunDir


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _writable_run(out: Path) -> RunDir:
    """The run folder ``--out`` names; an error if it is a file."""
    run = RunDir(out)
    if run.path.exists() and not run.path.is_dir():
        raise UserError(f"{run.path}: is a file; --out names the run folder to create")
    return run


def _prepare_run_folder(
    run: RunDir, model: str, data: str, *, overwrite: bool, same: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The run.json to resume, or None to start afresh in ``run`` (made empty where needed).

    A run of another model/data (or other ``same`` fields of run.json) is refused unless it never
    stored a prediction (a typo'd model, a crash before the first batch) or ``overwrite`` is given.
    Must be called holding ``run.lock()``: it removes temporaries a killed writer left.
    """
    run.remove_stale_temporaries()
    if not run.exists():
        if run.holds_only_leftovers():  # empty, or what a writer killed early left
            run.clear_parts()
            return None
        raise UserError(
            f"{run.path}: folder exists and is not a reassess run; choose another --out"
        )
    info = run.read_run()
    wanted = {"model": model, "data": data, **(same or {})}
    held = {
        "model": info.get("model", {}).get("spec"),
        "data": info.get("data", {}).get("spec"),
        **{key: info.get(key, {}) for key in same or {}},
    }
    if overwrite or (held != wanted and not run.stored_predictions()):
        run.clear()
        return None
    if held != wanted:
        also = [
            f"{key.replace('_', ' ')} {held[key]}" for key in same or {} if held[key] != wanted[key]
        ]
        raise UserError(
            f"{run.path}: holds a run of {held['model']} on {held['data']}"
            + (f" with {', '.join(also)}" if also else "")
            + "; use another --out, or --overwrite to replace it"
        )
    return info


def _refuse_changed_prediction_options(run: RunDir, info: dict[str, Any], options) -> None:
    """Resuming with another --topk/--keep-logits/--precision would mix rows: say so up front."""
    from reassess.inference.runner import PREDICTION_OPTIONS

    if info.get("status") == "complete" or not run.stored_predictions():
        return
    stored = info.get("options", {})
    for field, flag in PREDICTION_OPTIONS.items():
        if field in stored and stored[field] != getattr(options, field):
            raise UserError(
                f"{run.path}: was started with {flag} {stored[field]}; rerun with {flag} "
                f"{stored[field]} to resume it, or add --overwrite to start again"
            )


def evaluate(
    model: str,
    data: str,
    out: Path,
    options,
    *,
    quiet: bool = False,
    model_options: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run ``model`` on ``data`` into ``out`` (resuming if interrupted) and return the metrics.

    ``model_options`` (zero-shot prompts: templates, prompts, class_names, prompt_weighting) go to
    :func:`create_model` with the dataset and device; they are recorded in run.json. ``quiet``
    keeps stdout for the caller (``--json``): notes go to stderr.
    """
    from reassess.inference.runner import (
        RunInterrupted,
        environment_info,
        resolve_device,
        run_inference,
    )
    from reassess.models.registry import create_model, model_families

    say = err_console if quiet else console
    if model.partition(":")[0] not in model_families():
        create_model(model)  # raises the error listing accepted specs
    dataset = parse_data_spec(data)
    if not dataset.has_images:
        raise UserError(f"data spec {data!r} names no image folder; e.g. imagenet-val:/data/val")
    run = _writable_run(out)
    recorded = {k: str(v) for k, v in (model_options or {}).items() if v not in (None, False)}
    with run.lock():
        existing = _prepare_run_folder(
            run, model, data, overwrite=overwrite, same={"model_options": recorded}
        )
        if existing and existing.get("status") == "complete" and run.predictions_file.exists():
            say.print(
                f"{run.path}: run already complete; recomputing metrics from stored predictions"
            )
            run.clear_parts()  # left by a run killed just before it tidied up
            return finish_run(run)
        if existing:
            _refuse_changed_prediction_options(run, existing, options)
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

        try:
            result = run_inference(loaded, dataset, run, options)
        except RunInterrupted as exc:
            raise Interrupted(
                f"{exc}; rerun the same command to resume (stored in {run.parts_dir})"
            ) from None
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
            images_per_second=round(result.images_per_second, 2)
            if result.images_per_second
            else None,
            num_predictions=len(result.predictions),
            skipped=result.skipped,
            preprocessing_cache=result.cache,
        )
        run.write_run(info)
        run.clear_parts()
        metrics = finish_run(run, result.predictions)
    if result.skipped:
        say.print(
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
    flush_seconds: FlushSeconds = 30.0,
    overwrite: Overwrite = False,
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
        flush_seconds=flush_seconds,
    )
    model_options = {
        "templates": templates,
        "prompts": prompts,
        "class_names": class_names,
        "prompt_weighting": prompt_weighting,
    }
    metrics = evaluate(
        model,
        data,
        out,
        options,
        quiet=json_output,
        model_options=model_options,
        overwrite=overwrite,
    )
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
    overwrite: bool = False,
) -> dict[str, Any]:
    """Store predictions made elsewhere as a run folder and return its metrics.

    run.json says "importing" until the predictions are stored, so a run cut short (a full disk,
    Ctrl-C) is replaced by the rerun rather than refused.
    """
    from reassess.store.importers import import_predictions

    dataset = parse_data_spec(data)
    model = model_name or f"imported:{predictions_file.name}"
    run = _writable_run(out)
    predictions = import_predictions(predictions_file, dataset, k=topk, allow_missing=allow_missing)
    with run.lock():
        _prepare_run_folder(run, model, data, overwrite=overwrite)
        info = {
            "created": _now(),
            "status": "importing",
            "model": {"spec": model, "family": "imported"},
            "data": dataset.describe(),
            "source": {"file": str(predictions_file), "sha256": file_sha256(predictions_file)},
            "num_predictions": len(predictions),
        }
        run.write_run(info)
        run.write_predictions(predictions)
        run.write_run({**info, "status": "complete"})
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
