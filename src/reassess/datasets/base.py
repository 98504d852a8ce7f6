"""What a dataset is to reassess: sample ids, image paths, single labels, extra label sets.

A data spec names a registered dataset family and, optionally, where its images are:
``imagenet-val:/data/val``. Without a path a family gives its index only (ids and labels from the
shipped metadata), which is what ``reassess import`` needs to check and join a predictions file.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reassess.fsnames import is_utf8_text, printable_name, printable_path
from reassess.labels.imagenet import NUM_CLASSES
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
    num_classes: int = NUM_CLASSES
    class_subset: np.ndarray | None = None
    label_set_loaders: dict[str, Callable[[], LabelSets]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Non-UTF-8 file names become escaped sample ids (parquet and JSON take only UTF-8)."""
        ids = self.sample_ids.tolist()
        bad = [i for i, sid in enumerate(ids) if isinstance(sid, str) and not is_utf8_text(sid)]
        if bad:  # keep the real paths to read; store ids every writer accepts
            self.sample_ids = self.sample_ids.copy()  # it may be a cached index
            for i in bad:
                self.sample_ids[i] = printable_name(ids[i])
            warnings.warn(
                f"{self.root or self.spec}: {len(bad):,} file names are not UTF-8 (e.g. "
                f"{self.sample_ids[bad[0]]}); their sample ids keep the odd bytes as \\x escapes",
                stacklevel=3,
            )

    def __len__(self) -> int:
        return len(self.sample_ids)

    @property
    def has_images(self) -> bool:
        return self.paths is not None

    def restrict_scores(self, scores: np.ndarray) -> np.ndarray:
        """(N, C) scores with every class outside ``class_subset`` set to -inf (never ranked).

        The inference runner applies this before ranking, so the stored top-k and probabilities
        of a class-subset test set are those of the softmax over its classes.

        Examples
        --------
        >>> ds = Dataset("d", "d", np.array(["a"], dtype=object), np.array([1]))
        >>> ds.class_subset = np.array([1, 2])
        >>> ds.restrict_scores(np.array([[3.0, 1.0, 2.0]])).tolist()
        [[-inf, 1.0, 2.0]]
        """
        scores = np.asarray(scores, dtype=np.float32)
        if self.class_subset is None:
            return scores
        out = np.full_like(scores, -np.inf)
        subset = np.asarray(self.class_subset, dtype=np.int64)
        out[:, subset] = scores[:, subset]
        return out

    def label_sets(self, names: list[str] | None = None) -> dict[str, LabelSets]:
        """Label sets that apply to this dataset, aligned to its sample order."""
        wanted = (
            self.label_set_loaders
            if names is None
            else {n: self.label_set_loaders[n] for n in names}
        )
        return {name: load().align(self.sample_ids.tolist()) for name, load in wanted.items()}

    def describe(self) -> dict:
        """What run.json records of the data: name, spec, root, size, label sets, fingerprint."""
        info = {
            "name": self.name,
            "spec": self.spec,
            "root": printable_path(self.root) if self.root else None,
            "num_samples": len(self),
            "label_sets": sorted(self.label_set_loaders),
        }
        if self.paths is not None:
            info["fingerprint"] = self.fingerprint()
        return info

    @functools.cached_property
    def file_stats(self) -> list[tuple[int, int] | OSError]:
        """(size, mtime_ns) of each image file, or why it cannot be stat'ed; read once per dataset
        for both the fingerprint and the preprocessing cache's key."""
        if self.paths is None:
            raise ValueError(f"{self.spec}: no image files to stat")
        stats: list[tuple[int, int] | OSError] = []
        for path in self.paths:
            try:
                stat = os.stat(path)
                stats.append((stat.st_size, stat.st_mtime_ns))
            except OSError as exc:  # a broken link: evaluation skips and names it
                stats.append(exc)
        return stats

    def fingerprint(self) -> str:
        """sha256 over each sample id and its file's size: equal for copies of the same images,
        different for other images under the same names (what ``compare`` checks)."""
        digest = hashlib.sha256()
        for sample_id, stat in zip(self.sample_ids.tolist(), self.file_stats, strict=True):
            size = f"unreadable {stat.errno}" if isinstance(stat, OSError) else str(stat[0])
            digest.update(f"{sample_id}\0{size}\n".encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class DatasetFamily:
    """A registered data spec prefix. ``class_map`` (for test sets scored on a class subset)
    builds the (1000,) map of :func:`scoring_class_map`."""

    name: str
    build: Callable[[Path | None, str], Dataset]
    help: str
    example: str
    needs_path: bool = False
    class_map: Callable[[], np.ndarray] | None = None


_FAMILIES: dict[str, DatasetFamily] = {}


def register_dataset(
    name: str,
    *,
    help: str,
    example: str,
    needs_path: bool = False,
    class_map: Callable[[], np.ndarray] | None = None,
):
    """Decorator registering ``build(root_or_None, spec) -> Dataset`` under a spec prefix.

    A family scored on a class subset (ImageNet-A/-R, ObjectNet) passes its ``class_map``.
    """

    def decorate(build: Callable[[Path | None, str], Dataset]):
        _FAMILIES[name] = DatasetFamily(name, build, help, example, needs_path, class_map)
        return build

    return decorate


def dataset_families() -> dict[str, DatasetFamily]:
    """Every registered family by spec prefix (importing ``reassess.datasets`` registers them)."""
    return dict(_FAMILIES)


def scoring_class_map(data_spec: str) -> np.ndarray | None:
    """How a run on ``data_spec`` is scored: the family's (1000,) class map, or None for all 1000.

    ``class_map[c]`` is the class a prediction of ImageNet class ``c`` counts as, -1 where ``c``
    is not one of the dataset's classes (then it is never predicted: top-k are taken among the
    others). Used by :func:`reassess.metrics.suite.compute_metrics` for runs on class subsets.
    """
    family = dataset_families().get(data_spec.partition(":")[0])
    return family.class_map() if family is not None and family.class_map is not None else None


def accepted_specs() -> str:
    """The registered data spec prefixes, comma-separated and capped for a one-line error."""
    from reassess.suggest import short_list

    return short_list(dataset_families(), more="`reassess eval --help` lists them all")


def unknown_data_spec_message(spec: str) -> str:
    """One line for a spec whose prefix names no dataset: the closest names, then a short list."""
    from reassess.suggest import unknown_name_message

    families = dataset_families()
    return unknown_name_message(
        "data spec",
        spec.partition(":")[0],
        families,
        more="`reassess eval --help` lists them all",
        quoted=repr(spec),
    )


def parse_data_spec(spec: str) -> Dataset:
    """Build the dataset a spec names, e.g. ``imagenet-val:/data/val`` or ``samples``."""
    families = dataset_families()
    name, _, path = spec.partition(":")
    family = families.get(name)
    if family is None:
        raise DataSpecError(unknown_data_spec_message(spec))
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
