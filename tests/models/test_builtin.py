"""Built-in families resolve preprocessing as timm's validate.py does; user overrides apply on top."""

import pytest
import torch

from reassess.datasets import parse_data_spec
from reassess.inference.cache import PreprocessCache
from reassess.models import ModelSpecError, PreprocessingOverrides, create_model
from tests.conftest import skimage_photo

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _timm_checkpoint(tmp_path, name):
    """A random-weight timm model saved as a local checkpoint (no hub weights offline)."""
    import timm

    model = timm.create_model(name, pretrained=False)
    path = tmp_path / f"{name}.pth"
    torch.save(model.state_dict(), path)
    return model, path


@pytest.mark.parametrize("name", ["resnet50.a1_in1k", "convnext_tiny.fb_in1k"])
def test_timm_models_use_their_test_size_like_validate_py(tmp_path, name):
    from timm.data import resolve_data_config

    source, path = _timm_checkpoint(tmp_path, name)
    model = create_model(f"timm:{name}@{path}")
    expected = resolve_data_config({}, model=source, use_test_size=True)
    assert model.data_config == expected
    assert model.data_config["input_size"] == (3, 288, 288)
    assert model.data_config["crop_pct"] == 1.0  # the cfg's test_crop_pct, not its train 0.95/0.875
    assert model.transform()(skimage_photo("chelsea")).shape == (3, 288, 288)
    assert model.fixed_input_size is None


@pytest.mark.slow
def test_lite0_resolves_as_before():
    model = create_model("lite0")
    assert model.data_config == {
        "input_size": (3, 224, 224),
        "interpolation": "bicubic",
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
        "crop_pct": 0.875,
        "crop_mode": "center",
    }
    assert "preprocessing_overrides" not in model.details
    empty = create_model("lite0", preprocessing=PreprocessingOverrides())
    assert empty.data_config == model.data_config and "preprocessing_overrides" not in empty.details


@pytest.mark.slow
def test_overrides_replace_the_models_own_preprocessing():
    overrides = PreprocessingOverrides(
        img_size=288, crop_pct=1, interpolation="bilinear", mean=IMAGENET_MEAN, std=IMAGENET_STD
    )
    model = create_model("lite0", preprocessing=overrides)
    assert model.data_config == {
        "input_size": (3, 288, 288),
        "interpolation": "bilinear",
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
        "crop_pct": 1.0,
        "crop_mode": "center",
    }
    assert model.details["preprocessing_overrides"] == {
        "img_size": 288,
        "crop_pct": 1.0,
        "interpolation": "bilinear",
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
    }
    assert model.describe()["preprocessing_overrides"]["img_size"] == 288
    x = model.transform()(skimage_photo("coffee"))
    assert x.shape == (3, 288, 288)
    with torch.inference_mode():  # the EfficientNet still sees an espresso at 288 bilinear
        assert model.module(x[None]).argmax().item() == 967


@pytest.mark.slow
def test_only_the_given_overrides_change():
    model = create_model("lite0", preprocessing=PreprocessingOverrides(crop_pct=0.95))
    assert model.data_config["crop_pct"] == 0.95
    assert model.data_config["input_size"] == (3, 224, 224)
    assert model.data_config["mean"] == (0.5, 0.5, 0.5)
    assert model.details["preprocessing_overrides"] == {"crop_pct": 0.95}


@pytest.mark.slow
def test_the_cache_keeps_crops_of_other_sizes_apart(photo_folder, tmp_path):
    data = parse_data_spec(f"folder:{photo_folder}")
    at_224 = create_model("lite0").data_config
    at_288 = create_model("lite0", preprocessing=PreprocessingOverrides(img_size=288)).data_config
    bilinear = PreprocessingOverrides(interpolation="bilinear").apply(at_224)
    paths = set()
    for config, size in ((at_224, 224), (at_288, 288), (bilinear, 224)):
        with PreprocessCache.open(data, config, root=tmp_path / "cache") as cache:
            assert cache.key["input_size"] == [size, size]
            assert cache.rows.row_shape == (size, size, 3)
            paths.add(cache.path)
    assert len(paths) == 3
    normalised_apart = PreprocessingOverrides(mean=IMAGENET_MEAN).apply(at_224)
    with PreprocessCache.open(data, normalised_apart, root=tmp_path / "cache") as cache:
        assert cache.path in paths  # mean/std apply after the cache: the same crops serve both


def test_a_vit_takes_only_its_own_size(tmp_path):
    _, path = _timm_checkpoint(tmp_path, "vit_tiny_patch16_224")
    spec = f"timm:vit_tiny_patch16_224@{path}"
    with pytest.raises(ModelSpecError, match="takes only 224x224 input; image size 288"):
        create_model(spec, preprocessing=PreprocessingOverrides(img_size=288))
    model = create_model(spec, preprocessing=PreprocessingOverrides(img_size=224, crop_pct=1.0))
    assert model.fixed_input_size == (224, 224)
    assert model.data_config["crop_pct"] == 1.0
