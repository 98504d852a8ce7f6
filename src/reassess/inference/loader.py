"""Model crops for inference: the model's resize and crop as uint8 arrays, normalised later.

Decoding files into images lives in :mod:`reassess.datasets.decoding`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image


def crop_transform(data_config: dict) -> Callable[[Image.Image], np.ndarray]:
    """PIL image -> uint8 (H, W, 3) crop: the model's resize and crop, without normalisation.

    The resize/crop steps are timm's own eval transform (``create_transform(...,
    use_prefetcher=True)``) so crops match what timm's ``validate.py`` feeds a model; converting to
    float and normalising happen later, on the device, after the preprocessing cache.
    """
    from timm.data import create_transform
    from torchvision import transforms

    pipeline = create_transform(**data_config, is_training=False, use_prefetcher=True)
    steps = [s for s in pipeline.transforms if "ToTensor" not in type(s).__name__]
    return _PILToArray(transforms.Compose(steps))


class _PILToArray:
    """Apply PIL steps, then return the image as a C-contiguous uint8 HWC array."""

    def __init__(self, steps: Callable) -> None:
        self.steps = steps

    def __call__(self, image: Image.Image) -> np.ndarray:
        return np.array(self.steps(image), dtype=np.uint8, order="C")  # a writable copy
