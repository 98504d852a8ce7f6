"""Image decoding for inference: worker processes decode, bad files are skipped and named."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image

# Decoding errors that mean "this file is not a usable image" (not a bug in reassess).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def load_rgb(path: Path) -> Image.Image:
    """Open any image PIL can read (JPEG, CMYK JPEG, grayscale, PNG named .JPEG) as RGB.

    PIL identifies the format from the file's content, not its extension; palette and alpha
    images are flattened, CMYK and grayscale converted. Truncated files raise ``OSError``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. "Corrupt EXIF data"
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")


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
    """Stack decoded images; return failed positions with their errors separately."""
    import torch

    good = [(x, i) for x, i, _ in batch if x is not None]
    failed = [(i, err) for x, i, err in batch if x is None]
    images = torch.stack([x for x, _ in good]) if good else None
    positions = torch.tensor([i for _, i in good], dtype=torch.long)
    return images, positions, failed
