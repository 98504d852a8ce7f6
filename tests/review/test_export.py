"""Export of reviews as an expert multi-label file: majority rules, schema, merging."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reassess.labels.expert import UnverifiedLabelsWarning, load_expert_multilabels
from reassess.labels.imagenet import imagenet_classes
from reassess.review.export import consensus, export_labels
from reassess.review.store import Review, ReviewStore
from tests.conftest import FIXTURES

DUMMY = FIXTURES / "dummy_human_accuracy_fixed.json"
WN = imagenet_classes().wnids
TENCH, GOLDFISH, TABBY, TIGER_CAT, EGYPTIAN = WN[0], WN[1], WN[281], WN[282], WN[285]
VAL_A, VAL_B, VAL_C = (f"ILSVRC2012_val_{i:08d}.JPEG" for i in (236, 293, 559))


def rev(reviewer, sample, verdict, valid, shown=(), severity=None):
    if verdict in ("fine_grained", "major") and severity is None:
        severity = "minor" if verdict == "fine_grained" else "major"
    return Review(reviewer, sample, verdict, severity, tuple(valid), tuple(shown) or tuple(valid))


def test_majority_gives_correct_disagreement_gives_unclear():
    shown = (GOLDFISH, TIGER_CAT, TABBY, EGYPTIAN)
    one = consensus([rev("a", VAL_A, "not_a_mistake", [TIGER_CAT, TABBY], shown)])
    assert one.correct == [TIGER_CAT, TABBY] and one.unclear == []
    assert one.wrong == [GOLDFISH, EGYPTIAN] and not one.problematic and not one.major
    three = consensus(
        [
            rev("a", VAL_A, "not_a_mistake", [TIGER_CAT, TABBY], shown),
            rev("b", VAL_A, "not_a_mistake", [TIGER_CAT], shown),
            rev("c", VAL_A, "major", [EGYPTIAN], shown),
        ]
    )
    assert three.correct == [TIGER_CAT]  # 2 of 3
    assert three.unclear == [TABBY, EGYPTIAN]  # 1 of 3 each
    assert three.wrong == [GOLDFISH]
    two = consensus(
        [rev("a", VAL_A, "major", [GOLDFISH]), rev("b", VAL_A, "major", [GOLDFISH, TABBY])]
    )
    assert two.correct == [GOLDFISH] and two.unclear == [TABBY] and two.major  # 1 of 2: unclear
    split = consensus([rev("a", VAL_A, "problematic", []), rev("b", VAL_A, "major", [TENCH])])
    assert not split.problematic and not split.major  # half is no majority


def test_export_loads_with_the_expert_loader(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite")
    store.save(rev("alice", VAL_A, "not_a_mistake", [TIGER_CAT, TABBY], [GOLDFISH, TIGER_CAT]))
    store.save(rev("bob", VAL_A, "not_a_mistake", [TIGER_CAT], [GOLDFISH, TIGER_CAT, TABBY]))
    store.save(rev("alice", VAL_B, "problematic", [TENCH]))
    store.save(rev("alice", VAL_C, "major", [WN[812]], [WN[812], WN[518]]))
    out = tmp_path / "labels.json"
    summary = export_labels(store, out)
    assert (summary.images, summary.reviews, summary.reviewers) == (3, 4, ["alice", "bob"])
    assert (summary.problematic, summary.major, summary.with_extra_labels) == (1, 1, 1)
    data = json.loads(out.read_text())
    assert set(data) == {"initial_annots", "problematic_images", "imagenet_m"}
    assert data["initial_annots"][VAL_A] == {
        "correct": [TIGER_CAT],
        "unclear": [TABBY],
        "wrong": [GOLDFISH],
    }
    assert data["imagenet_m"] == [VAL_C]
    with pytest.warns(UnverifiedLabelsWarning):
        labels = load_expert_multilabels(out, verify=False)
    assert labels.problematic == {VAL_B}
    accepted = labels.accepted().align([VAL_A, VAL_B, VAL_C])
    # problematic images drop out; VAL_A accepts tiger cat and (lenient) tabby
    assert accepted.annotated.tolist() == [True, False, True]
    assert accepted.labels_of(0) == [281, 282] and accepted.labels_of(2) == [812]
    hits = accepted.contains(np.array([282, 0, 518]))
    assert hits.tolist() == [True, False, False]
    only_bob = export_labels(store, tmp_path / "bob.json", reviewers=["bob"])
    assert only_bob.images == 1
    bob = json.loads((tmp_path / "bob.json").read_text())
    assert bob["initial_annots"][VAL_A]["correct"] == [TIGER_CAT]


def test_merge_extends_the_expert_file_and_replaces_reviewed_images(tmp_path):
    base = json.loads(DUMMY.read_text())
    reviewed = "ILSVRC2012_val_00000001.JPEG"  # in the file: correct n01751748 (sea snake)
    assert reviewed in base["initial_annots"] and reviewed in base["imagenet_m"]
    store = ReviewStore(tmp_path / "r.sqlite")
    store.save(rev("alice", reviewed, "fine_grained", [WN[65], WN[62]], [WN[65], WN[62], WN[1]]))
    store.save(rev("alice", VAL_C, "major", [WN[812]]))
    out = tmp_path / "merged.json"
    summary = export_labels(store, out, merge=DUMMY)
    data = json.loads(out.read_text())
    assert summary.merged_images == len(base["initial_annots"]) - 1
    assert set(data["initial_annots"]) == set(base["initial_annots"]) | {VAL_C}
    assert data["initial_annots"][reviewed]["correct"] == [WN[65], WN[62]]
    assert reviewed not in data["imagenet_m"]  # a minor mistake per the review
    assert data["imagenet_m"][-1] == VAL_C
    untouched = next(f for f in base["initial_annots"] if f != reviewed)
    assert data["initial_annots"][untouched] == base["initial_annots"][untouched]
    with pytest.warns(UnverifiedLabelsWarning):
        assert len(load_expert_multilabels(out, verify=False).sample_ids) == summary.images + (
            summary.merged_images
        )


def test_export_errors_are_clear(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite")
    with pytest.raises(ValueError, match="no reviews to export"):
        export_labels(store, tmp_path / "x.json")
    store.save(rev("alice", "n02123045/cat.jpg", "major", [TABBY]))
    summary = export_labels(store, tmp_path / "folder.json")  # class-folder ids: written as is
    assert summary.val_images == 0
    not_schema = tmp_path / "bad.json"
    not_schema.write_text('{"initial_annots": {}}')
    with pytest.raises(ValueError, match="missing key"):
        export_labels(store, tmp_path / "x.json", merge=not_schema)
    assert not (tmp_path / "x.json").exists()
