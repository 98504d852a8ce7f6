"""The decode-once preprocessing cache: reuse across models, exact predictions, resumable fill."""

import numpy as np
import pytest
import torch

import reassess.datasets.decoding as decoding
from reassess.datasets import parse_data_spec
from reassess.datasets.decoding import load_rgb
from reassess.inference import InferenceOptions, run_inference
from reassess.inference.accel import Normalizer
from reassess.inference.cache import NOT_STORED, STORED, UNDECODABLE, PreprocessCache
from reassess.inference.loader import crop_transform
from reassess.models import create_model
from reassess.models.registry import LoadedModel
from reassess.store import RunDir

pytestmark = pytest.mark.slow  # every test here loads the real lite0

GOOD = 5  # photo_folder: 5 decodable photos, 2 broken files


@pytest.fixture(scope="module")
def lite0():
    return create_model("lite0")


@pytest.fixture(scope="module")
def other_model():
    """A random-weight timm model with lite0's crop (224 bicubic 0.875) but other mean/std."""
    import timm
    from timm.data import resolve_model_data_config

    torch.manual_seed(0)
    module = timm.create_model("mobilenetv3_small_050", pretrained=False).eval()
    return LoadedModel(module, dict(resolve_model_data_config(module)), "mobilenetv3_small_050")


@pytest.fixture
def decodes(monkeypatch):
    """Count JPEG decodes (workers=0 decodes in this process)."""
    calls = []

    def counting(path):
        calls.append(path)
        return load_rgb(path)

    monkeypatch.setattr(decoding, "load_rgb", counting)
    return calls


def _options(tmp_path, **kw):
    kw.setdefault("cache_root", tmp_path / "cache")
    return InferenceOptions(batch_size=2, workers=0, progress=False, flush_every=2, **kw)


def test_crop_then_normalise_equals_the_models_own_transform(photo_folder, lite0, other_model):
    image = load_rgb(photo_folder / "n02123045" / "chelsea.jpg")
    for model in (lite0, other_model):
        config = model.data_config
        crop = torch.from_numpy(crop_transform(config)(image))[None]
        ours = Normalizer(config["mean"], config["std"], "cpu", channels_last=True)(crop)
        assert ours.shape == (1, 3, 224, 224)
        assert torch.equal(ours, model.transform()(image)[None])  # bit for bit


def test_second_model_with_same_preprocessing_skips_decoding(
    photo_folder, lite0, other_model, tmp_path, decodes
):
    data = parse_data_spec(f"folder:{photo_folder}")
    first = run_inference(lite0, data, RunDir(tmp_path / "a"), _options(tmp_path))
    assert len(decodes) == len(data) == GOOD + 2
    assert first.decoded == len(data) and first.cache["stored_by_this_run"] == GOOD
    decodes.clear()
    second = run_inference(other_model, data, RunDir(tmp_path / "b"), _options(tmp_path))
    assert decodes == []  # every crop came from the cache, broken files were not retried
    assert second.cache["read_from_cache"] == GOOD
    assert {r["sample_id"] for r in second.skipped} == {"967/truncated.jpg", "967/not_an_image.jpg"}
    assert len(second.predictions) == GOOD
    # without the cache the same model decodes again
    run_inference(other_model, data, RunDir(tmp_path / "c"), _options(tmp_path, cache=False))
    assert len(decodes) == len(data)


def test_cached_predictions_equal_uncached(photo_folder, lite0, tmp_path):
    data = parse_data_spec(f"folder:{photo_folder}")
    plain = run_inference(lite0, data, RunDir(tmp_path / "plain"), _options(tmp_path, cache=False))
    run_inference(lite0, data, RunDir(tmp_path / "fill"), _options(tmp_path))
    cached = run_inference(lite0, data, RunDir(tmp_path / "cached"), _options(tmp_path))
    assert cached.decoded == 0
    for result in (cached,):
        assert result.predictions.sample_ids.tolist() == plain.predictions.sample_ids.tolist()
        assert (result.predictions.topk == plain.predictions.topk).all()
        np.testing.assert_allclose(result.predictions.probs, plain.predictions.probs, atol=1e-6)


def test_interrupted_fill_resumes_and_never_exposes_unfinished_rows(
    photo_folder, lite0, tmp_path, decodes
):
    data = parse_data_spec(f"folder:{photo_folder}")
    forward, calls = lite0.module.forward, {"n": 0}

    def dying_forward(x):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return forward(x)

    lite0.module.forward = dying_forward
    try:
        with pytest.raises(KeyboardInterrupt):
            run_inference(lite0, data, RunDir(tmp_path / "run"), _options(tmp_path))
    finally:
        lite0.module.forward = forward
    cache = PreprocessCache.open(data, lite0.data_config, root=tmp_path / "cache")
    filled = int(np.count_nonzero(cache.status))
    assert 0 < filled < len(data) and not cache.complete
    # rows written but not committed (a process killed mid-batch) are not marked stored
    unfilled = cache.positions(NOT_STORED)[:1]
    cache.store(unfilled, np.zeros((1, 224, 224, 3), np.uint8))
    cache._release()  # dies without commit
    reopened = PreprocessCache.open(data, lite0.data_config, root=tmp_path / "cache")
    assert reopened.status[unfilled[0]] == NOT_STORED
    assert int(np.count_nonzero(reopened.status)) == filled
    reopened.close()

    decodes.clear()
    resumed = run_inference(lite0, data, RunDir(tmp_path / "run2"), _options(tmp_path))
    assert len(decodes) == len(data) - filled
    assert resumed.cache["read_from_cache"] + resumed.cache["stored_by_this_run"] == GOOD
    assert len(resumed.predictions) == GOOD
    done = PreprocessCache.open(data, lite0.data_config, root=tmp_path / "cache")
    assert done.complete
    assert sorted(np.flatnonzero(done.status == UNDECODABLE)) == sorted(
        data.sample_ids.tolist().index(s) for s in ("967/truncated.jpg", "967/not_an_image.jpg")
    )
    done.close()


