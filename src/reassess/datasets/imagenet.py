"""ImageNet-1k validation, ImageNetV2 and generic class folders."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from reassess.datasets.base import Dataset, DataSpecError, register_dataset, walk_images
from reassess.labels.imagenet import imagenet_classes
from reassess.labels.label_sets import LabelSets
from reassess.labels.resources import data_file, load_json

VAL_SIZE = 50_000
_VAL_NAME = re.compile(r"^ILSVRC2012_val_(\d{8})\.(jpe?g|png)$", re.IGNORECASE)


def val_file_name(index: int) -> str:
    """File name of the i-th (0-based) ImageNet val image, e.g. ``ILSVRC2012_val_00000001.JPEG``."""
    return f"ILSVRC2012_val_{index + 1:08d}.JPEG"


@lru_cache(maxsize=1)
def val_file_names() -> np.ndarray:
    return np.array([val_file_name(i) for i in range(VAL_SIZE)], dtype=object)


@lru_cache(maxsize=1)
def _val_positions() -> dict[str, int]:
    return {name: i for i, name in enumerate(val_file_names().tolist())}


def val_index(sample_ids: np.ndarray) -> np.ndarray:
    """0-based val position of each sample id that is a val file name (``-1`` for any other id)."""
    position = _val_positions()
    ids = np.asarray(sample_ids, dtype=object).tolist()
    return np.fromiter((position.get(s, -1) for s in ids), dtype=np.int64, count=len(ids))


@lru_cache(maxsize=1)
def val_labels() -> np.ndarray:
    """Original single labels of the 50,000 val images in val file order."""
    return np.load(data_file("imagenet_val_labels.npy")).astype(np.int32)


@lru_cache(maxsize=1)
def real_label_sets() -> LabelSets:
    """ReaL labels (Beyer et al. 2020, "Are we done with ImageNet?") keyed by val file name."""
    return LabelSets.from_lists("real", val_file_names().tolist(), load_json("real.json.gz"))


@register_dataset(
    "imagenet-val",
    help="the 50,000 ILSVRC2012_val_*.JPEG files, flat or in wnid folders",
    example="imagenet-val:/data/imagenet/val",
)
def build_imagenet_val(root: Path | None, spec: str) -> Dataset:
    labels = val_labels()
    loaders = {"real": real_label_sets}
    if root is None:
        return Dataset("imagenet-val", spec, val_file_names(), labels, label_set_loaders=loaders)
    found: dict[int, Path] = {}
    for path in walk_images(root):
        match = _VAL_NAME.match(path.name)
        if match:
            found.setdefault(int(match.group(1)) - 1, path)
    found = {i: p for i, p in found.items() if i < VAL_SIZE}
    if not found:
        raise DataSpecError(
            f"{root}: no ILSVRC2012_val_XXXXXXXX.JPEG images found (expected the ImageNet val "
            "files, flat or in wnid sub-folders)"
        )
    order = np.array(sorted(found), dtype=np.int64)
    return Dataset(
        "imagenet-val",
        spec,
        sample_ids=np.array([val_file_name(i) for i in order], dtype=object),
        labels=labels[order],
        paths=[found[i] for i in order],
        root=root,
        label_set_loaders=loaders,
    )


def _class_of_folder(folder: str) -> int | None:
    classes = imagenet_classes()
    if folder.isdigit() and int(folder) < len(classes):
        return int(folder)
    try:
        return classes.index_of(folder)
    except KeyError:
        return None


@register_dataset(
    "folder",
    help="ImageFolder: one sub-folder per class, named by wnid or class index",
    example="folder:/data/my-images",
    needs_path=True,
)
def build_folder(root: Path | None, spec: str) -> Dataset:
    assert root is not None
    ids, labels, paths, unknown = [], [], [], set()
    for path in walk_images(root):
        rel = path.relative_to(root)
        if len(rel.parts) < 2:
            continue
        label = _class_of_folder(rel.parts[0])
        if label is None:
            unknown.add(rel.parts[0])
            continue
        ids.append(rel.as_posix())
        labels.append(label)
        paths.append(path)
    if unknown:
        raise DataSpecError(
            f"{root}: sub-folders {sorted(unknown)[:5]} are neither ImageNet wnids (n01440764) nor "
            "class indices 0..999"
        )
    if not ids:
        raise DataSpecError(
            f"{root}: no images in class sub-folders (expected <wnid or index>/<image>)"
        )
    return Dataset(
        "folder", spec, np.array(ids, dtype=object), np.array(labels, dtype=np.int32), paths, root
    )


IMAGENETV2_VARIANTS = {
    "matched-frequency": "imagenetv2_matched-frequency.parquet",
    "threshold-0.7": "imagenetv2_threshold-0.7.parquet",
    "top-images": "imagenetv2_top-images.parquet",
}


@lru_cache(maxsize=3)
def imagenetv2_index(variant: str) -> tuple[np.ndarray, np.ndarray]:
    """Sample ids (``<sha1>.jpeg``) and labels of an ImageNetV2 variant, from its sampling file."""
    import pyarrow.parquet as pq

    table = pq.read_table(data_file(IMAGENETV2_VARIANTS[variant]))
    ids = np.array([f"{s}.jpeg" for s in table.column("sha1").to_pylist()], dtype=object)
    return ids, table.column("label").to_numpy().astype(np.int32)


@lru_cache(maxsize=1)
def imagenetv2_multilabel_sets() -> LabelSets:
    """ImageNetV2 MatchedFrequency multi-labels ("Re-assessing ImageNet"), keyed by ``<sha1>.jpeg``."""
    refined = load_json("imagenetv2_multilabels.json.gz")
    return LabelSets.from_lists("imagenetv2_multilabel", list(refined), refined.values())


def _build_imagenetv2(variant: str, root: Path | None, spec: str) -> Dataset:
    index_ids, index_labels = imagenetv2_index(variant)
    loaders = {"multilabel": imagenetv2_multilabel_sets} if variant == "matched-frequency" else {}
    name = f"imagenetv2-{variant}"
    if root is None:
        return Dataset(name, spec, index_ids, index_labels, label_set_loaders=loaders)
    label_of = dict(zip(index_ids.tolist(), index_labels.tolist(), strict=True))
    ids, labels, paths, bad = [], [], [], []
    for path in walk_images(root):
        rel = path.relative_to(root)
        if len(rel.parts) != 2 or not rel.parts[0].isdigit():
            bad.append(rel.as_posix())
            continue
        folder_label = int(rel.parts[0])
        expected = label_of.get(path.name)
        if expected is not None and expected != folder_label:
            raise DataSpecError(
                f"{path}: in folder {folder_label} but ImageNetV2 {variant} labels it {expected}"
            )
        ids.append(path.name)
        labels.append(folder_label)
        paths.append(path)
    if bad or not ids:
        raise DataSpecError(
            f"{root}: expected the ImageNetV2 layout <class index 0..999>/<sha1>.jpeg"
            + (f"; found {bad[0]}" if bad else "; found no images")
        )
    return Dataset(
        name,
        spec,
        np.array(ids, dtype=object),
        np.array(labels, dtype=np.int32),
        paths,
        root,
        label_set_loaders=loaders,
    )


@register_dataset(
    "imagenetv2",
    help="ImageNetV2 MatchedFrequency: <class index>/<sha1>.jpeg",
    example="imagenetv2:/data/imagenetv2-matched-frequency-format-val",
)
def build_imagenetv2(root: Path | None, spec: str) -> Dataset:
    return _build_imagenetv2("matched-frequency", root, spec)


@register_dataset(
    "imagenetv2-threshold-0.7",
    help="ImageNetV2 Threshold0.7, same layout",
    example="imagenetv2-threshold-0.7:/data/imagenetv2-threshold0.7-format-val",
)
def build_imagenetv2_threshold(root: Path | None, spec: str) -> Dataset:
    return _build_imagenetv2("threshold-0.7", root, spec)


@register_dataset(
    "imagenetv2-top-images",
    help="ImageNetV2 TopImages, same layout",
    example="imagenetv2-top-images:/data/imagenetv2-top-images-format-val",
)
def build_imagenetv2_top(root: Path | None, spec: str) -> Dataset:
    return _build_imagenetv2("top-images", root, spec)
