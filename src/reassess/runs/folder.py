"""Preparing a run folder for a writer: resume it, replace it, or refuse with one line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from reassess.runs.errors import RunError
from reassess.store.run import RunDir


def now() -> str:
    """The current UTC time as run.json records it."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def writable_run(out: Path) -> RunDir:
    """The run folder ``out`` names; an error if it is a file."""
    run = RunDir(out)
    if run.path.exists() and not run.path.is_dir():
        raise RunError(f"{run.path}: is a file; --out names the run folder to create")
    return run


def prepare_run_folder(
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
        raise RunError(f"{run.path}: folder exists and is not a reassess run; choose another --out")
    info = run.read_run()
    wanted = {"model": model, "data": data, **(same or {})}
    held = {
        "model": info["model"]["spec"],
        "data": info["data"]["spec"],
        **{key: info.get(key, {}) for key in same or {}},
    }
    if overwrite or (held != wanted and not run.stored_predictions()):
        run.clear()
        return None
    if held != wanted:
        also = [
            f"{key.replace('_', ' ')} {held[key]}" for key in same or {} if held[key] != wanted[key]
        ]
        raise RunError(
            f"{run.path}: holds a run of {held['model']} on {held['data']}"
            + (f" with {', '.join(also)}" if also else "")
            + "; use another --out, or --overwrite to replace it"
        )
    return dict(info)


def refuse_changed_prediction_options(run: RunDir, info: dict[str, Any], options: Any) -> None:
    """Resuming with another --topk/--keep-logits/--precision would mix rows: say so up front."""
    from reassess.inference.runner import PREDICTION_OPTIONS

    if info.get("status") == "complete" or not run.stored_predictions():
        return
    stored = info.get("options", {})
    for field, flag in PREDICTION_OPTIONS.items():
        if field in stored and stored[field] != getattr(options, field):
            raise RunError(
                f"{run.path}: was started with {flag} {stored[field]}; rerun with {flag} "
                f"{stored[field]} to resume it, or add --overwrite to start again"
            )