def test_a_second_process_reads_while_the_first_fills(photo_folder, lite0, tmp_path):
    data = parse_data_spec(f"folder:{photo_folder}")
    writer = PreprocessCache.open(data, lite0.data_config, root=tmp_path / "cache")
    crop = crop_transform(lite0.data_config)(load_rgb(data.paths[0]))
    writer.store(np.array([0]), crop[None])
    writer.commit()
    reader = PreprocessCache.open(data, lite0.data_config, root=tmp_path / "cache")
    assert writer.writable and not reader.writable
    assert reader.positions(STORED).tolist() == [0]
    assert np.array_equal(reader.rows.read(np.array([0]))[0], crop)
    reader.store(np.array([1]), crop[None])  # a reader never writes
    writer.close()
    assert PreprocessCache.open(data, lite0.data_config, root=tmp_path / "cache").writable


def test_changed_files_get_a_new_cache(photo_folder, lite0, other_model, tmp_path):
    data = parse_data_spec(f"folder:{photo_folder}")
    root = tmp_path / "cache"
    first = PreprocessCache.open(data, lite0.data_config, root=root)
    first.close()
    same_crop = PreprocessCache.open(data, other_model.data_config, root=root)
    assert same_crop.path == first.path  # mean/std are not part of the key
    same_crop.close()
    (photo_folder / "967" / "coffee.JPEG").write_bytes(
        (photo_folder / "n02123045" / "chelsea.jpg").read_bytes()
    )
    changed = PreprocessCache.open(
        parse_data_spec(f"folder:{photo_folder}"), lite0.data_config, root=root
    )
    assert changed.path != first.path
    changed.close()


def test_bf16_autocast_keeps_the_predictions(photo_folder, lite0, tmp_path):
    data = parse_data_spec(f"folder:{photo_folder}")
    fp32 = run_inference(lite0, data, RunDir(tmp_path / "fp32"), _options(tmp_path))
    bf16 = run_inference(
        lite0, data, RunDir(tmp_path / "bf16"), _options(tmp_path, precision="bf16")
    )
    assert (bf16.predictions.top1 == fp32.predictions.top1).all()
    assert np.abs(bf16.predictions.probs[:, 0] - fp32.predictions.probs[:, 0]).max() < 0.05


def test_unusable_cache_folder_degrades_to_no_cache_with_a_warning(
    photo_folder, lite0, tmp_path, monkeypatch
):
    """REASSESS_CACHE below a file stands for a read-only cache (root ignores chmod)."""
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("REASSESS_CACHE", str(tmp_path / "file" / "cache"))
    data = parse_data_spec(f"folder:{photo_folder}")
    options = InferenceOptions(batch_size=2, workers=0, progress=False)
    with pytest.warns(UserWarning, match="preprocessing cache unusable .*; running without it"):
        result = run_inference(lite0, data, RunDir(tmp_path / "run"), options)
    assert len(result.predictions) == GOOD and result.cache is None


def test_cache_that_cannot_commit_stops_caching_and_keeps_evaluating(
    photo_folder, lite0, tmp_path, monkeypatch
):
    import errno

    import reassess.inference.cache as cache_module

    def disk_full(self):
        raise OSError(errno.ENOSPC, "No space left on device")

    data = parse_data_spec(f"folder:{photo_folder}")
    monkeypatch.setattr(cache_module.RowFile, "sync", disk_full)  # the first commit fails
    with pytest.warns(UserWarning, match="stopped filling the cache .No space left on device"):
        result = run_inference(lite0, data, RunDir(tmp_path / "run"), _options(tmp_path))
    assert len(result.predictions) == GOOD
    assert result.cache["stored_by_this_run"] == 0


def test_a_killed_fillers_temporaries_are_removed_by_the_next_filler(photo_folder, lite0, tmp_path):
    data = parse_data_spec(f"folder:{photo_folder}")
    cache = PreprocessCache.open(data, lite0.data_config, root=tmp_path / "cache")
    (cache.path / ".status.npy.x1y2.tmp").write_bytes(b"half")
    cache.close()
    PreprocessCache.open(data, lite0.data_config, root=tmp_path / "cache").close()
    assert not list(cache.path.glob("*.tmp"))
