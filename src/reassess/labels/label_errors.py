"""Crowd-validated label errors in the ImageNet val set (cleanlab/label-errors, Apache-2.0).

Northcutt, Athalye & Mueller 2021, "Pervasive Label Errors in Test Sets Destabilize Machine
Learning Benchmarks" (NeurIPS Datasets and Benchmarks) flagged 5,440 val images with confident
learning and showed each to five Mechanical Turk workers, who chose between the original
(``given``) label, the label the algorithm guessed (``guessed``), ``both`` or ``neither``.

Rule (the paper's, Section 3, and it reproduces its ImageNet counts exactly): an image's original
label is a *validated label error* when fewer than 3 of the 5 workers chose ``given`` alone
(2,916 images). Each error falls in one category by majority (3+ votes):

- ``correctable`` (1,428): a majority chose the guessed label -> the corrected label is ``guessed``;
- ``multi-label`` (597): a majority chose ``both`` -> either label counts as right;
- ``neither`` (293): a majority chose neither -> no fitting label known, image excluded;
- ``non-agreement`` (598): no majority -> the right label is unknown, image excluded.

:func:`corrected_label_sets` applies this; :func:`cleaned_label_sets` drops every validated error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from reassess.labels.label_sets import LabelSets
from reassess.labels.resources import load_json

VOTE_KINDS = ("given", "guessed", "both", "neither")
WORKERS = 5
MAJORITY = 3
CATEGORIES = ("not an error", "correctable", "multi-label", "neither", "non-agreement")


@dataclass(frozen=True)
class LabelErrors:
    """The 5,440 flagged val images with their original and guessed labels and worker votes."""

    file_names: np.ndarray
    given: np.ndarray
    guessed: np.ndarray
    votes: np.ndarray

    def __len__(self) -> int:
        return len(self.file_names)

    def votes_for(self, kind: str) -> np.ndarray:
        """Number of workers (of 5) who chose ``kind`` (given, guessed, both, neither)."""
        return self.votes[:, VOTE_KINDS.index(kind)]

    @property
    def is_error(self) -> np.ndarray:
        """Validated label error: fewer than 3 of 5 workers chose the original label alone."""
        return self.votes_for("given") < MAJORITY

    @property
    def category(self) -> np.ndarray:
        """One of :data:`CATEGORIES` per flagged image."""
        out = np.full(len(self), "non-agreement", dtype=object)
        out[self.votes_for("neither") >= MAJORITY] = "neither"
        out[self.votes_for("both") >= MAJORITY] = "multi-label"
        out[self.votes_for("guessed") >= MAJORITY] = "correctable"
        out[~self.is_error] = "not an error"
        return out

    def counts(self) -> dict[str, int]:
        """How many flagged images fall in each category."""
        category = self.category
        return {c: int((category == c).sum()) for c in CATEGORIES}

    def valid_labels(self) -> list[list[int]]:
        """Per flagged image, the labels that count as right (empty: exclude the image)."""
        out = []
        for cat, given, guessed in zip(
            self.category, self.given.tolist(), self.guessed.tolist(), strict=True
        ):
            if cat == "not an error":
                out.append([given])
            elif cat == "correctable":
                out.append([guessed])
            elif cat == "multi-label":
                out.append([given, guessed])
            else:
                out.append([])
        return out


@lru_cache(maxsize=1)
def known_label_errors() -> LabelErrors:
    """The shipped crowd-validated label errors, keyed by val file name."""
    rows = load_json("cleanlab_label_errors.json.gz")
    return LabelErrors(
        file_names=np.array([r["file_name"] for r in rows], dtype=object),
        given=np.array([r["given"] for r in rows], dtype=np.int32),
        guessed=np.array([r["guessed"] for r in rows], dtype=np.int32),
        votes=np.array([[r["votes"][k] for k in VOTE_KINDS] for r in rows], dtype=np.int32),
    )


def _rows_of_errors(sample_ids: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the run that were flagged, and the matching rows of the error table."""
    errors = known_label_errors()
    position = {f: i for i, f in enumerate(errors.file_names.tolist())}
    pairs = [(r, position[s]) for r, s in enumerate(sample_ids.tolist()) if s in position]
    run_rows = np.array([p[0] for p in pairs], dtype=np.int64)
    err_rows = np.array([p[1] for p in pairs], dtype=np.int64)
    known = labels[run_rows] >= 0
    disagree = known & (labels[run_rows] != errors.given[err_rows])
    if disagree.any():
        first = int(np.flatnonzero(disagree)[0])
        r, e = int(run_rows[first]), int(err_rows[first])
        raise ValueError(
            f"{sample_ids[r]}: labelled {int(labels[r])} here but {int(errors.given[e])} "
            "in the cleanlab label-error list; these labels are not the ImageNet val labels"
        )
    return run_rows, err_rows


def corrected_label_sets(sample_ids: np.ndarray, labels: np.ndarray) -> LabelSets:
    """Original labels with the validated errors corrected (correctable, multi-label) or excluded.

    Images without a single label (``-1``) are excluded; images cleanlab did not flag keep their
    original label. See the module docstring for the rule.
    """
    sample_ids = np.asarray(sample_ids, dtype=object)
    labels = np.asarray(labels)
    sets: list[list[int]] = [[int(x)] if x >= 0 else [] for x in labels.tolist()]
    run_rows, err_rows = _rows_of_errors(sample_ids, labels)
    valid = known_label_errors().valid_labels()
    for r, e in zip(run_rows.tolist(), err_rows.tolist(), strict=True):
        sets[r] = valid[e]
    return LabelSets.from_lists("corrected", sample_ids.tolist(), sets)


def cleaned_label_sets(sample_ids: np.ndarray, labels: np.ndarray) -> LabelSets:
    """Original labels with every validated label error excluded (cleanlab's cleaned test set)."""
    sample_ids = np.asarray(sample_ids, dtype=object)
    labels = np.asarray(labels)
    sets: list[list[int]] = [[int(x)] if x >= 0 else [] for x in labels.tolist()]
    run_rows, err_rows = _rows_of_errors(sample_ids, labels)
    is_error = known_label_errors().is_error
    for r, e in zip(run_rows.tolist(), err_rows.tolist(), strict=True):
        if is_error[e]:
            sets[r] = []
    return LabelSets.from_lists("cleaned", sample_ids.tolist(), sets)
