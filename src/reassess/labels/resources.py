"""Paths to the label data shipped inside the package (see NOTICE for sources and licenses)."""

from __future__ import annotations

import gzip
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any


def data_file(name: str) -> Path:
    """Path of a shipped data file in ``reassess/labels/data``."""
    path = Path(str(resources.files("reassess.labels") / "data" / name))
    if not path.exists():
        raise FileNotFoundError(f"{path}: shipped data file is missing; reinstall reassess")
    return path


def load_json(name: str) -> Any:
    """Load a shipped JSON file, gzip-compressed when its name ends in ``.gz``."""
    path = data_file(name)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
