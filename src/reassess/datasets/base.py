"""What a dataset is to reassess: sample ids, image paths, single labels, extra label sets.

A data spec names a registered dataset family and, optionally, where its images are:
``imagenet-val:/data/val``. Without a path a family gives its index only (ids and labels from the
shipped metadata), which is what ``reassess import`` needs to check and join a predictions file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reassess.labels.label_sets import LabelSets

IMAGE_EXTENSIONS = frozenset({".jpeg", ".jpg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})


class DataSpecError(ValueError):
    """A data spec or data folder that reassess cannot use."""


@dataclass
class Dataset:
    """Samples of one evaluation set, in a fixed canonical order.

    ``labels`` holds the single label of each sample (-1 where unknown). ``paths`` is None for an
    index-only dataset. ``label_set_loaders`` maps a label-set name (``real``, ...) to a function that
    loads it; :meth:`label_sets` aligns them to this dataset's samples.
    """

    name: str
    spec: str
    sample_ids: np.ndarray
    labels: np.ndarray
    paths: list[Path] | None = None
    root: Path | None = None
    num_classes: int = 1000
    class_subset: np.ndarray | None = None
    label_set_loaders: dict[str, Callable[[], LabelSets]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sample_ids)

    @property
    def has_images(self) -> bool:
        return self.paths is not None

    def label_sets(self, names: list[str] | None = None) -> dict[str, LabelSets]:
        """Label sets that apply to this dataset, aligned to its sample order."""
        wanted = (
            self.label_set_loaders
            if names is None
            else {n: self.label_set_loaders[n] for n in names}
        )
        return {name: load().align(self.sample_ids.tolist()) for name, load in wanted.items()}

    def describe(self) -> dict:
        return {
            "name": self.name,
            "spec": self.spec,
            "root": str(self.root) if self.root else None,
            "num_samples": len(self),
            "label_sets": sorted(self.label_set_loaders),
        }


@dataclass(frozen=True)
class DatasetFamily:
    name: str
    build: Callable[[Path | None, str], Dataset]
    help: str
    example: str
    needs_path: bool = False


_FAMILIES: dict[str, DatasetFamily] = {}


def register_dataset(name: str, *, help: str, example: str, needs_path: bool = False):
    """Decorator registering ``build(root_or_None, spec) -> Dataset`` under a spec prefix."""

    def decorate(build: Callable[[Path | None, str], Dataset]):
        _FAMILIES[name] = DatasetFamily(name, build, help, example, needs_path)
        return build

    return decorate


def dataset_families() -> dict[str, DatasetFamily]:
    _load_builtin_families()
    return dict(_FAMILIES)


def _load_builtin_families() -> None:
    from reassess.datasets import imagenet, samples_dataset, shifts  # noqa: F401  (registers families)


def accepted_specs() -> str:
    return "; ".join(f"{f.example} ({f.help})" for f in dataset_families().values())


def parse_data_spec(spec: str) -> Dataset:
    """Build the dataset a spec names, e.g. ``imagenet-val:/data/val`` or ``samples``."""
    families = dataset_families()
    name, _, path = spec.partition(":")
    family = families.get(name)
    if family is None:
        raise DataSpecError(f"unknown data spec {spec!r}; accepted: {accepted_specs()}")
    root = Path(path).expanduser() if path else None
    if root is None and family.needs_path:
        raise DataSpecError(f"data spec {spec!r} needs a folder: {family.example}")
    if root is not None and not root.is_dir():
        raise DataSpecError(f"{root}: no such folder (from data spec {spec!r})")
    return family.build(root, spec)


def walk_images(root: Path) -> Iterator[Path]:
    """Every image file below ``root`` (by extension, case-insensitive), in sorted order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in sorted(filenames):
            if os.path.splitext(fname)[1].lower() in IMAGE_EXTENSIONS:
                yield Path(dirpath) / fname
