"""Run folders for the review tests: hand-made predictions on real ImageNet val ids (fast), a run
whose names carry HTML, and the real lite0 model on skimage photos stored under val file names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reassess.store.predictions import Predictions
from reassess.store.run import RunDir
from tests.conftest import mistakes_table, skimage_photo, store_run

HOSTILE = "<script>alert(1)</script>"
HOSTILE_FILE = "<img src=x onerror=alert(2)>.jpg"

# ImageNet val files (index -> skimage photo) and a made-up top-5 for each: three are wrong.
# val 236 is labelled goldfish (1), 293 tench (0), 559 space shuttle (812), 59 tripod (872).
TINY = {
    236: ("chelsea", [282, 285, 281, 287, 904]),  # tiger cat first: a mistake
    293: ("coffee", [967, 968, 925, 960, 504]),  # espresso first: a mistake
    559: ("astronaut", [518, 450, 573, 422, 747]),  # football helmet first: a mistake
    59: ("camera", [872, 759, 447, 650, 681]),  # tripod: right
}


def val_name(index: int) -> str:
    return f"ILSVRC2012_val_{index:08d}.JPEG"


def tiny_predictions() -> Predictions:
    from reassess.datasets.imagenet import val_labels

    ids = list(TINY)
    top = np.array([TINY[i][1] for i in ids], dtype=np.int16)
    probs = np.tile(np.array([0.5, 0.2, 0.1, 0.05, 0.05], dtype=np.float32), (len(ids), 1))
    return Predictions(
        sample_ids=np.array([val_name(i) for i in ids], dtype=object),
        labels=val_labels()[np.array(ids) - 1],
        topk=top,
        probs=probs,
    )


@pytest.fixture
def val_images(tmp_path: Path) -> Path:
    """Real photos under ImageNet val file names: two flat, two in wnid folders."""
    root = tmp_path / "val"
    root.mkdir()
    for index, (photo, _) in TINY.items():
        folder = root / "n01443537" if index in (236, 59) else root
        folder.mkdir(exist_ok=True)
        skimage_photo(photo).convert("RGB").save(folder / val_name(index), quality=85)
    return root


@pytest.fixture
def tiny_run(tmp_path: Path, val_images: Path) -> Path:
    """Hand-made top-5 on four real val ids (three mistakes) with a mistakes.parquet."""
    out = store_run(
        tmp_path / "run", f"tiny {HOSTILE}", f"imagenet-val:{val_images}", tiny_predictions()
    )
    table = mistakes_table(
        sample_id=[val_name(236), val_name(293), val_name(559)],
        label=[1, 0, 812],
        prediction=[282, 967, 518],
        category=["fine_grained", "not_a_mistake", "major"],
        severity=["minor", None, "major"],
        evidence=[
            json.dumps({"rule": "same superclass", "superclass": "domestic cat"}),
            json.dumps({"rule": "prediction in ReaL", "real": ["espresso"]}),
            json.dumps({"rule": f"none applies {HOSTILE}"}),
        ],
        wordnet_distance=[2, None, 11],
    )
    RunDir(out).write_mistakes(table)
    return out


@pytest.fixture
def hostile_run(tmp_path: Path) -> tuple[Path, Path]:
    """A class-folder run whose file name and model name carry HTML; one mistake."""
    root = tmp_path / "photos"
    folder = root / "n02123045"  # tabby
    folder.mkdir(parents=True)
    skimage_photo("chelsea").save(folder / HOSTILE_FILE, quality=85)
    predictions = Predictions(
        sample_ids=np.array([f"n02123045/{HOSTILE_FILE}"], dtype=object),
        labels=np.array([281], dtype=np.int32),
        topk=np.array([[282, 281, 285, 287, 904]], dtype=np.int16),
        probs=np.array([[0.4, 0.3, 0.2, 0.05, 0.05]], dtype=np.float32),
    )
    return store_run(tmp_path / "hostile", HOSTILE, f"folder:{root}", predictions), root


@pytest.fixture(scope="session")
def lite0_val_run(tmp_path_factory) -> tuple[Path, Path]:
    """`reassess eval --model lite0 --data imagenet-val:FOLDER` on skimage photos stored under
    real val file names: some match their val label (tabby cat, espresso, tripod, missile), some
    are deliberately mislabelled (a cat as goldfish, an espresso as tench). Four mistakes."""
    from reassess.inference.runner import InferenceOptions
    from reassess.runs import evaluate

    base = tmp_path_factory.mktemp("lite0-val")
    root = base / "val"
    photos = {
        1341: "chelsea",  # tabby
        2934: "coffee",  # espresso
        559: "astronaut",  # space shuttle
        59: "camera",  # tripod
        700: "rocket",  # missile
        293: "coffee",  # labelled tench: mislabelled on purpose
        236: "chelsea",  # labelled goldfish: mislabelled on purpose
    }
    for index, photo in photos.items():
        folder = root / "n02123045" if index == 1341 else root  # one in a wnid folder
        folder.mkdir(parents=True, exist_ok=True)
        skimage_photo(photo).convert("RGB").save(folder / val_name(index), quality=90)
    out = base / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REASSESS_CACHE", str(base / "cache"))
        evaluate(
            "lite0",
            f"imagenet-val:{root}",
            out,
            InferenceOptions(batch_size=8, workers=0, progress=False, cache=False),
        )
    return out, root
