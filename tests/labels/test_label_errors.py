"""cleanlab's crowd-validated ImageNet val label errors and the corrected / cleaned label sets."""

import numpy as np
import pytest

from reassess.datasets.imagenet import val_file_names
from reassess.labels.label_errors import (
    cleaned_label_sets,
    corrected_label_sets,
    known_label_errors,
)


def test_the_rule_reproduces_the_papers_imagenet_counts():
    # Northcutt et al. 2021, Table 2 (ImageNet val): 5,440 flagged, 2,916 validated errors:
    # 1,428 correctable, 597 multi-label, 293 neither, 598 non-agreement
    errors = known_label_errors()
    assert len(errors) == 5_440
    assert int(errors.is_error.sum()) == 2_916
    assert errors.counts() == {
        "not an error": 2_524,
        "correctable": 1_428,
        "multi-label": 597,
        "neither": 293,
        "non-agreement": 598,
    }
    assert (errors.votes.sum(axis=1) == 5).all()


def test_given_labels_are_the_original_val_labels(val_labels):
    errors = known_label_errors()
    rows = np.array([int(f[15:23]) - 1 for f in errors.file_names])
    assert (val_labels[rows] == errors.given).all()


def test_corrected_and_cleaned_sets_for_hand_checked_images(val_labels):
    ids = val_file_names()
    corrected = corrected_label_sets(ids, val_labels)
    cleaned = cleaned_label_sets(ids, val_labels)
    row = {f: i for i, f in enumerate(ids)}
    # given 2, guessed 147; votes given 0, guessed 3, neither 1, both 1 -> correctable
    r = row["ILSVRC2012_val_00031720.JPEG"]
    assert corrected.labels_of(r) == [147] and cleaned.labels_of(r) == []
    # given 0, guessed 48; all five workers chose the given label -> not an error
    r = row["ILSVRC2012_val_00000293.JPEG"]
    assert corrected.labels_of(r) == [0] and cleaned.labels_of(r) == [0]
    # given 0, guessed 389; votes given 2, guessed 1, neither 2 -> no majority, excluded
    r = row["ILSVRC2012_val_00037383.JPEG"]
    assert corrected.labels_of(r) == [] and cleaned.labels_of(r) == []
    # an image cleanlab never flagged keeps its original label
    r = row["ILSVRC2012_val_00000001.JPEG"]
    assert corrected.labels_of(r) == [int(val_labels[r])]
    assert int(corrected.evaluable.sum()) == 50_000 - 293 - 598
    assert int(cleaned.evaluable.sum()) == 50_000 - 2_916
    assert int((corrected.counts == 2).sum()) == 597  # multi-label: either label counts


def test_labels_that_are_not_the_val_labels_are_refused(val_labels):
    wrong = val_labels.copy()
    wrong[292] = (wrong[292] + 1) % 1000  # ILSVRC2012_val_00000293.JPEG
    with pytest.raises(ValueError, match="ILSVRC2012_val_00000293.JPEG.*cleanlab"):
        corrected_label_sets(val_file_names(), wrong)
