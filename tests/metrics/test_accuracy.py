import json

import numpy as np
import pytest

from reassess.datasets.imagenet import real_label_sets, val_file_names
from reassess.labels import LabelSets
from reassess.labels.resources import load_json
from reassess.metrics import per_class_accuracy, set_accuracy, topk_accuracy
from reassess.metrics.suite import compute_metrics
from reassess.store.predictions import Predictions
from tests.conftest import SHARED_DATA


def test_topk_accuracy_hand_computed():
    topk = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9], [0, 1, 2]])
    labels = np.array([1, 6, 0, -1])  # the last sample is unlabeled and skipped
    assert topk_accuracy(topk, labels, k=1).value == pytest.approx(1 / 3)
    assert topk_accuracy(topk, labels, k=3).value == pytest.approx(2 / 3)
    assert topk_accuracy(topk, labels, k=3).n == 3
    with pytest.raises(ValueError, match="top-4"):
        topk_accuracy(topk, labels, k=4)


def test_set_accuracy_excludes_empty_sets():
    sets = LabelSets.from_lists("real", ["a", "b", "c", "d"], [[1, 2], [3], [], [5]])
    topk = np.array([[2, 0], [0, 3], [1, 1], [4, 4]])
    assert set_accuracy(topk, sets, k=1).value == pytest.approx(1 / 3)
    assert set_accuracy(topk, sets, k=2).value == pytest.approx(2 / 3)
    assert set_accuracy(topk, sets, k=1).n == 3


def test_per_class_accuracy():
    acc, support = per_class_accuracy(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), num_classes=4)
    assert support.tolist() == [1, 1, 2, 0]
    assert acc[:3].tolist() == [1.0, 1.0, 0.5] and np.isnan(acc[3])


def test_real_accuracy_equals_plain_computation_from_real_json(val_labels):
    """ReaL top-1 of any predictions equals the loop in the ReaL authors' README."""
    real = load_json("real.json.gz")
    rng = np.random.default_rng(0)
    predictions = np.where(rng.random(50_000) < 0.7, val_labels, rng.integers(0, 1000, 50_000))
    plain = np.mean([predictions[i] in real[i] for i in range(50_000) if real[i]])
    ours = set_accuracy(predictions, real_label_sets())
    assert ours.value == pytest.approx(plain, abs=1e-12)
    assert ours.n == sum(1 for r in real if r) == 46_837


def test_original_labels_score_90_percent_real_accuracy(val_labels):
    """ "Are we done with ImageNet?": the original labels are 90.0% ReaL-accurate (Table 1 / Sec. 3)."""
    acc = set_accuracy(val_labels, real_label_sets())
    assert round(acc.value, 3) == 0.900


@pytest.mark.skipif(
    not (SHARED_DATA / "reassessed-imagenet").exists(), reason="../shared/data absent"
)
def test_shipped_real_labels_equal_source():
    source = json.loads((SHARED_DATA / "reassessed-imagenet" / "real.json").read_text())
    assert load_json("real.json.gz") == source


def test_compute_metrics_reports_skipped_metrics(val_labels):
    ids = val_file_names()[:4]
    preds = Predictions(ids, val_labels[:4], np.array(val_labels[:4, None], dtype=np.int16))
    metrics = compute_metrics(preds, {"real": real_label_sets().align(ids.tolist())})
    assert metrics["top1"]["value"] == 1.0
    assert "top5" not in metrics and "only top-1" in metrics["skipped"]["top5"]
