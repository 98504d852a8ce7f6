"""The summary of the shipped ResNet-50's mistakes, each figure recomputed independently."""

from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest

from reassess.analysis.evidence import imagenet_x
from reassess.analysis.mistakes import (
    CATEGORIES,
    KINDS,
    VERDICTS,
    classify_mistakes,
    default_evidence,
)
from reassess.analysis.summary import (
    accuracy_ladder,
    imagenet_x_error_ratios,
    real_identity,
    summarize_mistakes,
)
from reassess.datasets.imagenet import real_label_sets, val_file_names, val_labels
from reassess.labels.hierarchy import imagenet_hierarchy
from reassess.labels.resources import data_file


@pytest.fixture(scope="module")
def run(shipped_resnet50_predictions):
    table = pq.read_table(shipped_resnet50_predictions)
    position = {f: i for i, f in enumerate(val_file_names().tolist())}
    preds = np.empty(50_000, dtype=np.int64)
    preds[[position[f] for f in table.column("file_name").to_pylist()]] = table.column(
        "prediction"
    ).to_numpy()
    ids, labels = val_file_names(), val_labels().astype(np.int64)
    sets = {"real": real_label_sets().align(ids.tolist())}
    ev = default_evidence()
    mistakes = classify_mistakes(ids, labels, preds, label_sets=sets, evidence=ev)
    summary = summarize_mistakes(
        mistakes, ids, labels, preds, label_sets=sets, imagenet_x=ev.imagenet_x
    )
    return ids, labels, preds, sets, mistakes, summary


def test_category_counts_and_shares(run):
    *_, mistakes, summary = run
    assert summary["num_mistakes"] == len(mistakes) == 13_634
    assert [c["key"] for c in summary["categories"]] == list(CATEGORIES)
    counts = Counter(mistakes.category.tolist())
    for c in summary["categories"]:
        assert c["count"] == counts[c["key"]]
        assert c["share_of_mistakes"]["value"] == pytest.approx(c["count"] / 13_634)
        assert c["share_of_images"] == pytest.approx(c["count"] / 50_000)
        lo, hi = c["share_of_mistakes"]["ci95"]
        assert lo <= c["share_of_mistakes"]["value"] <= hi
        by_severity = c["minor"] + c["borderline"] + c["major"]
        assert by_severity == (0 if c["key"] in VERDICTS else c["count"]), c["key"]
    assert sum(c["count"] for c in summary["categories"]) == 13_634
    assert sum(summary["severity"].values()) == 13_634
    assert summary["severity"]["none"] == int(np.isin(mistakes.category, VERDICTS).sum())
    kinds = Counter(mistakes["kind"].tolist())
    assert summary["kinds"] == {k: kinds[k] for k in KINDS}


def test_real_identity_holds_and_can_fail(run):
    ids, labels, preds, sets, mistakes, summary = run
    ident = summary["identities"]["real"]
    assert ident["holds"]
    assert ident["mistakes_in_set"] == ident["set_correct_original_wrong"] == 2733
    assert ident["set_evaluable"] == 46_837
    assert summary["not_a_mistake_sources"]["real"] == 2733
    # Mistakes classified without ReaL do not account for what ReaL implies.
    without = classify_mistakes(ids, labels, preds)
    assert not real_identity(without, labels, preds, sets["real"], "real")["holds"]


