"""The built-in ``samples`` dataset: real photos shipped in installed packages, labeled by a person."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from reassess.cache import cache_dir
from reassess.datasets.base import Dataset, register_dataset
from reassess.labels.label_sets import LabelSets
from reassess.store.atomic import describe_os_error


def _samples_folder() -> Path:
    """Where the photos are written: the reassess cache, or a temporary folder if it is read-only."""
    try:
        folder = cache_dir("samples")
        if os.access(folder, os.W_OK):
            return folder
        reason = f"{folder}: not writable"
    except OSError as exc:
        reason = describe_os_error(exc)
    fallback = Path(tempfile.gettempdir()) / "reassess-samples"
    warnings.warn(
        f"reassess cache unusable ({reason}); sample photos go to {fallback}", stacklevel=2
    )
    return fallback


@register_dataset(
    "samples",
    help="built-in real photos from scikit-image, scikit-learn and matplotlib (offline)",
    example="samples",
)
def build_samples(root: Path | None, spec: str) -> Dataset:
    from reassess.datasets.samples import materialize_samples

    root = root or _samples_folder()
    rows = materialize_samples(root)
    ids = [r[0] for r in rows]
    valid = LabelSets.from_lists("valid_labels", ids, [r[3] for r in rows])
    return Dataset(
        "samples",
        spec,
        sample_ids=np.array(ids, dtype=object),
        labels=np.array([r[2] for r in rows], dtype=np.int32),
        paths=[r[1] for r in rows],
        root=root,
        label_set_loaders={"valid_labels": lambda: valid},
    )
