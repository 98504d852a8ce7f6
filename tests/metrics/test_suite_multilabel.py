"""compute_metrics with expert labels, equivalences, calibration and the ImageNetV2 view."""

import json

import numpy as np
import pytest

from reassess.datasets.imagenet import imagenetv2_index, imagenetv2_multilabel_sets
from reassess.labels import imagenet_classes
from reassess.labels.expert import UnverifiedLabelsWarning, load_expert_multilabels
from reassess.metrics.suite import MetricOptions, compute_metrics, metric_outcomes
from reassess.store.predictions import Predictions


@pytest.fixture
def expert(tmp_path):
    wnids = imagenet_classes().wnids
    annots = {
        "ILSVRC2012_val_00000001.JPEG": {"correct": [wnids[65]]},
        "ILSVRC2012_val_00000002.JPEG": {"correct": [wnids[795]], "unclear": [wnids[796]]},
        "ILSVRC2012_val_00000003.JPEG": {"correct": [wnids[230]]},
        "ILSVRC2012_val_00000004.JPEG": {"correct": [wnids[836]]},  # sunglass
    }
    path = tmp_path / "expert.json"
    path.write_text(
        json.dumps(
            {
                "initial_annots": annots,
                "problematic_images": {"ILSVRC2012_val_00000003.JPEG": {}},
                "imagenet_m": ["ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000002.JPEG"],
            }
        )
    )
    with pytest.warns(UnverifiedLabelsWarning):
        return load_expert_multilabels(path, verify=False)


def predictions(top1, labels, probs=None):
    ids = np.array([f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, len(top1) + 1)], dtype=object)
    topk = np.stack([np.asarray(top1), np.zeros(len(top1), dtype=int)], axis=1).astype(np.int16)
    return Predictions(ids, np.asarray(labels), topk, probs)


def test_expert_metrics_lenient_and_strict(expert):
    # image 1 right; 2 predicts the 'unclear' class; 3 is problematic; 4 predicts sunglasses
    preds = predictions([65, 796, 0, 837, 5], [65, 795, 230, 836, 5])
    lenient = compute_metrics(preds, {}, MetricOptions(expert=expert))
    assert lenient["expert_top1_images"]["value"] == pytest.approx(2 / 3)
    assert lenient["expert_top1_images"]["n"] == 3
    assert lenient["expert_top1"]["classes"] == 3
    assert lenient["imagenet_m"]["hits"] == 2 and lenient["imagenet_m"]["of"] == 2
    assert lenient["label_files"]["expert"]["verified"] is False
    strict = compute_metrics(preds, {}, MetricOptions(expert=expert, strict=True))
    assert "expert_top1" not in strict
    assert strict["expert_strict_top1_images"]["value"] == pytest.approx(1 / 3)
    assert strict["imagenet_m"]["hits"] == 2  # ImageNet-M always accepts unclear classes
    merged = compute_metrics(preds, {}, MetricOptions(expert=expert, equivalences=True))
    assert merged["expert_top1_images"]["value"] == pytest.approx(3 / 3)
    assert merged["top1"]["value"] == pytest.approx(2 / 5)
    assert merged["top1_equiv"]["value"] == pytest.approx(3 / 5)  # sunglasses for sunglass
    assert merged["options"]["equivalences"] is True


def test_skips_say_why(expert):
    preds = Predictions(
        np.array(["other.jpg"], dtype=object), np.array([3]), np.array([[3]], dtype=np.int16)
    )
    metrics = compute_metrics(preds, {}, MetricOptions(expert=expert))
    assert "expert multi-label file" in metrics["skipped"]["expert_top1"]
    assert "ImageNet-M" in metrics["skipped"]["imagenet_m"]
    assert "top-1 predictions" in metrics["skipped"]["top5"]
    assert "probabilities" in metrics["skipped"]["calibration"]


def test_calibration_when_probabilities_are_stored():
    probs = np.array([[0.9, 0.05], [0.8, 0.1], [0.6, 0.3], [0.3, 0.2]], dtype=np.float32)
    metrics = compute_metrics(predictions([1, 2, 3, 4], [1, 2, 0, 0], probs))
    # with 15 bins each confidence has a bin of its own: ECE = mean |correct - confidence|
    expected = (abs(1 - 0.9) + abs(1 - 0.8) + abs(0 - 0.6) + abs(0 - 0.3)) / 4
    assert metrics["ece"]["value"] == pytest.approx(expected, abs=1e-6)
    assert sum(b["count"] for b in metrics["calibration"]["bins"]) == 4


def test_imagenetv2_view_single_vs_multi_label():
    ids, labels = imagenetv2_index("matched-frequency")
    sets = imagenetv2_multilabel_sets().align(ids.tolist())
    # a "model" that always predicts the original single label, then class 0
    topk = np.stack([labels, np.zeros_like(labels)], axis=1).astype(np.int16)
    preds = Predictions(ids, labels, topk)
    metrics = compute_metrics(preds, {"multilabel": sets})
    assert metrics["top1"]["value"] == 1.0
    assert round(100 * metrics["multilabel_share_2plus"]["value"], 1) == 47.9
    in_set = np.array([labels[i] in sets.labels_of(i) for i in range(len(ids))])
    evaluable = sets.evaluable
    assert metrics["multilabel_top1"]["value"] == pytest.approx(in_set[evaluable].mean())
    assert metrics["multilabel_vtopk_subgroups"]["subgroups"][0]["labels"] == 1
    outcomes, _ = metric_outcomes(preds, {"multilabel": sets})
    assert {"multilabel_vtopk", "multilabel_vtopk_soft", "multilabel_asma"} <= outcomes.keys()