def test_accuracy_ladder(run):
    ids, labels, preds, sets, mistakes, summary = run
    ladder = {step["key"]: step for step in summary["ladder"]}
    assert list(ladder) == ["top1", "real_top1", "not_a_mistake_forgiven", "minor_forgiven"]
    assert ladder["top1"]["value"] == pytest.approx(0.72732)  # as metrics.json
    assert ladder["real_top1"]["value"] == pytest.approx(0.776138522962615)
    assert ladder["real_top1"]["n"] == 46_837
    correct = int((preds == labels).sum())
    nam = int((mistakes.category == "not_a_mistake").sum())
    # forgiven: every verdict, and minor or borderline mistakes (the paper counts both as minor)
    not_major = int((mistakes.severity != "major").sum())
    assert ladder["not_a_mistake_forgiven"]["value"] == pytest.approx((correct + nam) / 50_000)
    assert ladder["minor_forgiven"]["value"] == pytest.approx((correct + not_major) / 50_000)
    values = [ladder[k]["value"] for k in ("top1", "not_a_mistake_forgiven", "minor_forgiven")]
    assert values == sorted(values)
    # expert rung: appears when expert sets are given
    expert = real_label_sets().align(ids.tolist())
    keys = [s["key"] for s in accuracy_ladder(mistakes, labels, preds, expert=expert)]
    assert "expert_top1" in keys


def test_most_confused_pairs(run):
    _, labels, preds, _, _, summary = run
    wrong = preds != labels
    counted = Counter(zip(labels[wrong].tolist(), preds[wrong].tolist(), strict=True))
    (top_pair, top_count), *_ = counted.most_common(1)
    first = summary["confused_pairs"][0]
    assert (first["label"], first["prediction"]) == top_pair
    assert first["count"] == top_count == 29
    assert first["label_name"] == "horned viper" and first["prediction_name"] == "sidewinder"
    assert sum(first["categories"].values()) == first["count"]
    counts = [p["count"] for p in summary["confused_pairs"]]
    assert counts == sorted(counts, reverse=True) and len(counts) == 20


def test_per_superclass_accuracy(run):
    _, labels, preds, _, _, summary = run
    groups, names = imagenet_hierarchy().superclass_array("coarse")
    dog = next(g for g, (_, name) in enumerate(names) if name == "dog")
    members = groups[labels] == dog
    row = next(s for s in summary["superclasses"] if s["name"] == "dog")
    assert row["n"] == int(members.sum()) == 5_900
    assert row["top1"]["value"] == pytest.approx((preds[members] == labels[members]).mean())
    assert sum(s["n"] for s in summary["superclasses"]) == 50_000
    tops = [s["top1"]["value"] for s in summary["superclasses"]]
    assert tops == sorted(tops)


def test_imagenet_x_error_ratio_matches_a_direct_count(run):
    """(1 - acc on a factor) / (1 - acc) on annotated non-prototype images, read straight from
    the shipped parquet."""
    ids, labels, preds, _, _, summary = run
    table = pq.read_table(data_file("imagenet_x_val.parquet")).to_pandas()
    table = table[~table.prototype]
    rows = table.file_name.str[15:23].astype(int).to_numpy() - 1
    assert (labels[rows] == table.label.to_numpy()).all()
    correct = preds[rows] == labels[rows]
    overall = correct.mean()
    got = {f["factor"]: f for f in summary["imagenet_x"]["factors"]}
    for factor in ("texture", "pose", "smaller"):
        on = (table.top_factor == factor).to_numpy()
        expected = (1 - correct[on].mean()) / (1 - overall)
        assert got[factor]["error_ratio"] == pytest.approx(expected)
        assert got[factor]["n"] == int(on.sum())
    assert summary["imagenet_x"]["accuracy"]["n"] == len(table) == 46_110
    multi = imagenet_x_error_ratios(ids, labels, preds, imagenet_x(), which="multi")
    pose = next(f for f in multi["factors"] if f["factor"] == "pose")
    assert pose["n"] == int(table.pose.sum())


def test_no_imagenet_x_for_other_datasets():
    ids = np.array(["cls/a.jpg", "cls/b.jpg"], dtype=object)
    labels, preds = np.array([0, 1]), np.array([0, 404])
    m = classify_mistakes(ids, labels, preds)
    s = summarize_mistakes(m, ids, labels, preds, imagenet_x=imagenet_x())
    assert s["imagenet_x"] is None
    assert s["identities"] == {}
    assert [step["key"] for step in s["ladder"]] == [
        "top1",
        "not_a_mistake_forgiven",
        "minor_forgiven",
    ]
