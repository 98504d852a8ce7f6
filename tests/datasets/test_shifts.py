"""ImageNet-A/-R, ImageNet-Sketch and ObjectNet readers, their class lists and subset scoring."""

import json

import numpy as np
import pytest

from reassess.datasets import DataSpecError, parse_data_spec
from reassess.datasets.base import Dataset, scoring_class_map
from reassess.datasets.shifts import (
    imagenet_a_classes,
    imagenet_r_classes,
    objectnet_class_map,
    objectnet_class_subset,
    objectnet_classes,
)
from reassess.labels.imagenet import imagenet_classes
from reassess.labels.resources import load_json
from reassess.metrics.subsets import restrict_predictions, restrict_ranking
from reassess.metrics.suite import MetricOptions, compute_metrics
from reassess.store.predictions import Predictions
from tests.conftest import skimage_photo

WNIDS = imagenet_classes().wnids


def _photo(path, name="coffee"):
    path.parent.mkdir(parents=True, exist_ok=True)
    skimage_photo(name).resize((64, 48)).save(path)


def test_class_lists_come_from_the_datasets_own_code():
    a, r = imagenet_a_classes(), imagenet_r_classes()
    assert len(a) == len(set(a.tolist())) == 200 and len(r) == len(set(r.tolist())) == 200
    # ImageNet-A's first classes in natural-adv-examples' map: stingray (6), goldfinch (11)
    assert a[:3].tolist() == [6, 11, 13]
    assert (
        WNIDS[6] == "n01498041"
        and "n01498041" in load_json("shift_classes.json")["imagenet-a"]["wnids"]
    )
    # ImageNet-R starts with goldfish (1) and great white shark (2); both sets end at 988 (agaric)
    assert r[:2].tolist() == [1, 2] and a[-1] == r[-1] == 988
    sources = {s["repo"] for s in load_json("shift_classes.json")["sources"]}
    assert sources == {
        "hendrycks/natural-adv-examples",
        "hendrycks/imagenet-r",
        "modestyachts/imagenet-testbed",
    }


def test_objectnet_mapping_groups_imagenet_classes():
    classes = objectnet_classes()
    assert len(classes) == 113 and len(objectnet_class_subset()) == 125
    clock = classes["alarm_clock"]
    assert [imagenet_classes().name(i) for i in clock.imagenet] == ["analog clock", "digital clock"]
    class_map = objectnet_class_map()
    assert class_map[409] == class_map[530] == clock.label == 409
    assert (class_map >= 0).sum() == 125 and np.unique(class_map[class_map >= 0]).size == 113


@pytest.mark.parametrize(
    "family,classes", [("imagenet-a", imagenet_a_classes), ("imagenet-r", imagenet_r_classes)]
)
def test_two_hundred_class_layout(tmp_path, family, classes):
    subset = classes()
    first, second = WNIDS[subset[0]], WNIDS[subset[5]]
    _photo(tmp_path / first / "a.jpg")
    _photo(tmp_path / second / "b.png", "chelsea")
    (tmp_path / "README.txt").write_text("the tarball's readme")
    data = parse_data_spec(f"{family}:{tmp_path}")
    assert data.sample_ids.tolist() == [f"{first}/a.jpg", f"{second}/b.png"]
    assert data.labels.tolist() == [subset[0], subset[5]]
    assert np.array_equal(data.class_subset, subset)
    assert np.array_equal(np.flatnonzero(scoring_class_map(family) >= 0), subset)

    outside = next(w for i, w in enumerate(WNIDS) if i not in set(subset.tolist()))
    _photo(tmp_path / outside / "c.jpg")
    with pytest.raises(DataSpecError, match=rf"\['{outside}'\] are not ImageNet-. classes"):
        parse_data_spec(f"{family}:{tmp_path}")


def test_layout_errors_name_the_expected_layout(tmp_path):
    with pytest.raises(DataSpecError, match="no images found; expected the ImageNet-A layout"):
        parse_data_spec(f"imagenet-a:{tmp_path}")
    _photo(tmp_path / "loose.jpg")
    with pytest.raises(DataSpecError, match="found loose.jpg, expected the ImageNet-R layout"):
        parse_data_spec(f"imagenet-r:{tmp_path}")
    with pytest.raises(DataSpecError, match="needs a folder"):
        parse_data_spec("objectnet")


def test_imagenet_sketch_layout(tmp_path):
    _photo(tmp_path / "sketch" / "n01440764" / "n01440764_1.JPEG")
    _photo(tmp_path / "sketch" / "n15075141" / "sketch_2.jpg")
    data = parse_data_spec(f"imagenet-sketch:{tmp_path}")  # the folder that holds sketch/
    assert data.labels.tolist() == [0, 999] and data.class_subset is None
    assert data.root == tmp_path / "sketch"
    _photo(tmp_path / "sketch" / "tench" / "x.jpg")
    with pytest.raises(DataSpecError, match="not ImageNet-Sketch classes"):
        parse_data_spec(f"imagenet-sketch:{tmp_path}")


def test_objectnet_keeps_the_imagenet_overlap(tmp_path):
    images = tmp_path / "objectnet-1.0" / "images"
    _photo(images / "alarm_clock" / "0a1b.png")
    _photo(images / "banana" / "ff.png")
    everything = set(load_json("shift_classes.json")["objectnet_all_folders"])
    no_overlap = sorted(everything - objectnet_classes().keys())[0]
    _photo(images / no_overlap / "skip.png")  # an ObjectNet class without ImageNet counterpart
    data = parse_data_spec(f"objectnet:{tmp_path / 'objectnet-1.0'}")
    assert data.sample_ids.tolist() == ["alarm_clock/0a1b.png", "banana/ff.png"]
    assert data.labels.tolist() == [409, 954]  # analog clock, banana
    assert len(data.class_subset) == 125
    _photo(images / "not_an_objectnet_class" / "x.png")
    with pytest.raises(DataSpecError, match="are not ObjectNet classes"):
        parse_data_spec(f"objectnet:{tmp_path / 'objectnet-1.0'}")


