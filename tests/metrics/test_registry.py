"""The metric registry: every key compute_metrics emits is declared once, with title and direction;
the shipped expert top-1 figure checked against a recomputation straight from the files."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from reassess.datasets.base import parse_data_spec
from reassess.labels import imagenet_classes
from reassess.labels.expert import load_expert_multilabels
from reassess.labels.resources import data_file
from reassess.metrics.catalog import SET_TOPK
from reassess.metrics.registry import (
    REGISTRY,
    metric,
    metric_order,
    metric_title,
    metrics_for,
)
from reassess.metrics.suite import MetricOptions, compute_metrics, metric_outcomes
from reassess.store.importers import import_predictions
from reassess.store.predictions import Predictions
from tests.conftest import FIXTURES

DUMMY_EXPERT = FIXTURES / "dummy_human_accuracy_fixed.json"


def unverified_expert(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_expert_multilabels(path, verify=False)


@pytest.fixture(scope="module")
def resnet50(shipped_resnet50_predictions):
    """The shipped ResNet-50's top-1 on the 50,000 val images, in val file order."""
    return import_predictions(shipped_resnet50_predictions, parse_data_spec("imagenet-val"), k=1)


def test_shipped_expert_top1_is_the_mean_of_per_class_accuracies(
    resnet50, shipped_resnet50_predictions
):
    metrics = compute_metrics(resnet50, {}, MetricOptions(expert=unverified_expert(DUMMY_EXPERT)))

    # the same figure from the files alone: a hit when the top-1 wnid is 'correct' or 'unclear'
    # (an image with neither counts as a miss), problematic images left out, accuracy per
    # original class, then the mean over the classes that have expert-labelled images
    annotations = json.loads(DUMMY_EXPERT.read_text())
    problematic = set(annotations["problematic_images"])
    predicted = pd.read_parquet(shipped_resnet50_predictions).set_index("file_name")["prediction"]
    original = np.load(data_file("imagenet_val_labels.npy"))
    wnids = imagenet_classes().wnids
    images = []
    for file, states in annotations["initial_annots"].items():
        if not file.startswith("ILSVRC2012_val_") or file in problematic:
            continue
        accepted = set(states.get("correct", [])) | set(states.get("unclear", []))
        images.append(
            {
                "label": int(original[int(file[15:23]) - 1]),
                "hit": wnids[int(predicted[file])] in accepted,
            }
        )
    per_class = pd.DataFrame(images).groupby("label")["hit"].mean()

    expert_top1 = metrics["expert_top1"]
    assert round(expert_top1["value"], 4) == round(per_class.mean(), 4) == 0.8182
    assert expert_top1["n"] == len(images) == 11
    assert expert_top1["classes"] == per_class.size == 11
    assert metrics["expert_top1_images"]["n"] == 11


def test_expert_top1_averages_classes_not_images(resnet50, val_labels, tmp_path):
    # three val images of one class the ResNet gets right and one of a class it gets wrong
    right = np.flatnonzero(resnet50.top1 == val_labels)
    wrong = np.flatnonzero(resnet50.top1 != val_labels)
    first_class = val_labels[right[0]]
    picks = [*right[val_labels[right] == first_class][:3], wrong[0]]
    wnids = imagenet_classes().wnids
    path = tmp_path / "expert.json"
    annots = {resnet50.sample_ids[i]: {"correct": [wnids[val_labels[i]]]} for i in picks}
    path.write_text(
        json.dumps({"initial_annots": annots, "problematic_images": {}, "imagenet_m": []})
    )
    metrics = compute_metrics(resnet50, {}, MetricOptions(expert=unverified_expert(path)))
    assert metrics["expert_top1_images"]["value"] == pytest.approx(3 / 4)
    assert metrics["expert_top1"]["value"] == pytest.approx((1 + 0) / 2)
    assert metrics["expert_top1"]["classes"] == 2


