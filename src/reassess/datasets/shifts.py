"""Distribution-shift test sets: ImageNet-A, ImageNet-R, ImageNet-Sketch and ObjectNet.

Each reader takes the folder layout the dataset is distributed in and fails with a one-line
message naming the expected layout otherwise:

- ``imagenet-a:/data/imagenet-a``: ``<wnid>/<image>`` for ImageNet-A's 200 classes
  (Hendrycks et al. 2021, "Natural Adversarial Examples"; the tarball's README.txt is ignored).
- ``imagenet-r:/data/imagenet-r``: ``<wnid>/<image>`` for ImageNet-R's 200 classes
  (Hendrycks et al. 2021, "The Many Faces of Robustness").
- ``imagenet-sketch:/data/sketch``: ``<wnid>/<image>`` for all 1000 classes (Wang et al. 2019);
  the folder may also be the one that holds ``sketch/``.
- ``objectnet:/data/objectnet-1.0``: ``images/<objectnet folder>/<image>`` (or the ``images``
  folder itself). Only the 113 ObjectNet classes that overlap ImageNet are kept, as the
  literature does (Barbu et al. 2019); images of the other 200 ObjectNet classes are skipped.

Scoring on a class subset. ImageNet-A and -R cover 200 classes and ObjectNet's overlap 125
ImageNet classes, so ``Dataset.class_subset`` holds those ImageNet indices and a model's
prediction is its argmax among them (the published protocol). The inference runner masks the
other logits before ranking (:meth:`Dataset.restrict_scores`) and the metrics recompute top-k
among the scored classes for runs made elsewhere, from the class map each family registers
(:func:`reassess.datasets.base.scoring_class_map`).
ObjectNet maps several ImageNet classes to one ObjectNet class (e.g. "Alarm clock" = analog or
digital clock): a sample's label is the smallest ImageNet index of its ObjectNet class and any
ImageNet class of that group counts as correct, as in imagenet-testbed's ObjectNet metric.

The class lists are shipped in ``labels/data/shift_classes.json``, built by
``scripts/build_shift_classes.py`` from the datasets' own code (sources and commits inside).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from reassess.datasets.base import Dataset, DataSpecError, register_dataset, walk_images
from reassess.labels.imagenet import NUM_CLASSES, imagenet_classes
from reassess.labels.resources import load_json


@lru_cache(maxsize=1)
def _shift_classes() -> dict:
    return load_json("shift_classes.json")


def imagenet_a_classes() -> np.ndarray:
    """ImageNet indices of ImageNet-A's 200 classes, ascending."""
    return np.array(_shift_classes()["imagenet-a"]["indices"], dtype=np.int64)


def imagenet_r_classes() -> np.ndarray:
    """ImageNet indices of ImageNet-R's 200 classes, ascending."""
    return np.array(_shift_classes()["imagenet-r"]["indices"], dtype=np.int64)


@dataclass(frozen=True)
class ObjectNetClass:
    """One ObjectNet class that overlaps ImageNet: its folder, name and ImageNet indices."""

    folder: str
    name: str
    imagenet: tuple[int, ...]

    @property
    def label(self) -> int:
        """The ImageNet index that stands for this class in labels (the smallest of the group)."""
        return min(self.imagenet)


@lru_cache(maxsize=1)
def objectnet_classes() -> dict[str, ObjectNetClass]:
    """The 113 ObjectNet classes with ImageNet counterparts, keyed by ObjectNet folder name."""
    return {
        c["folder"]: ObjectNetClass(c["folder"], c["name"], tuple(c["imagenet"]))
        for c in _shift_classes()["objectnet"]
    }


def objectnet_class_subset() -> np.ndarray:
    """The 125 ImageNet indices that map to one of ObjectNet's 113 overlapping classes."""
    return np.array(
        sorted({i for c in objectnet_classes().values() for i in c.imagenet}), dtype=np.int64
    )


