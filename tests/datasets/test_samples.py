"""The built-in sample photos: written once as RGB JPEGs, with sound person-given labels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from reassess.datasets.samples import SAMPLE_PHOTOS, SamplePhoto, materialize_samples
from reassess.labels.imagenet import NUM_CLASSES, imagenet_classes

pytest.importorskip("skimage")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


def test_materialize_writes_rgb_jpegs(tmp_path: Path) -> None:
    rows = materialize_samples(tmp_path / "samples")
    assert len(rows) == len(SAMPLE_PHOTOS) >= 8
    for (sample_id, path, label, valid), photo in zip(rows, SAMPLE_PHOTOS, strict=True):
        assert sample_id == f"{photo.name}.jpg" == path.name
        assert path.parent == tmp_path / "samples"
        assert (label, valid) == (photo.label, photo.valid)
        with Image.open(path) as image:
            assert image.format == "JPEG"
            assert image.mode == "RGB"
            assert min(image.size) >= 224 and max(image.size) <= 2000
            image.load()
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == sorted(r[0] for r in rows)


def test_labels_are_valid_imagenet_indices() -> None:
    names = [photo.name for photo in SAMPLE_PHOTOS]
    assert len(set(names)) == len(names)
    classes = imagenet_classes()
    for photo in SAMPLE_PHOTOS:
        assert isinstance(photo, SamplePhoto)
        assert 0 <= photo.label < NUM_CLASSES
        assert photo.label in photo.valid
        assert len(set(photo.valid)) == len(photo.valid)
        assert all(isinstance(i, int) and 0 <= i < NUM_CLASSES for i in photo.valid)
        assert photo.source.split()[0] in {"scikit-image", "scikit-learn", "matplotlib"}
    by_name = {photo.name: photo for photo in SAMPLE_PHOTOS}
    assert classes.names[by_name["chelsea"].label] == "tabby"
    assert classes.names[by_name["coffee"].label] == "espresso"


def test_second_call_does_not_rewrite(tmp_path: Path) -> None:
    first = materialize_samples(tmp_path)
    stamps = {path: path.stat().st_mtime_ns for _, path, _, _ in first}
    past = 1_000_000_000  # 2001: a rewrite could not keep this mtime
    for path in stamps:
        os.utime(path, ns=(past, past))
    second = materialize_samples(tmp_path)
    assert second == first
    assert all(path.stat().st_mtime_ns == past for path in stamps)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_module_imports_without_the_photo_packages() -> None:
    code = (
        "import sys; sys.modules.update(skimage=None, sklearn=None, matplotlib=None)\n"
        "import reassess.datasets.samples as s\n"
        "from reassess.datasets.base import DataSpecError\n"
        "try:\n    s.SAMPLE_PHOTOS[0].load()\nexcept DataSpecError as e:\n    print(e)\n"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "sample photo 'astronaut' needs the package scikit-image: pip install scikit-image"
    )
