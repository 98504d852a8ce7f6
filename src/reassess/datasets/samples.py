"""Real photos shipped inside installed packages, each with the ImageNet-1k labels a person gives it.

The photos come from scikit-image (``skimage.data``), scikit-learn
(``sklearn.datasets.load_sample_image``) and matplotlib (``mpl-data/sample_data``), so the
``samples`` dataset works offline. Licenses, as the packages state them:

- skimage ``astronaut`` (NASA, Eileen Collins) and ``rocket`` (SpaceX, DSCOVR on Falcon 9): public
  domain; ``camera`` (Lav Varshney), ``chelsea`` (Stefan van der Walt) and ``coffee`` (Rachel
  Michetti): CC0 ("no copyright restrictions").
- skimage ``stereo_motorcycle``: left view from the Middlebury 2014 stereo benchmark (Scharstein et
  al., GCPR 2014); skimage's docstring states no license, only that citation.
- sklearn ``china.jpg``: CC BY 2.0, "Some rights reserved by danielbuechele" (stated in
  ``load_sample_images().DESCR`` and ``sklearn/datasets/images/README.txt``, not in the function's
  docstring).
- matplotlib ``grace_hopper.jpg``: official U.S. Navy portrait of Grace Hopper, a U.S. government
  work in the public domain (matplotlib ships it without stating a license).

Left out for lack of a fitting ImageNet class: sklearn ``flower.jpg`` (a pompon dahlia, not a
daisy), skimage ``coins``, ``clock`` (motion-blurred), ``moon``, ``brick``/``grass``/``gravel``
(textures) and the microscopy, medical, text and synthetic images.

Labels are ImageNet-1k class indices chosen by looking at each photo: ``label`` is the single best
class and ``valid`` every class a careful person would accept (ReaL-style), ``label`` included.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

_PACKAGES = {"skimage": "scikit-image", "sklearn": "scikit-learn", "matplotlib": "matplotlib"}


@dataclass(frozen=True)
class SamplePhoto:
    """One built-in photo: its name, where it comes from, its labels and how to load it."""

    name: str
    source: str
    label: int
    valid: tuple[int, ...]
    load: Callable[[], Image.Image]


def _require(module: str, name: str) -> Any:
    """Import ``module`` or fail with one line naming the PyPI package the photo ``name`` needs."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        from reassess.datasets.base import DataSpecError

        package = _PACKAGES[module.split(".")[0]]
        raise DataSpecError(
            f"sample photo {name!r} needs the package {package}: pip install {package}"
        ) from exc


def _from_array(array: Any) -> Image.Image:
    """A PIL RGB image from a uint8 HxW or HxWx3 array."""
    from PIL import Image

    return Image.fromarray(array).convert("RGB")


def _skimage(name: str, function: str) -> Callable[[], Image.Image]:
    """Loader of ``skimage.data.<function>()`` (the first image where it returns a tuple)."""

    def load() -> Image.Image:
        data = _require("skimage.data", name)
        image = getattr(data, function)()
        return _from_array(image[0] if isinstance(image, tuple) else image)

    return load


def _sklearn(name: str, file_name: str) -> Callable[[], Image.Image]:
    """Loader of ``sklearn.datasets.load_sample_image(file_name)``."""

    def load() -> Image.Image:
        datasets = _require("sklearn.datasets", name)
        return _from_array(datasets.load_sample_image(file_name))

    return load


def _matplotlib(name: str, file_name: str) -> Callable[[], Image.Image]:
    """Loader of ``matplotlib.get_data_path()/sample_data/<file_name>``."""

    def load() -> Image.Image:
        from PIL import Image

        matplotlib = _require("matplotlib", name)
        path = Path(matplotlib.get_data_path()) / "sample_data" / file_name
        with Image.open(path) as image:
            return image.convert("RGB")

    return load


SAMPLE_PHOTOS: tuple[SamplePhoto, ...] = (
    # Eileen Collins in an orange flight suit; the only ImageNet object is the shuttle model.
    SamplePhoto(
        "astronaut",
        "scikit-image skimage.data.astronaut()",
        label=812,  # space shuttle
        valid=(812,),
        load=_skimage("astronaut", "astronaut"),
    ),
    # Man filming with a camera on a tripod (grayscale); his overcoat is no trench coat.
    SamplePhoto(
        "camera",
        "scikit-image skimage.data.camera()",
        label=872,  # tripod
        valid=(872,),
        load=_skimage("camera", "camera"),
    ),
    # Close-up of a striped tabby cat.
    SamplePhoto(
        "chelsea",
        "scikit-image skimage.data.chelsea()",
        label=281,  # tabby
        valid=(281, 282, 285),  # tabby, tiger cat, Egyptian cat
        load=_skimage("chelsea", "chelsea"),
    ),
    # Espresso in a small cup on a saucer, with a spoon, on a wooden counter.
    SamplePhoto(
        "coffee",
        "scikit-image skimage.data.coffee()",
        label=967,  # espresso
        valid=(504, 967, 968),  # coffee mug, espresso, cup
        load=_skimage("coffee", "coffee"),
    ),
    # Falcon 9 on the launch pad at dusk, between lightning towers.
    SamplePhoto(
        "rocket",
        "scikit-image skimage.data.rocket()",
        label=657,  # missile
        valid=(657, 744),  # missile, projectile
        load=_skimage("rocket", "rocket"),
    ),
    # Red Yamaha motorcycle in a garage: ImageNet has no motorcycle class, moped is the nearest,
    # and the front disk brake is plainly visible.
    SamplePhoto(
        "motorcycle",
        "scikit-image skimage.data.stereo_motorcycle()[0]",
        label=665,  # moped
        valid=(535, 665),  # disk brake, moped
        load=_skimage("motorcycle", "stereo_motorcycle"),
    ),
    # Tower of Buddhist Incense (a temple) in the Summer Palace, Beijing, above Kunming Lake.
    SamplePhoto(
        "china",
        "scikit-learn sklearn.datasets.load_sample_image('china.jpg')",
        label=698,  # palace
        valid=(663, 698, 975),  # monastery, palace, lakeside
        load=_sklearn("china", "china.jpg"),
    ),
    # Grace Hopper in U.S. Navy dress uniform with a wide black tie in a loose bow.
    SamplePhoto(
        "grace_hopper",
        "matplotlib mpl-data/sample_data/grace_hopper.jpg",
        label=652,  # military uniform
        valid=(652, 906),  # military uniform, Windsor tie
        load=_matplotlib("grace_hopper", "grace_hopper.jpg"),
    ),
)
"""The built-in photos in a fixed order; the ``samples`` dataset's sample ids are ``<name>.jpg``."""


def materialize_samples(dest: Path) -> list[tuple[str, Path, int, tuple[int, ...]]]:
    """Write each photo once to ``dest/<name>.jpg``; return (sample_id, path, label, valid) rows."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    rows = []
    for photo in SAMPLE_PHOTOS:
        path = dest / f"{photo.name}.jpg"
        if not path.exists():
            image = photo.load()
            fd, tmp = tempfile.mkstemp(prefix=f".{photo.name}.", suffix=".jpg.tmp", dir=dest)
            try:
                with os.fdopen(fd, "wb") as out:
                    image.save(out, format="JPEG", quality=95)
                os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache file need not be
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        rows.append((path.name, path, photo.label, photo.valid))
    return rows