def subset_class_map(class_subset: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Class map that scores ``class_subset`` as themselves and ignores every other class (-1)."""
    class_map = np.full(num_classes, -1, dtype=np.int64)
    subset = np.asarray(class_subset, dtype=np.int64)
    class_map[subset] = subset
    return class_map


def objectnet_class_map() -> np.ndarray:
    """Class map sending each ImageNet class of an ObjectNet group to the group's label, else -1."""
    class_map = np.full(NUM_CLASSES, -1, dtype=np.int64)
    for c in objectnet_classes().values():
        class_map[list(c.imagenet)] = c.label
    return class_map


def _class_folders(
    root: Path, *, title: str, layout: str, class_of: dict[str, int], skip=frozenset()
) -> tuple[list[str], list[int], list[Path]]:
    """Images in ``<root>/<class folder>/<image>``; folders outside ``class_of`` are an error."""
    ids: list[str] = []
    labels: list[int] = []
    paths: list[Path] = []
    unknown: set[str] = set()
    loose: list[str] = []
    for path in walk_images(root):
        rel = path.relative_to(root)
        if len(rel.parts) != 2:
            loose.append(rel.as_posix())
            continue
        folder = rel.parts[0]
        if folder in skip:
            continue
        label = class_of.get(folder)
        if label is None:
            unknown.add(folder)
            continue
        ids.append(rel.as_posix())
        labels.append(label)
        paths.append(path)
    if unknown:
        raise DataSpecError(
            f"{root}: folders {sorted(unknown)[:3]} are not {title} classes (expected {layout})"
        )
    if loose:
        raise DataSpecError(f"{root}: found {loose[0]}, expected the {title} layout {layout}")
    if not ids:
        raise DataSpecError(f"{root}: no images found; expected the {title} layout {layout}")
    return ids, labels, paths


def _dataset(name: str, spec: str, root: Path, found, class_subset: np.ndarray | None) -> Dataset:
    ids, labels, paths = found
    return Dataset(
        name,
        spec,
        sample_ids=np.array(ids, dtype=object),
        labels=np.array(labels, dtype=np.int32),
        paths=paths,
        root=root,
        class_subset=class_subset,
    )


def _wnid_subset_dataset(name: str, title: str, subset: np.ndarray, root: Path, spec: str):
    classes = imagenet_classes()
    class_of = {classes.wnids[i]: int(i) for i in subset}
    layout = (
        f"<wnid>/<image> with the {len(subset)} {title} wnids (e.g. {classes.wnids[subset[0]]})"
    )
    found = _class_folders(root, title=title, layout=layout, class_of=class_of)
    return _dataset(name, spec, root, found, np.asarray(subset, dtype=np.int64))


@register_dataset(
    "imagenet-a",
    help="ImageNet-A: <wnid>/<image> for its 200 classes, scored among those 200",
    example="imagenet-a:/data/imagenet-a",
    needs_path=True,
    class_map=lambda: subset_class_map(imagenet_a_classes()),
)
def build_imagenet_a(root: Path | None, spec: str) -> Dataset:
    assert root is not None
    return _wnid_subset_dataset("imagenet-a", "ImageNet-A", imagenet_a_classes(), root, spec)


@register_dataset(
    "imagenet-r",
    help="ImageNet-R: <wnid>/<image> for its 200 classes, scored among those 200",
    example="imagenet-r:/data/imagenet-r",
    needs_path=True,
    class_map=lambda: subset_class_map(imagenet_r_classes()),
)
def build_imagenet_r(root: Path | None, spec: str) -> Dataset:
    assert root is not None
    return _wnid_subset_dataset("imagenet-r", "ImageNet-R", imagenet_r_classes(), root, spec)


@register_dataset(
    "imagenet-sketch",
    help="ImageNet-Sketch: <wnid>/<image> for the 1000 classes",
    example="imagenet-sketch:/data/imagenet-sketch/sketch",
    needs_path=True,
)
def build_imagenet_sketch(root: Path | None, spec: str) -> Dataset:
    assert root is not None
    classes = imagenet_classes()
    if (root / "sketch").is_dir() and not (root / classes.wnids[0]).is_dir():
        root = root / "sketch"
    class_of = {w: i for i, w in enumerate(classes.wnids)}
    layout = "<wnid>/<image> (e.g. n01440764/n01440764_1.JPEG)"
    found = _class_folders(root, title="ImageNet-Sketch", layout=layout, class_of=class_of)
    return _dataset("imagenet-sketch", spec, root, found, None)


@register_dataset(
    "objectnet",
    help="ObjectNet: images/<objectnet folder>/<image>; its 113 ImageNet classes are scored",
    example="objectnet:/data/objectnet-1.0",
    needs_path=True,
    class_map=objectnet_class_map,
)
def build_objectnet(root: Path | None, spec: str) -> Dataset:
    assert root is not None
    if (root / "images").is_dir():
        root = root / "images"
    overlap = objectnet_classes()
    others = frozenset(_shift_classes()["objectnet_all_folders"]) - overlap.keys()
    class_of = {folder: c.label for folder, c in overlap.items()}
    layout = "images/<objectnet folder>/<image> (e.g. images/alarm_clock/<hash>.png)"
    found = _class_folders(root, title="ObjectNet", layout=layout, class_of=class_of, skip=others)
    return _dataset("objectnet", spec, root, found, objectnet_class_subset())
