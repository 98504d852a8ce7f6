import numpy as np
import pytest

from reassess.datasets import parse_data_spec
from reassess.inference import InferenceOptions, run_inference
from reassess.models import create_model
from reassess.store import RunDir


@pytest.fixture(scope="module")
def lite0():
    return create_model("lite0")


def _options(**kw):
    return InferenceOptions(batch_size=2, workers=0, progress=False, flush_every=2, **kw)


@pytest.mark.slow
def test_bad_images_are_decoded_or_skipped_and_named(photo_folder, lite0, tmp_path):
    data = parse_data_spec(f"folder:{photo_folder}")
    result = run_inference(lite0, data, RunDir(tmp_path / "run"), _options())
    ids = result.predictions.sample_ids.tolist()
    assert ids == [
        s for s in data.sample_ids.tolist() if "truncated" not in s and "not_an" not in s
    ]
    assert {r["sample_id"] for r in result.skipped} == {"967/truncated.jpg", "967/not_an_image.jpg"}
    top1 = dict(zip(ids, result.predictions.top1.tolist(), strict=True))
    # CMYK, grayscale and a PNG named .JPEG all decode to the espresso they show
    assert top1["967/coffee_cmyk.jpg"] == top1["967/png_named.JPEG"] == 967
    assert top1["n02123045/chelsea.jpg"] in (281, 282, 285)


@pytest.mark.slow
def test_interrupted_run_resumes_without_losing_or_duplicating_rows(photo_folder, lite0, tmp_path):
    data = parse_data_spec(f"folder:{photo_folder}")
    reference = run_inference(lite0, data, RunDir(tmp_path / "ref"), _options()).predictions

    run = RunDir(tmp_path / "run")
    calls = {"n": 0}
    forward = lite0.module.forward

    def dying_forward(x):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return forward(x)

    lite0.module.forward = dying_forward
    try:
        with pytest.raises(KeyboardInterrupt):
            run_inference(lite0, data, run, _options())
    finally:
        lite0.module.forward = forward
    stored = run.read_parts()
    assert 0 < len(stored) < len(reference)
    resumed = run_inference(lite0, data, run, _options())
    assert resumed.resumed_from >= len(stored)
    assert resumed.predictions.sample_ids.tolist() == reference.sample_ids.tolist()
    assert (resumed.predictions.topk == reference.topk).all()
    assert np.allclose(resumed.predictions.probs, reference.probs, atol=1e-5)


def test_sixteen_bit_png_decodes_like_its_eight_bit_original(tmp_path):
    """PIL's convert("RGB") clips 16-bit grayscale to white; reassess keeps the picture."""
    from PIL import Image

    from reassess.datasets.decoding import load_rgb
    from tests.conftest import skimage_photo

    gray = np.asarray(skimage_photo("camera"), dtype=np.uint16)
    Image.fromarray(gray * 257).save(tmp_path / "camera16.png")  # 0..255 -> 0..65535
    assert Image.open(tmp_path / "camera16.png").mode.startswith("I")
    decoded = np.asarray(load_rgb(tmp_path / "camera16.png"))
    assert decoded.shape == (*gray.shape, 3)
    assert np.array_equal(decoded[..., 0], gray) and np.array_equal(decoded[..., 2], gray)


@pytest.mark.slow
@pytest.mark.parametrize("cache", [True, False])
def test_broken_symlinks_and_non_utf8_names_are_named_not_fatal(
    photo_folder, lite0, tmp_path, cache
):
    import os

    coffee = photo_folder / "967"
    (coffee / "dangling.jpg").symlink_to(coffee / "gone.jpg")
    (coffee / "loop.jpg").symlink_to(coffee / "loop.jpg")
    latin1 = os.fsencode(coffee) + b"/caf\xe9.jpg"  # a name written by a Latin-1 system
    with open(latin1, "wb") as f:
        f.write((coffee / "coffee.JPEG").read_bytes())
    with pytest.warns(UserWarning, match=r"1 file names are not UTF-8 \(e.g. 967/caf\\xe9.jpg\)"):
        data = parse_data_spec(f"folder:{photo_folder}")
    options = _options(cache=cache, cache_root=tmp_path / "cache")
    result = run_inference(lite0, data, RunDir(tmp_path / "run"), options)
    skipped = {r["sample_id"]: r["error"] for r in result.skipped}
    assert "FileNotFoundError" in skipped["967/dangling.jpg"]
    assert "symbolic links" in skipped["967/loop.jpg"]
    top1 = dict(zip(result.predictions.sample_ids.tolist(), result.predictions.top1, strict=True))
    assert top1["967/caf\\xe9.jpg"] == top1["967/coffee.JPEG"] == 967  # evaluated, stored
    run = RunDir(tmp_path / "run")
    run.write_predictions(result.predictions)
    assert "967/caf\\xe9.jpg" in run.read_predictions().sample_ids.tolist()
