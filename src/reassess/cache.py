"""Where reassess keeps reusable files (sample photos, text embeddings, decoded-image caches)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$REASSESS_CACHE/<parts>`` (default ``~/.cache/reassess``), created on first use."""
    root = Path(os.environ.get("REASSESS_CACHE") or Path.home() / ".cache" / "reassess")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
