import pytest
import torch

from reassess.models import ModelSpecError, PreprocessingOverrides, create_model, model_families
from tests.conftest import skimage_photo


def _top3(model, photo):
    x = model.transform()(photo).unsqueeze(0)
    with torch.inference_mode():
        return model.module(x).topk(3).indices[0].tolist()


@pytest.mark.slow
def test_lite0_recognises_real_photos():
    model = create_model("lite0")
    assert model.data_config["mean"] == (0.5, 0.5, 0.5) and model.data_config["crop_pct"] == 0.875
    assert model.data_config["interpolation"] == "bicubic"
    assert model.details["tensors_loaded"] == 247
    assert sorted(_top3(model, skimage_photo("chelsea"))) == [
        281,
        282,
        285,
    ]  # tabby, tiger, Egyptian
    assert _top3(model, skimage_photo("coffee"))[0] == 967  # espresso


@pytest.mark.slow
def test_lite2_preprocessing_comes_from_its_config():
    model = create_model("lite2")
    assert model.data_config["input_size"] == (3, 260, 260)


def test_timm_checkpoint_file(tmp_path):
    import timm

    source = timm.create_model("resnet10t", pretrained=False, num_classes=1000)
    torch.save(source.state_dict(), tmp_path / "r.pth")
    model = create_model(f"timm:resnet10t@{tmp_path / 'r.pth'}")
    assert torch.equal(model.module.fc.weight, source.fc.weight)
    assert model.details["weights"] == str(tmp_path / "r.pth")
    with pytest.raises(ModelSpecError, match="does not fit timm model 'resnet18'"):
        create_model(f"timm:resnet18@{tmp_path / 'r.pth'}")
    with pytest.raises(ModelSpecError, match="checkpoint file not found"):
        create_model(f"timm:resnet10t@{tmp_path / 'missing.pth'}")


@pytest.mark.parametrize(
    "spec,message",
    [
        ("keras:resnet", "unknown model spec 'keras:resnet'; accepted: .*lite0"),
        ("timm", "needs a name"),
        ("lite0:foo", "takes no argument"),
        ("timm:not_a_model_xyz", "timm has no model 'not_a_model_xyz'"),
        ("torchvision:not_a_model", "torchvision has no classification model"),
    ],
)
def test_bad_model_specs(spec, message):
    with pytest.raises(ModelSpecError, match=message):
        create_model(spec)


@pytest.mark.parametrize(
    "spec,message",
    [
        ("timmm:resnet50", "unknown model spec 'timmm:resnet50'; did you mean timm? Accepted: "),
        ("timm:resnet5O", "timm has no model 'resnet5O'; did you mean resnet50,"),
        (
            "timm:resnet18.a1_in1kk",
            "no pretrained weights 'resnet18.a1_in1kk'; did you mean resnet18.a1_in1k,",
        ),
        (
            "open_clip:ViT-B-322@openai",
            "open_clip has no architecture 'ViT-B-322'; did you mean ViT-B-32",
        ),
    ],
)
def test_mistyped_model_specs_suggest_the_closest_names(spec, message):
    with pytest.raises(ModelSpecError) as failed:
        create_model(spec)
    text = str(failed.value)
    assert text.startswith(message) or message in text
    assert "\n" not in text and len(text) < 300, text
    assert text.count("?") == 1  # one "did you mean", at most 3 names in it
    assert len(text.split("did you mean ")[1].split("?")[0].split(", ")) <= 3


def test_unknown_spec_lists_families_in_one_short_line():
    with pytest.raises(ModelSpecError) as failed:
        create_model("keras:resnet")
    text = str(failed.value)
    assert "did you mean" not in text and len(text) < 300
    assert "lite0" in text and "reassess models" in text


def test_registry_lists_builtin_families():
    assert {"timm", "torchvision", "lite0", "lite1", "lite2"} <= set(model_families())


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"img_size": 0}, "image size must be a positive whole number, got 0"),
        ({"img_size": 224.5}, "image size must be a positive whole number"),
        ({"img_size": True}, "image size must be a positive whole number"),
        ({"crop_pct": 0}, r"crop_pct must be in \(0, 1\], got 0"),
        ({"crop_pct": 1.2}, r"crop_pct must be in \(0, 1\], got 1.2"),
        ({"crop_pct": float("nan")}, r"crop_pct must be in \(0, 1\]"),
        ({"interpolation": "cubic"}, "unknown interpolation 'cubic'; accepted: nearest, bilinear"),
        ({"mean": (0.5, 0.5)}, r"mean must be three numbers \(R, G, B\), got 2 values"),
        ({"mean": (0.5, 0.5, float("inf"))}, "mean must be three finite numbers"),
        ({"std": (0.2, 0.0, 0.2)}, "std must be three positive numbers, got 0.2, 0.0, 0.2"),
        ({"std": "abc"}, r"std must be three numbers \(R, G, B\), got 'abc'"),
    ],
)
def test_bad_preprocessing_overrides_give_one_line(fields, message):
    with pytest.raises(ModelSpecError, match=message) as error:
        PreprocessingOverrides(**fields)
    assert "\n" not in str(error.value)


def test_preprocessing_overrides_describe_the_fields_set():
    overrides = PreprocessingOverrides(img_size=320, mean=[0.5, 0.5, 0.5])
    assert overrides.mean == (0.5, 0.5, 0.5)  # stored as a tuple of floats, hashable
    assert overrides.describe() == {"img_size": 320, "mean": [0.5, 0.5, 0.5]}
    assert PreprocessingOverrides().describe() == {}
    config = {"input_size": (3, 224, 224), "crop_pct": 0.875, "mean": (0.1, 0.2, 0.3)}
    assert overrides.apply(config) == {
        **config,
        "input_size": (3, 320, 320),
        "mean": overrides.mean,
    }
    assert config["input_size"] == (3, 224, 224)  # the model's own config is not changed


def test_cli_parses_preprocessing_options():

    from reassess.cli.options import preprocessing_overrides

    parsed = preprocessing_overrides(288, 1.0, "Bicubic", "0.485, 0.456,0.406", "0.229,0.224,0.225")
    assert parsed == PreprocessingOverrides(
        img_size=288,
        crop_pct=1.0,
        interpolation="bicubic",
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
    )
    assert preprocessing_overrides(None, None, None, None, None) == PreprocessingOverrides()
    for args, message in [
        (
            (None, None, None, "0.5;0.5;0.5", None),
            "--mean takes three comma-separated numbers.*'0.5;0.5;0.5'",
        ),
        ((None, None, None, None, "0.5,0.5"), "std must be three numbers"),
        ((None, 1.5, None, None, None), r"crop_pct must be in \(0, 1\]"),
        ((None, None, "fancy", None, None), "unknown interpolation 'fancy'"),
    ]:
        with pytest.raises(ModelSpecError, match=message) as error:
            preprocessing_overrides(*args)
        assert "\n" not in str(error.value)


def test_importing_a_registry_registers_every_family_without_torch():
    """The registry modules import no plugin; the package imports them, so any import registers."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from reassess.models.registry import model_families\n"
        "from reassess.datasets.base import dataset_families\n"
        "assert {'timm', 'torchvision', 'lite0', 'open_clip'} <= set(model_families())\n"
        "assert {'imagenet-val', 'samples', 'imagenet-a', 'folder'} <= set(dataset_families())\n"
        "heavy = {'torch', 'timm', 'open_clip', 'torchvision'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
