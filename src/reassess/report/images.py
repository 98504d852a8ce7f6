"""Small embedded JPEG thumbnails of a run's images.

The images are looked up by :class:`reassess.datasets.image_files.ImageResolver`, as in the review
app, so nothing outside ``--images`` (through ``..`` or a symlink) is ever embedded.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

THUMBNAIL_SIZE = 176


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
