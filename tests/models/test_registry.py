import pytest
import torch

from reassess.models import ModelSpecError, create_model, model_families
from tests.conftest import skimage_photo


def _top3(model, photo):
    x = model.transform()(photo).unsqueeze(0)
    with torch.inference_mode():
        return model.module(x).topk(3).indices[0].tolist()


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


def test_registry_lists_builtin_families():
    assert {"timm", "torchvision", "lite0", "lite1", "lite2"} <= set(model_families())
