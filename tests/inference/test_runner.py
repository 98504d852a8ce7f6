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
