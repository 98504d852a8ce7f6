"""Finding a run's images on disk and turning them into small embedded JPEG thumbnails."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from reassess.datasets.base import walk_images

THUMBNAIL_SIZE = 176


class ImageFinder:
    """Locates an image by sample id under a root: ``root/sample_id``, else by file name anywhere.

    Sample ids are paths relative to the data root (``folder``, ``samples``) or bare file names
    (ImageNet val ``ILSVRC2012_val_00000001.JPEG``, which may sit in class folders, and ImageNetV2
    ``<sha1>.jpeg`` under ``<class>/``). The walk by file name happens once, on the first miss.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._by_name: dict[str, Path] | None = None

    def find(self, sample_id: str) -> Path | None:
        """The image file of ``sample_id``, or None when it is not under the root."""
        direct = self.root / sample_id
        if direct.is_file() and direct.resolve().is_relative_to(self.root.resolve()):
            return direct
        if self._by_name is None:
            self._by_name = {}
            for path in walk_images(self.root):
                self._by_name.setdefault(path.name, path)
        return self._by_name.get(Path(sample_id).name)


def thumbnail_uri(path: Path, size: int = THUMBNAIL_SIZE) -> str | None:
    """A base64 JPEG ``data:`` URI of the image shrunk to fit ``size`` pixels; None if unreadable."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size * 2, size * 2))
            image = ImageOps.exif_transpose(image)
            image = image.convert("RGB")
            image.thumbnail((size, size), Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=82, optimize=True)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
