"""How the review app serves images: the formats browsers show, and PNG for the rest.

Finding an image under ``--images`` (and refusing anything outside it) is
:class:`reassess.datasets.image_files.ImageResolver`.
"""

from __future__ import annotations

from pathlib import Path

from reassess.datasets.image_files import ImageResolver, contained

__all__ = ["ImageResolver", "contained", "media_type", "to_png", "WEB_FORMATS"]

# Formats every browser shows; anything else (TIFF, ...) is converted to PNG before serving.
WEB_FORMATS = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
}


def media_type(path: Path) -> str | None:
    """The MIME type to serve ``path`` as, or None when it must be converted first."""
    return WEB_FORMATS.get(path.suffix.lower())


def to_png(path: Path) -> bytes:
    """An image a browser cannot show (TIFF, ...) re-encoded as PNG."""
    import io

    from PIL import Image

    with Image.open(path) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()
