"""Export of reviews as an expert multi-label file: majority rules, schema, merging."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from reassess.labels.expert import REVIEW_KEY, load_expert_multilabels
from reassess.labels.imagenet import imagenet_classes
from reassess.labels.resources import file_sha256
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
    assert set(data) == {"initial_annots", "problematic_images", "imagenet_m", REVIEW_KEY}
    assert data[REVIEW_KEY]["sample_ids"] == [VAL_A, VAL_B, VAL_C]
    assert data[REVIEW_KEY]["reviewers"] == ["alice", "bob"]
    assert data["initial_annots"][VAL_A] == {
        "correct": [TIGER_CAT],
        "unclear": [TABBY],
        "wrong": [GOLDFISH],
    }
    assert data["imagenet_m"] == [VAL_C]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a reviewed file is not the published one: no warning
        labels = load_expert_multilabels(out)  # verify=True: the checksum is the published file's
    assert labels.reviewed and not labels.verified
    assert labels.describe()["source"] == "reassess review export"
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
    assert data[REVIEW_KEY]["sample_ids"] == [reviewed, VAL_C]
    assert data[REVIEW_KEY]["merged_from"]["sha256"] == file_sha256(DUMMY)
    assert data[REVIEW_KEY]["merged_from"]["published"] is False
    merged = load_expert_multilabels(out)
    assert len(merged.sample_ids) == summary.images + summary.merged_images


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


def test_class_folder_ids_load_as_the_reviewed_runs_own_images(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite")
    cat, cup = "n02123045/chelsea.jpg", "967/coffee.jpg"
    store.save(rev("alice", cat, "not_a_mistake", [TABBY, TIGER_CAT]))
    store.save(rev("alice", cup, "major", [WN[967]], [WN[967], WN[968]]))
    summary = export_labels(store, tmp_path / "folder.json")
    assert (summary.images, summary.val_images, summary.run_images) == (2, 0, None)
    labels = load_expert_multilabels(tmp_path / "folder.json")
    assert labels.reviewed and labels.other_images == 0
    accepted = labels.accepted().align([cup, "n04266014/rocket.jpg", cat])
    assert accepted.annotated.tolist() == [True, False, True]
    assert accepted.contains(np.array([968, 812, 282])).tolist() == [False, False, True]
    assert labels.imagenet_m == (cup,)


def test_export_for_a_run_records_it_and_refuses_reviews_of_other_images(tmp_path):
    from reassess.store.predictions import Predictions
    from tests.conftest import skimage_photo, store_run

    photos = tmp_path / "photos"
    (photos / "n02123045").mkdir(parents=True)
    skimage_photo("chelsea").save(photos / "n02123045" / "chelsea.jpg", quality=85)
    predictions = Predictions(
        sample_ids=np.array(["n02123045/chelsea.jpg"], dtype=object),
        labels=np.array([281], dtype=np.int32),
        topk=np.array([[282, 281, 285, 287, 904]], dtype=np.int16),
    )
    run = store_run(tmp_path / "run", "hand-made", f"folder:{photos}", predictions)
    store = ReviewStore(tmp_path / "r.sqlite")
    store.save(rev("alice", "n02123045/chelsea.jpg", "not_a_mistake", [TABBY, TIGER_CAT]))
    store.save(rev("alice", "n02123045/other.jpg", "not_a_mistake", [TABBY]))
    summary = export_labels(store, tmp_path / "labels.json", run=run)
    assert (summary.images, summary.run_images) == (2, 1)
    review = json.loads((tmp_path / "labels.json").read_text())[REVIEW_KEY]
    assert review["run"] == str(run.resolve()) and review["data"] == f"folder:{photos}"
    other = ReviewStore(tmp_path / "other.sqlite")
    other.save(rev("alice", VAL_A, "major", [GOLDFISH]))
    with pytest.raises(ValueError, match="none of the 1 reviewed images"):
        export_labels(other, tmp_path / "x.json", run=run)
    assert not (tmp_path / "x.json").exists()
