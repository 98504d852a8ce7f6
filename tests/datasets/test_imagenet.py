import numpy as np
import pytest

from reassess.datasets import DataSpecError, parse_data_spec
from reassess.datasets.imagenet import imagenetv2_multilabel_sets, val_file_name
from tests.conftest import skimage_photo


def test_index_only_specs():
    val = parse_data_spec("imagenet-val")
    assert len(val) == 50_000 and not val.has_images
    assert val.sample_ids[0] == "ILSVRC2012_val_00000001.JPEG"
    assert val.labels[0] == 65  # sea snake, the first val image's label
    v2 = parse_data_spec("imagenetv2")
    assert len(v2) == 10_000 and v2.sample_ids[0].endswith(".jpeg")
    assert np.bincount(v2.labels, minlength=1000).tolist() == [10] * 1000


def test_imagenet_val_flat_and_wnid_folders(tmp_path):
    photo = skimage_photo("chelsea")
    (tmp_path / "n01751748").mkdir()
    photo.save(tmp_path / "n01751748" / val_file_name(0))
    photo.save(tmp_path / val_file_name(9))
    (tmp_path / "README.txt").write_text("not an image")
    data = parse_data_spec(f"imagenet-val:{tmp_path}")
    assert data.sample_ids.tolist() == [val_file_name(0), val_file_name(9)]
    assert data.labels.tolist() == [65, 332]  # sea snake; Angora (val image 10)
    sets = data.label_sets()["real"]
    assert sets.to_lists() == [[], [332]]  # ReaL raters found no fitting label for image 1
    assert sets.evaluable.tolist() == [False, True]


def test_imagenetv2_layout_and_multilabels(tmp_path):
    ids, labels = parse_data_spec("imagenetv2").sample_ids, parse_data_spec("imagenetv2").labels
    folder = tmp_path / str(labels[0])
    folder.mkdir()
    skimage_photo("coffee").save(folder / ids[0], format="JPEG")
    data = parse_data_spec(f"imagenetv2:{tmp_path}")
    assert data.sample_ids.tolist() == [ids[0]] and data.labels.tolist() == [labels[0]]
    assert "multilabel" in data.label_sets()
    wrong = tmp_path / str((labels[0] + 1) % 1000)
    wrong.mkdir()
    (folder / ids[0]).rename(wrong / ids[0])
    with pytest.raises(DataSpecError, match="labels it"):
        parse_data_spec(f"imagenetv2:{tmp_path}")


def test_imagenetv2_multilabel_share_matches_paper():
    """Re-assessing ImageNet: 47.9% of ImageNetV2 MatchedFrequency images have 2+ labels."""
    sets = imagenetv2_multilabel_sets()
    assert len(sets) == 10_000
    assert round((sets.counts >= 2).mean(), 3) == 0.479
    assert int((sets.counts == 0).sum()) == 129


def test_folder_by_wnid_and_index(photo_folder):
    data = parse_data_spec(f"folder:{photo_folder}")
    assert sorted(set(data.labels.tolist())) == [281, 967]
    assert "n02123045/chelsea.jpg" in data.sample_ids.tolist()


@pytest.mark.parametrize(
    "spec,message",
    [
        (
            "imagenet-test:/x",
            "unknown data spec 'imagenet-test:/x'; did you mean .*Accepted: imagenet-val,",
        ),
        ("folder", "needs a folder"),
        ("folder:/does/not/exist", "no such folder"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(DataSpecError, match=message):
        parse_data_spec(spec)


def test_folder_with_unknown_class_names(tmp_path):
    (tmp_path / "cats").mkdir()
    skimage_photo("chelsea").save(tmp_path / "cats" / "a.jpg")
    with pytest.raises(DataSpecError, match="neither ImageNet wnids"):
        parse_data_spec(f"folder:{tmp_path}")