def assert_registered(metrics):
    """Every key of a metrics dictionary, and every key its notes and skips name, is declared."""
    keys = [*metrics, *metrics["notes"], *metrics["skipped"]]
    unknown = [k for k in keys if k not in REGISTRY]
    assert not unknown, f"not in the metric registry: {unknown}"
    for key in keys:
        m = metric(key)
        assert m.key == key and m.title and m.title != key
        assert m.direction in ("higher", "lower", "neither") and m.description
    assert list(metrics) == metric_order(metrics)  # metrics.json comes in registry order


def test_the_resnet50_demo_run_emits_only_registered_keys(tmp_path, shipped_resnet50_predictions):
    from reassess.runs import import_run

    metrics = import_run(
        shipped_resnet50_predictions,
        "imagenet-val",
        tmp_path / "resnet50-imagenet-val",
        model_name="resnet50 (cleanlab/label-errors)",
        topk=1,
        allow_missing=False,
    )
    assert {"top1", "real_top1", "corrected_top1", "cleaned_top1", "real_share_2plus"} <= set(
        metrics
    )
    assert "expert_top1" in metrics["skipped"]  # ImageNet val without the expert file says why
    assert_registered(metrics)


@pytest.mark.slow
def test_the_lite0_demo_run_emits_only_registered_keys(tmp_path):
    from reassess.inference.runner import InferenceOptions
    from reassess.runs import evaluate

    options = InferenceOptions(batch_size=8, workers=0, progress=False)
    metrics = evaluate("lite0", "samples", tmp_path / "lite0-samples", options)
    assert {"valid_labels_top5", "ece", "calibration"} <= set(metrics)
    assert_registered(metrics)


def test_expert_strict_equivalences_and_top5_emit_only_registered_keys(resnet50, val_labels):
    # top-5 with probabilities: the ResNet's top-1, the label, then three fixed classes
    n = len(resnet50)
    topk = np.stack([resnet50.top1, val_labels, *np.full((3, n), [[1], [2], [3]])], axis=1)
    probs = np.tile(np.array([0.5, 0.2, 0.1, 0.1, 0.05], dtype=np.float32), (n, 1))
    predictions = Predictions(resnet50.sample_ids, resnet50.labels, topk.astype(np.int16), probs)
    real = parse_data_spec("imagenet-val").label_set_loaders["real"]()
    sets = {"real": real.align(resnet50.sample_ids.tolist())}
    expert = unverified_expert(DUMMY_EXPERT)
    for strict in (False, True):
        options = MetricOptions(expert=expert, strict=strict, equivalences=True)
        metrics = compute_metrics(predictions, sets, options)
        assert {"top5_equiv", "real_asma", "real_vtopk_subgroups", "imagenet_m", "ece"} <= set(
            metrics
        )
        assert_registered(metrics)


def test_a_label_set_the_registry_does_not_know_is_scored_with_a_fallback_title(resnet50):
    real = parse_data_spec("imagenet-val").label_set_loaders["real"]()
    sets = {"mine": real.align(resnet50.sample_ids.tolist())}
    metrics = compute_metrics(resnet50, sets)
    outcomes, skipped = metric_outcomes(resnet50, sets)
    assert metrics["mine_top1"] == outcomes["mine_top1"].proportion().to_dict()
    assert (
        metrics["mine_top1"]["value"]
        == compute_metrics(resnet50, {"real": sets["mine"]})["real_top1"]["value"]
    )
    assert "mine_top5" in skipped and "mine_top1" not in REGISTRY
    assert metric_title("mine_top1") == "mine top-1"


def test_one_declaration_per_key_pattern():
    members = metrics_for(family=SET_TOPK)
    assert [m.key for m in members if m.label_set == "real"] == ["real_top1", "real_top5"]
    assert all(m.key == SET_TOPK.key(m.label_set, m.k) for m in members)
    assert metric("corrected_top5").title == "Top-5, known label errors corrected"
    assert metric("ece").direction == "lower"
    assert metric("real_share_2plus").direction == "neither"  # describes the labels
    with pytest.raises(KeyError, match="not a registered metric"):
        metric("top3")
