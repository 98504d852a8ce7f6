"""What a zoo runs: model specs from a file, data specs, and one run folder per (model, data) pair.

Run folders are ``RUNS/<data>/<model>/`` with names derived from the specs alone, so rerunning the
same zoo finds the same folders: complete runs are skipped, interrupted ones resume.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from reassess.store.run import RunDir

_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]+")


@dataclass(frozen=True)
class Pair:
    """One evaluation of a zoo: ``model`` on ``data`` into the run folder ``out``."""

    model: str
    data: str
    out: str

    @property
    def run(self) -> RunDir:
        return RunDir(self.out)

    def is_complete(self) -> bool:
        """True when the run folder already holds a finished run of this model and data."""
        run = self.run
        if not (run.exists() and run.predictions_file.exists() and run.metrics_file.exists()):
            return False
        try:
            info = run.read_run()
        except ValueError:
            return False
        return (
            info.get("status") == "complete"
            and info.get("model", {}).get("spec") == self.model
            and info.get("data", {}).get("spec") == self.data
        )


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def model_folder_name(spec: str) -> str:
    """A file-system-safe, stable folder name for a model spec.

    ``lite0`` -> ``lite0``; ``timm:resnet50.a1_in1k`` -> ``timm_resnet50.a1_in1k``; a checkpoint
    path keeps only its stem plus a hash of the whole spec: ``timm_resnet50@ckpt-1a2b3c4d``.
    """
    name, at, checkpoint = spec.partition("@")
    folder = _UNSAFE.sub("_", name).strip("_")
    if at:
        folder += "@" + _UNSAFE.sub("_", Path(checkpoint).stem).strip("_")
    plain = spec.replace(":", "_", 1)
    if at or _UNSAFE.sub("_", plain) != plain:  # lossy: keep distinct specs apart
        folder += "-" + _short_hash(spec)
    return folder


def data_folder_name(spec: str) -> str:
    """A stable folder name for a data spec: family, folder name and a hash of the full path."""
    family, _, path = spec.partition(":")
    if not path:
        return _UNSAFE.sub("_", family)
    stem = _UNSAFE.sub("_", Path(path).name or "root").strip("_")
    return f"{_UNSAFE.sub('_', family)}_{stem}-{_short_hash(spec)}"


def read_models_file(path: Path) -> list[str]:
    """Model specs from a text file: one per line; blank lines and ``#`` comments are ignored.

    Every spec's family is checked here, so a typo fails at once, naming the file and line;
    whether a model actually loads (weights, checkpoint) is found out when its pairs run.
    """
    from reassess.models.registry import (
        ModelSpecError,
        model_families,
        unknown_model_spec_message,
    )

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: models file not found")
    families = model_families()
    specs: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        spec = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
        if not spec:
            continue
        if spec.partition(":")[0] not in families:
            raise ModelSpecError(f"{path} line {number}: {unknown_model_spec_message(spec)}")
        if spec not in specs:
            specs.append(spec)
    if not specs:
        raise ValueError(f"{path}: no model specs (one per line, # starts a comment)")
    return specs


def plan_pairs(models: list[str], data_specs: list[str], out: Path) -> list[Pair]:
    """Every (model, data) pair with its run folder, datasets outermost, in the given orders."""
    from reassess.datasets.base import DataSpecError, parse_data_spec

    if not data_specs:
        raise ValueError("no --data given")
    for spec in data_specs:
        if not parse_data_spec(spec).has_images:
            raise DataSpecError(f"data spec {spec!r} names no image folder; e.g. folder:/data/x")
    for specs, folder_name in ((models, model_folder_name), (data_specs, data_folder_name)):
        seen: dict[str, str] = {}
        for spec in specs:
            name = folder_name(spec)
            if seen.setdefault(name, spec) != spec:
                raise ValueError(f"{spec!r} and {seen[name]!r} would share the folder {name!r}")
    return [
        Pair(model, data, str(Path(out) / data_folder_name(data) / model_folder_name(model)))
        for data in dict.fromkeys(data_specs)
        for model in models
    ]
