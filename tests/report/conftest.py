"""Real run folders for the report tests: the shipped ResNet-50, lite0 on the sample photos, and
small hand-made runs (ImageNetV2 pairs, a run whose names carry HTML)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reassess.store.predictions import Predictions
from reassess.store.run import RunDir
from tests.conftest import mistakes_table, store_run


@pytest.fixture(scope="session")
def cache_env(tmp_path_factory):
    """The same reassess cache the autouse fixture gives each test, for session-wide runs."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REASSESS_CACHE", str(tmp_path_factory.getbasetemp() / "reassess-cache"))
        yield


@pytest.fixture(scope="session")
def resnet_run(tmp_path_factory, cache_env, shipped_resnet50_predictions) -> Path:
    """`reassess import` of the shipped ResNet-50 predictions on all 50,000 val images."""
    from reassess.runs import import_run

    out = tmp_path_factory.mktemp("runs") / "resnet50"
    import_run(
        shipped_resnet50_predictions,
        "imagenet-val",
        out,
        model_name="resnet50",
        topk=1,
        allow_missing=False,
    )
    return out


@pytest.fixture(scope="session")
def lite0_run(tmp_path_factory, cache_env) -> Path:
    """`reassess eval --model lite0 --data samples`: a real model on the built-in photos."""
    from reassess.inference.runner import InferenceOptions
    from reassess.runs import evaluate

    out = tmp_path_factory.mktemp("runs") / "lite0-samples"
    evaluate("lite0", "samples", out, InferenceOptions(batch_size=8, workers=0, progress=False))
    return out


def v2_predictions(wrong_share: float, seed: int) -> Predictions:
    """Top-1 on ImageNetV2 MatchedFrequency: the label, except a seeded share of images."""
    from reassess.datasets.imagenet import imagenetv2_index

    ids, labels = imagenetv2_index("matched-frequency")
    rng = np.random.default_rng(seed)
    top1 = labels.copy()
    wrong = rng.random(len(labels)) < wrong_share
    top1[wrong] = (labels[wrong] + 1 + rng.integers(0, 998, wrong.sum())) % 1000
    return Predictions(ids, labels, top1[:, None].astype(np.int16))


HOSTILE_FILE = "<script>alert(1)<.jpg"
HOSTILE_MODEL = "<img src=x onerror=alert(2)>"
HOSTILE_LABEL = "</span><script>document.title='pwned'</script>"


@pytest.fixture
def hostile_run(tmp_path) -> tuple[Path, Path]:
    """A folder run whose file, model and label names are HTML, with an analysed mistakes table.

    Returns the run folder and the image folder. Predictions are hand-made: the cat photos are
    predicted as a tiger cat (a close relative: fine-grained) or as a lawn mower (major).
    """
    import skimage.data
    from PIL import Image

    images = tmp_path / "images"
    cat, coffee = images / "n02123045", images / "n07920052"  # tabby (281), espresso (967)
    cat.mkdir(parents=True)
    coffee.mkdir()
    chelsea = Image.fromarray(skimage.data.chelsea())
    chelsea.save(cat / HOSTILE_FILE)
    chelsea.rotate(90, expand=True).save(cat / "rotated.jpg")
    chelsea.convert("L").save(cat / "gray.jpg")
    Image.fromarray(skimage.data.coffee()).save(coffee / "coffee.jpg")
    ids = np.array(
        [
            f"n02123045/{HOSTILE_FILE}",
            "n02123045/rotated.jpg",
            "n02123045/gray.jpg",
            "n07920052/coffee.jpg",
        ],
        dtype=object,
    )
    labels = np.array([281, 281, 281, 967])
    top1 = np.array([[282], [621], [282], [967]], dtype=np.int16)  # tiger cat, lawn mower
    probs = np.array([[0.61], [0.34], [0.52], [0.97]], dtype=np.float32)
    run = store_run(
        tmp_path / "run", HOSTILE_MODEL, f"folder:{images}", Predictions(ids, labels, top1, probs)
    )
    table = mistakes_table(
        sample_id=ids[:3].tolist(),
        label=[281, 281, 281],
        prediction=[282, 621, 282],
        label_name=[HOSTILE_LABEL, "tabby", "tabby"],
        category=["fine_grained", "unexplained", "fine_grained"],
        severity=["minor", "major", "minor"],
        evidence=["same superclass: <b>domestic cat</b>", "WordNet distance 14", ""],
        imagenet_x_factors=[["pose"], [], ["color", "partial_view"]],
    )
    RunDir(run).write_mistakes(table)
    return run, images