def _preds(topk, labels, logits=None):
    topk = np.asarray(topk, dtype=np.int16)
    ids = np.array([f"s{i}" for i in range(len(topk))], dtype=object)
    return Predictions(ids, np.asarray(labels), topk, logits=logits)


def test_metrics_score_among_subset_classes_only():
    subset = imagenet_a_classes()
    outsider = next(i for i in range(1000) if i not in set(subset.tolist()))
    # sample 0: the best class overall is not an ImageNet-A class, the runner-up is the label
    # sample 1: the label is the best subset class only at rank 3
    preds = _preds(
        [[outsider, subset[0], subset[1]], [subset[2], outsider, subset[3]]], [subset[0], subset[3]]
    )
    plain = compute_metrics(preds)
    assert plain["top1"]["value"] == 0.0
    scored = compute_metrics(
        preds, options=MetricOptions(class_map=scoring_class_map("imagenet-a:x"))
    )
    assert scored["top1"]["value"] == 0.5 and scored["scored_classes"] == 200
    ranked, determined = restrict_ranking(preds, scoring_class_map("imagenet-a"))
    assert ranked.tolist() == [[subset[0], subset[1], -1], [subset[2], subset[3], -1]]
    assert determined.tolist() == [2, 2]
    assert "top-2 can be scored" in scored["notes"]["scored_classes"]


def test_stored_logits_give_the_exact_subset_ranking_and_objectnet_groups():
    logits = np.zeros((2, 1000), dtype=np.float16)
    logits[0, [0, 530, 409]] = [9.0, 5.0, 4.0]  # tench is best, digital clock best in ObjectNet
    logits[1, [954, 409]] = [3.0, 6.0]  # an analog clock predicted for a banana
    preds = _preds([[0], [409]], [409, 954], logits=logits)
    restricted, note = restrict_predictions(preds, objectnet_class_map())
    assert note is None and restricted.top1.tolist() == [409, 409]  # digital clock -> clock group
    metrics = compute_metrics(preds, options=MetricOptions(class_map=objectnet_class_map()))
    assert metrics["top1"]["value"] == 0.5 and metrics["top1"]["n"] == 2
    assert metrics["top5"]["value"] == 1.0 and metrics["scored_classes"] == 113


def test_a_class_subset_dataset_masks_every_other_score():
    scores = np.arange(1000, dtype=np.float32)[None, :]
    dataset = Dataset("r", "r", np.array(["x"], dtype=object), np.array([0]))
    assert np.array_equal(dataset.restrict_scores(scores), scores)  # all 1000 classes
    dataset.class_subset = imagenet_r_classes()
    masked = dataset.restrict_scores(scores)
    best = Predictions.from_scores(np.array(["x"]), np.array([0]), masked, k=5)
    assert best.topk[0].tolist() == imagenet_r_classes()[::-1][:5].tolist()
    kept = scores[0, imagenet_r_classes()]
    softmax = np.exp(kept - kept.max()) / np.exp(kept - kept.max()).sum()
    assert np.allclose(best.probs[0], np.sort(softmax)[::-1][:5])  # softmax over the 200 only


def test_import_then_metrics_on_imagenet_r_are_restricted(tmp_path):
    from reassess.runs import import_run

    subset = imagenet_r_classes()
    data_dir = tmp_path / "imagenet-r"
    _photo(data_dir / WNIDS[subset[4]] / "art_1.jpg")
    _photo(data_dir / WNIDS[subset[7]] / "art_2.jpg")
    outsider = next(i for i in range(1000) if i not in set(subset.tolist()))
    csv = tmp_path / "preds.csv"
    csv.write_text(
        "file_name,top1,top2\n"
        f"{WNIDS[subset[4]]}/art_1.jpg,{outsider},{subset[4]}\n"
        f"{WNIDS[subset[7]]}/art_2.jpg,{subset[7]},{outsider}\n"
    )
    metrics = import_run(
        csv, f"imagenet-r:{data_dir}", tmp_path / "run", model_name="m", topk=2, allow_missing=False
    )
    assert metrics["top1"]["value"] == 1.0 and metrics["scored_classes"] == 200
    stored = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert stored["top1"] == metrics["top1"]


@pytest.mark.slow
def test_runner_restricts_logits_to_the_subset(tmp_path):
    from reassess.inference import InferenceOptions, run_inference
    from reassess.models import create_model
    from reassess.store import RunDir

    subset = imagenet_a_classes()
    _photo(tmp_path / "data" / WNIDS[subset[0]] / "cat.jpg", "chelsea")
    _photo(tmp_path / "data" / WNIDS[subset[1]] / "coffee.jpg", "coffee")
    data = parse_data_spec(f"imagenet-a:{tmp_path / 'data'}")
    options = InferenceOptions(batch_size=2, workers=0, progress=False, keep_logits=True)
    result = run_inference(create_model("lite0"), data, RunDir(tmp_path / "run"), options)
    predictions = result.predictions
    assert np.isin(predictions.topk, subset).all()
    outside = np.setdiff1d(np.arange(1000), subset)
    assert np.isneginf(predictions.logits[:, outside]).all()
    assert np.isfinite(predictions.logits[:, subset]).all()
