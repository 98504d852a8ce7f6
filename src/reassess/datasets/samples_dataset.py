"""The built-in ``samples`` dataset: real photos shipped in installed packages, labeled by a person."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reassess.cache import cache_dir
from reassess.datasets.base import Dataset, register_dataset
from reassess.labels.label_sets import LabelSets


@register_dataset(
    "samples",
    help="built-in real photos from scikit-image, scikit-learn and matplotlib (offline)",
    example="samples",
)
def build_samples(root: Path | None, spec: str) -> Dataset:
    from reassess.datasets.samples import materialize_samples

    rows = materialize_samples(root or cache_dir("samples"))
    ids = [r[0] for r in rows]
    valid = LabelSets.from_lists("valid_labels", ids, [r[3] for r in rows])
    return Dataset(
        "samples",
        spec,
        sample_ids=np.array(ids, dtype=object),
        labels=np.array([r[2] for r in rows], dtype=np.int32),
        paths=[r[1] for r in rows],
        root=root or cache_dir("samples"),
        label_set_loaders={"valid_labels": lambda: valid},
    )
