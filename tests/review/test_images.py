"""Image lookup under --images: every layout is found, nothing outside the folder ever is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reassess.review.images import ImageResolver
from tests.review.conftest import val_name


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """An images folder (flat, wnid folder, class/file) and a secret image next to it."""
    root = tmp_path / "images"
    (root / "n01440764").mkdir(parents=True)
    (root / "cls").mkdir()
    for path in (
        root / val_name(1),
        root / "n01440764" / val_name(2),
        root / "cls" / "photo.jpg",
        root / "deep" / "er" / val_name(3),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\xff\xd8 fake jpeg")
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"secret")
    return root, secret


def test_finds_flat_wnid_folder_relative_and_nested_files(layout):
    root, _ = layout
    images = ImageResolver(root)
    real = root.resolve()
    assert images.find(val_name(1)) == real / val_name(1)
    assert images.find(val_name(2), "n01440764") == real / "n01440764" / val_name(2)
    assert images.find("cls/photo.jpg") == real / "cls" / "photo.jpg"
    # not at the top nor in the label's wnid folder: found by file name anywhere below
    assert images.find(val_name(3), "n01440764") == real / "deep" / "er" / val_name(3)
    assert images.find(val_name(4)) is None


def test_refuses_traversal_absolute_paths_and_odd_names(layout):
    root, secret = layout
    images = ImageResolver(root)
    assert images.find("../secret.jpg") is None
    assert images.find("cls/../../secret.jpg") is None
    assert images.find(str(secret)) is None  # an absolute path to a real image outside
    assert images.find(str(root / val_name(1))) is None  # absolute paths are refused outright
    assert images.find("/etc/passwd") is None
    assert images.find("cls/photo.jpg\x00.png") is None
    assert images.find("") is None
    (root / "notes.txt").write_text("not an image")
    assert images.find("notes.txt") is None  # only image files are served


def test_symlinks_out_of_the_folder_are_refused_and_inside_it_allowed(layout):
    root, secret = layout
    os.symlink(secret, root / "link_out.jpg")
    outside = secret.parent / "outside"
    outside.mkdir()
    (outside / "hidden.jpg").write_bytes(b"hidden")
    os.symlink(outside, root / "dir_out")
    os.symlink(root / "cls" / "photo.jpg", root / "link_in.jpg")
    images = ImageResolver(root)
    assert images.find("link_out.jpg") is None
    assert images.find("dir_out/hidden.jpg") is None
    assert images.find("hidden.jpg") is None  # nor through the by-name search
    assert images.find("link_in.jpg") == (root / "cls" / "photo.jpg").resolve()


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such image folder"):
        ImageResolver(tmp_path / "nope")
    assert ImageResolver(None).find(val_name(1)) is None
