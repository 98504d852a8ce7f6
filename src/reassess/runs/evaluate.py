"""The two ways predictions enter a run folder, ``eval`` and ``import``, and scoring a stored run.

``evaluate`` runs a model over a dataset (resuming an interrupted run), ``import_run`` stores
predictions made elsewhere, and ``finish_run`` computes ``metrics.json`` and ``per_class.csv``
from what is stored. Nothing here prints: notes go to the ``notify`` callback the caller passes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reassess.datasets.base import Dataset, parse_data_spec, scoring_class_map
from reassess.labels.imagenet import imagenet_classes
from reassess.labels.resources import file_sha256
from reassess.metrics.suite import MetricOptions, compute_metrics, per_class_table
from reassess.runs.errors import Interrupted, RunError
from reassess.runs.folder import (
    now,
    prepare_run_folder,
    refuse_changed_prediction_options,
    writable_run,
)
from reassess.runs.labels import run_label_sets
from reassess.store.predictions import Predictions
from reassess.store.run import RunDir
from reassess.store.schema import software_versions

Notify = Callable[[str], None]


def _silent(message: str) -> None:
    """The default ``notify``: callers that print pass their own."""


def finish_run(
    run: RunDir,
    predictions: Predictions | None = None,
    *,
    options: MetricOptions | None = None,
) -> dict[str, Any]:
    """Compute and store ``metrics.json`` and ``per_class.csv`` from the stored predictions."""
    predictions = predictions if predictions is not None else run.read_predictions()
    info = run.read_run()
    class_map = scoring_class_map(info["data"]["spec"])  # ImageNet-A/-R, ObjectNet: class subsets
    if class_map is not None:
        options = dataclasses.replace(options or MetricOptions(), class_map=class_map)
    metrics = compute_metrics(predictions, run_label_sets(info, predictions), options)
    run.write_metrics(metrics)
    write_per_class(run, predictions)
    return metrics


def write_per_class(run: RunDir, predictions: Predictions) -> None:
    """Write the run's ``per_class.csv``: support and top-1 of every class it has images of."""
    classes = imagenet_classes()
    table = per_class_table(predictions, list(classes.names))
    run.write_per_class(
        [
            {
                "class": c,
                "wnid": classes.wnids[c],
                "name": table["name"][c],
                "support": int(table["support"][c]),
                "top1": f"{table['top1'][c]:.6f}",
            }
            for c in range(len(classes))
            if table["support"][c]
        ]
    )


def evaluate(
    model: str,
    data: str,
    out: Path,
    options: Any,
    *,
    model_options: dict[str, Any] | None = None,
    preprocessing: Any = None,
    overwrite: bool = False,
    notify: Notify = _silent,
) -> dict[str, Any]:
    """Run ``model`` on ``data`` into ``out`` (resuming if interrupted) and return the metrics.

    ``options`` is an :class:`~reassess.inference.runner.InferenceOptions`. ``model_options``
    (zero-shot prompts: templates, prompts, class_names, prompt_weighting) go to
    :func:`~reassess.models.registry.create_model` with the dataset and device, and
    ``preprocessing`` (a :class:`~reassess.models.registry.PreprocessingOverrides`) replaces parts
    of the model's own data config; both are recorded in run.json, and a run is resumed only with
    the same ones.
    """
    from reassess.inference.accel import check_device
    from reassess.inference.runner import RunInterrupted, environment_info, run_inference
    from reassess.models.registry import create_model, model_families

    if model.partition(":")[0] not in model_families():
        create_model(model)  # raises the error listing accepted specs
    device = check_device(options.device)
    dataset = parse_data_spec(data)
    if not dataset.has_images:
        raise RunError(f"data spec {data!r} names no image folder; e.g. imagenet-val:/data/val")
    run = writable_run(out)
    recorded = {k: str(v) for k, v in (model_options or {}).items() if v not in (None, False)}
    overrides = preprocessing.describe() if preprocessing is not None else {}
    same = {"model_options": recorded, "preprocessing_overrides": overrides}
    with run.lock():
        existing = prepare_run_folder(run, model, data, overwrite=overwrite, same=same)
        if existing and existing.get("status") == "complete" and run.predictions_file.exists():
            notify(f"{run.path}: run already complete; recomputing metrics from stored predictions")
            run.clear_parts()  # left by a run killed just before it tidied up
            return finish_run(run)
        if existing:
            refuse_changed_prediction_options(run, existing, options)
        info = existing or {"created": now()}
        info.update(
            status="running",
            model={"spec": model},
            data=dataset.describe(),
            options={k: v for k, v in vars(options).items() if k != "progress"},
            model_options=recorded,
            preprocessing_overrides=overrides,
        )
        run.write_run(info)

        load_start = time.perf_counter()
        context = {"dataset": dataset, "device": options.device, "batch_size": options.batch_size}
        context.update(workers=options.workers, progress=options.progress)
        loaded = create_model(
            model, options={**(model_options or {}), **context}, preprocessing=preprocessing
        )
        for line in loaded.details.get("summary", []):
            notify(line)
        load_seconds = time.perf_counter() - load_start
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
            finished=now(),
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
        notify(f"{len(result.skipped)} unreadable images skipped (listed in {run.run_json})")
    return metrics


def store_predictions(
    predictions: Predictions,
    dataset: Dataset,
    out: Path,
    *,
    model: str,
    source: dict[str, str] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Store ``predictions`` of ``model`` on ``dataset`` as a run folder and return its metrics.

    run.json says "importing" until the predictions are stored, so a run cut short (a full disk,
    Ctrl-C) is replaced by the rerun rather than refused. ``source`` names the file they came from.
    """
    run = writable_run(out)
    with run.lock():
        prepare_run_folder(run, model, dataset.spec, overwrite=overwrite)
        info = {
            "created": now(),
            "status": "importing",
            "model": {"spec": model, "family": "imported"},
            "data": dataset.describe(),
            **({"source": source} if source else {}),
            "environment": software_versions(),
            "num_predictions": len(predictions),
        }
        run.write_run(info)
        run.write_predictions(predictions)
        run.write_run({**info, "status": "complete", "finished": now()})
        return finish_run(run, predictions)


def import_run(
    predictions_file: Path,
    data: str,
    out: Path,
    *,
    model_name: str | None = None,
    topk: int = 5,
    allow_missing: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Store predictions made elsewhere (a .npy, .csv or .parquet file) as a run folder."""
    from reassess.store.importers import import_predictions

    dataset = parse_data_spec(data)
    writable_run(out)  # an --out that is a file fails before the predictions are parsed
    predictions = import_predictions(predictions_file, dataset, k=topk, allow_missing=allow_missing)
    return store_predictions(
        predictions,
        dataset,
        out,
        model=model_name or f"imported:{predictions_file.name}",
        source={"file": str(predictions_file), "sha256": file_sha256(predictions_file)},
        overwrite=overwrite,
    )
