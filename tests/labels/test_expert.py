"""Expert multi-label files (human_accuracy_v3.0.0.json schema): checksum policy, schema, sets."""

import json
import warnings

import pytest

from reassess.labels import expert as expert_module
from reassess.labels import imagenet_classes
from reassess.labels.expert import (
    EXPERT_SHA256,
    ExpertLabelsError,
    UnverifiedLabelsWarning,
    file_sha256,
    load_expert_multilabels,
)
from tests.conftest import FIXTURES

DUMMY = FIXTURES / "dummy_human_accuracy_fixed.json"


def wnid(index: int) -> str:
    return imagenet_classes().wnids[index]


def write_expert_file(path, annots, problematic=(), imagenet_m=()):
    """A small file in the exact schema of human_accuracy_v3.0.0.json."""
    data = {
        "initial_annots": {
            image: {state: [wnid(c) for c in classes] for state, classes in entry.items()}
            for image, entry in annots.items()
        },
        "problematic_images": {
            image: {"reason": "marked as problematic in the review server", "reviewer": "x"}
            for image in problematic
        },
        "imagenet_m": list(imagenet_m),
    }
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def small_file(tmp_path):
    return write_expert_file(
        tmp_path / "human_accuracy_small.json",
        {
            "ILSVRC2012_val_00000001.JPEG": {"correct": [65], "wrong": [1, 2]},
            "ILSVRC2012_val_00000002.JPEG": {"correct": [795], "unclear": [796]},
            "ILSVRC2012_val_00000003.JPEG": {"correct": [230]},
            "ILSVRC2012_val_00000004.JPEG": {"unclear": [809]},
            "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567.jpeg": {"correct": [1]},  # ImageNetV2
        },
        problematic=["ILSVRC2012_val_00000003.JPEG", "ILSVRC2012_val_00049999.JPEG"],
        imagenet_m=["ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000004.JPEG"],
    )


def test_the_published_hash_is_required_unless_verification_is_off():
    with pytest.raises(ExpertLabelsError, match=f"{EXPERT_SHA256}.*--no-verify"):
        load_expert_multilabels(DUMMY)
    with pytest.warns(UnverifiedLabelsWarning, match="using it unverified"):
        labels = load_expert_multilabels(DUMMY, verify=False)
    assert not labels.verified and labels.sha256 == file_sha256(DUMMY)
    assert len(labels.sample_ids) == 11 and len(labels.problematic) == 10
    assert labels.imagenet_m == (
        "ILSVRC2012_val_00000001.JPEG",
        "ILSVRC2012_val_00000004.JPEG",
        "ILSVRC2012_val_00000005.JPEG",
    )
    # val_00000001: correct n01751748 (sea snake, 65), four wrong classes
    assert labels.correct.labels_of(0) == [65] and len(labels.wrong.labels_of(0)) == 4


def test_a_file_with_the_published_hash_loads_verified_and_silently(small_file, monkeypatch):
    monkeypatch.setattr(expert_module, "EXPERT_SHA256", file_sha256(small_file))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = load_expert_multilabels(small_file)
    assert labels.verified and labels.describe()["verified"] is True


def test_sets_lenient_strict_problematic_and_imagenet_m(small_file):
    with pytest.warns(UnverifiedLabelsWarning):
        labels = load_expert_multilabels(small_file, verify=False)
    assert labels.other_images == 1  # the ImageNetV2 candidate is not a val image
    assert labels.problematic == {"ILSVRC2012_val_00000003.JPEG", "ILSVRC2012_val_00049999.JPEG"}
    lenient, strict = labels.accepted(), labels.accepted(strict=True)
    # problematic image 3 is left out of both; image 4 has only an unclear class
    assert lenient.sample_ids.tolist() == [
        "ILSVRC2012_val_00000001.JPEG",
        "ILSVRC2012_val_00000002.JPEG",
        "ILSVRC2012_val_00000004.JPEG",
    ]
    assert lenient.to_lists() == [[65], [795, 796], [809]]
    assert strict.to_lists() == [[65], [795], []]
    m = labels.imagenet_m_sets()
    assert m.sample_ids.tolist() == list(labels.imagenet_m) and m.to_lists() == [[65], [809]]
    assert labels.wrong.to_lists()[0] == [1, 2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"initial_annots": {}}', "missing key"),
        ("[1, 2]", "JSON object"),
        (
            '{"initial_annots": {"ILSVRC2012_val_00000001.JPEG": {"correct": ["n99999999"]}},'
            ' "problematic_images": {}, "imagenet_m": []}',
            "not an ImageNet-1k wnid",
        ),
        (
            '{"initial_annots": {"ILSVRC2012_val_00000001.JPEG": {"correct": ["n01440764"]}},'
            ' "problematic_images": {}, "imagenet_m": ["ILSVRC2012_val_00000002.JPEG"]}',
            "ImageNet-M image",
        ),
    ],
)
def test_malformed_files_get_one_clear_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with (
        pytest.raises(ExpertLabelsError, match=message) as info,
        pytest.warns(UnverifiedLabelsWarning),
    ):
        load_expert_multilabels(path, verify=False)
    assert str(path) in str(info.value)


def test_missing_file_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="human_accuracy_v3.0.0.json"):
        load_expert_multilabels(tmp_path / "nope.json")


def test_a_reviewed_file_loads_without_the_checksum_and_reads_its_own_image_ids(tmp_path):
    path = write_expert_file(
        tmp_path / "reviewed.json",
        {
            "n02123045/chelsea.jpg": {"correct": [281, 282]},
            "967/coffee.jpg": {"correct": [967], "wrong": [968]},
            "ILSVRC2012_val_00000001.JPEG": {"correct": [65]},
            "n04266014/rocket.jpg": {"correct": [812]},  # not listed as reviewed: ignored
        },
        problematic=["n02123045/chelsea.jpg"],
        imagenet_m=["967/coffee.jpg"],
    )
    data = json.loads(path.read_text())
    data[expert_module.REVIEW_KEY] = {
        "tool": "reassess review export",
        "reviewers": ["alice"],
        "sample_ids": ["n02123045/chelsea.jpg", "967/coffee.jpg"],
    }
    path.write_text(json.dumps(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = load_expert_multilabels(path)  # verify=True does not apply to a reviewed file
    assert labels.reviewed and not labels.verified
    assert labels.sample_ids.tolist() == [
        "n02123045/chelsea.jpg",
        "967/coffee.jpg",
        "ILSVRC2012_val_00000001.JPEG",
    ]
    assert labels.other_images == 1 and labels.problematic == {"n02123045/chelsea.jpg"}
    assert labels.imagenet_m_sets().to_lists() == [[967]]
    described = labels.describe()
    assert described["source"] == "reassess review export" and described["reviewed_images"] == 2
    assert described["review"] == {"tool": "reassess review export", "reviewers": ["alice"]}
    data[expert_module.REVIEW_KEY] = {"sample_ids": "967/coffee.jpg"}
    path.write_text(json.dumps(data))
    with pytest.raises(ExpertLabelsError, match=f"{path}: reassess_review must be an object"):
        load_expert_multilabels(path)
