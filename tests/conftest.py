"""Shared fixtures: small real photos in the layouts reassess reads, and shipped real predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package, installed by `make browser`
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own reassess cache (sample photos, embeddings) unless it shares one."""
    monkeypatch.setenv("REASSESS_CACHE", str(tmp_path_factory.getbasetemp() / "reassess-cache"))


def store_run(out: Path, model: str, data: str, predictions) -> Path:
    """A run folder of hand-made predictions, written as `reassess import` writes one."""
    from reassess.datasets.base import parse_data_spec
    from reassess.runs import store_predictions

    store_predictions(predictions, parse_data_spec(data), out, model=model)
    return out


def mistakes_table(**columns):
    """A schema-valid mistakes table of hand-made columns; class names filled from the indices.

    Columns of :data:`reassess.store.schema.MISTAKES_COLUMNS` not given are left empty (null).
    """
    import pyarrow as pa

    from reassess.labels.imagenet import imagenet_classes
    from reassess.store.schema import MISTAKES_COLUMNS

    names = imagenet_classes().names
    n = len(columns["sample_id"])
    for part in ("label", "prediction"):
        if part in columns and f"{part}_name" not in columns:
            columns[f"{part}_name"] = [names[c] for c in columns[part]]
    types = {
        "string": pa.string(),
        "integer": pa.int64(),
        "floating point": pa.float32(),
        "list of integers": pa.list_(pa.int16()),
    }
    arrays = {
        name: pa.array(columns.pop(name, [None] * n), type=types[kind])
        for name, kind in MISTAKES_COLUMNS.items()
    }
    arrays.update({name: pa.array(values) for name, values in columns.items()})
    return pa.table(arrays)


def skimage_photo(name: str) -> Image.Image:
    import skimage.data

    return Image.fromarray(getattr(skimage.data, name)())


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """A class folder (wnid and index names) with real photos and the usual kinds of bad file."""
    root = tmp_path / "photos"
    cat, coffee = root / "n02123045", root / "967"  # tabby (281), espresso (967)
    cat.mkdir(parents=True)
    coffee.mkdir()
    chelsea, espresso = skimage_photo("chelsea"), skimage_photo("coffee")
    chelsea.save(cat / "chelsea.jpg", quality=95)
    espresso.save(coffee / "coffee.JPEG", quality=95)
    espresso.convert("CMYK").save(coffee / "coffee_cmyk.jpg")
    espresso.convert("L").save(coffee / "coffee_gray.jpg")
    espresso.save(coffee / "png_named.JPEG", format="PNG")
    data = (coffee / "coffee.JPEG").read_bytes()
    (coffee / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (coffee / "not_an_image.jpg").write_bytes(b"this is text, not a JPEG")
    return root


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium launched through Playwright, shared by every browser test of a session.

    A missing /usr/bin/chromium fails the test (``make test`` installs it), it never skips.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def shipped_resnet50_predictions() -> Path:
    from reassess.labels.resources import data_file

    return data_file("resnet50_cleanlab_val_predictions.parquet")


@pytest.fixture(scope="session")
def val_labels() -> np.ndarray:
    from reassess.datasets.imagenet import val_labels

    return val_labels()


# A random open_clip CLIP small enough to run in milliseconds (embeddings of 16 numbers).
TINY_CLIP_CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> tuple[Path, Path]:
    """(config JSON, weights file) of a random tiny open_clip CLIP, loadable by its real loader."""
    import json

    open_clip = pytest.importorskip("open_clip")
    torch = pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("tiny_clip")
    config = folder / "reassess-tiny-clip.json"
    config.write_text(json.dumps(TINY_CLIP_CONFIG))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model("reassess-tiny-clip")
    weights = folder / "weights.pt"
    torch.save(model.state_dict(), weights)
    return config, weights
