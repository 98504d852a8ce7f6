"""Find a sample's image under an images folder, and never anything outside it.

Sample ids are file names (ImageNet val, ImageNetV2) or paths relative to the data root (class
folders). The image of a sample is looked up, in order, at ``ROOT/<sample_id>``,
``ROOT/<wnid of its label>/<sample_id>`` (val files sorted into wnid folders) and finally by file
name anywhere below ``ROOT`` (one walk, done on first need). Every candidate is resolved (symlinks
followed) and accepted only if the resolved file lies inside the resolved root, so sample ids
such as ``../secret.jpg`` or ``/etc/passwd``, and symlinks that point out of the root, are refused.
The review app, the report's thumbnails and the CLIP check of ``analyze`` all look images up here.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from reassess.datasets.base import IMAGE_EXTENSIONS, walk_images


def contained(root: Path, candidate: Path) -> Path | None:
    """``candidate`` resolved, if it is an existing file inside the resolved ``root``; else None."""
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, permission denied, symlink loop
        return None
    if not resolved.is_file() or not resolved.is_relative_to(root):
        return None
    return resolved


class ImageResolver:
    """Maps sample ids to image files below one root folder, refusing paths that leave it."""

    def __init__(self, root: Path | str | None) -> None:
        self.root = Path(root).expanduser().resolve() if root is not None else None
        if self.root is not None and not self.root.is_dir():
            raise FileNotFoundError(f"{root}: no such image folder (from --images)")
        self._by_name: dict[str, Path] | None = None
        self._lock = threading.Lock()

    def _name_index(self) -> dict[str, Path]:
        """File name -> first path with that name below the root (built once, on first need)."""
        with self._lock:
            if self._by_name is None:
                index: dict[str, Path] = {}
                assert self.root is not None
                for path in walk_images(self.root):
                    index.setdefault(path.name, path)
                self._by_name = index
            return self._by_name

    def find(self, sample_id: str, wnid: str | None = None) -> Path | None:
        """The image file of ``sample_id`` inside the root, or None if there is none (or unsafe)."""
        if self.root is None or not sample_id or "\x00" in sample_id:
            return None
        relative = Path(sample_id)
        if relative.is_absolute() or ".." in relative.parts:
            return None
        if os.path.splitext(sample_id)[1].lower() not in IMAGE_EXTENSIONS:
            return None
        candidates = [self.root / relative]
        if wnid:
            candidates.append(self.root / wnid / relative)
        for candidate in candidates:
            found = contained(self.root, candidate)
            if found is not None:
                return found
        by_name = self._name_index().get(relative.name)
        return contained(self.root, by_name) if by_name is not None else None
