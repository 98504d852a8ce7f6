"""Decode image files into RGB images and tensors: worker processes decode, bad files are named.

Used before any model sees a pixel (inference, the zero-shot prompt weighting, the CLIP check of
``analyze``): a file PIL cannot read is reported with its error and skipped, never fatal.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

# Decoding errors that mean "this file is not a usable image" (not a bug in reassess).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def load_rgb(path: Path) -> Image.Image:
    """Open any image PIL can read (JPEG, CMYK JPEG, grayscale, 16-bit PNG, PNG named .JPEG) as RGB.

    PIL identifies the format from the file's content, not its extension; palette and alpha
    images are flattened, CMYK and grayscale converted. Truncated files raise ``OSError``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. "Corrupt EXIF data"
        with Image.open(path) as image:
            image.load()
            if image.mode.startswith("I") or image.mode == "F":
                image = _high_depth_to_gray8(image)
            return image.convert("RGB")


def _high_depth_to_gray8(image: Image.Image) -> Image.Image:
    """16-bit (and 32-bit int/float) grayscale as 8-bit: PIL's own convert clips it to white.

    16-bit images (``I;16*`` modes, or ``I`` holding values above 255) keep their top 8 bits;
    float images in [0, 1] are scaled to 255. Everything else is clipped to 0..255.
    """
    values = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16") or (image.mode == "I" and values.max(initial=0) > 255):
        values = values / 257.0  # 65535 -> 255
    elif image.mode == "F" and values.max(initial=0) <= 1.0:
        values = values * 255.0
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))


class ImageFiles:
    """A map-style torch dataset: position -> (tensor or None, position, error message)."""

    def __init__(self, paths: Sequence[Path], transform: Callable) -> None:
        self.paths = list(paths)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, position: int):
        try:
            return self.transform(load_rgb(self.paths[position])), position, ""
        except DECODE_ERRORS as exc:
            return None, position, f"{type(exc).__name__}: {exc}"


def collate_skipping_failures(batch):
    """Stack decoded images (tensors, or uint8 crop arrays); failed positions with errors apart."""
    import torch

    good = [(x, i) for x, i, _ in batch if x is not None]
    failed = [(i, err) for x, i, err in batch if x is None]
    images = None
    if good and isinstance(good[0][0], np.ndarray):
        images = torch.from_numpy(np.stack([x for x, _ in good]))
    elif good:
        images = torch.stack([x for x, _ in good])
    positions = torch.tensor([i for _, i in good], dtype=torch.long)
    return images, positions, failed
