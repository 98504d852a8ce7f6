"""Agreement between reviewers: kappas against published/hand-computed values and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from reassess.review.agreement import cohen_kappa, fleiss_kappa, verdict_agreement

# The worked example of Fleiss' kappa (10 items, 14 raters, 5 categories; Wikipedia, "Fleiss'
# kappa"): P = 0.378, P_e = 0.213, kappa = 0.210.
FLEISS_EXAMPLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def test_fleiss_kappa_matches_the_worked_example():
    assert fleiss_kappa(FLEISS_EXAMPLE) == pytest.approx(0.2099, abs=5e-4)
    assert fleiss_kappa(np.array([[2, 0], [0, 2], [1, 1]])) == pytest.approx(1 / 3)
    assert fleiss_kappa(np.array([[3, 0], [2, 0]])) is None  # one category: kappa undefined
    with pytest.raises(ValueError):
        fleiss_kappa(np.array([[1, 0]]))


def test_cohen_kappa_matches_scikit_learn():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(0)
    for _ in range(5):
        a = rng.choice(["n", "f", "m", "x"], size=40).tolist()
        b = [x if rng.random() < 0.6 else rng.choice(["n", "f", "m", "x"]) for x in a]
        assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    assert cohen_kappa(["n", "n"], ["n", "n"]) is None


def test_verdict_agreement_by_hand():
    verdicts = {
        "a.jpg": {"alice": "major", "bob": "major"},
        "b.jpg": {"alice": "fine_grained", "bob": "major"},
        "c.jpg": {"alice": "not_a_mistake", "bob": "not_a_mistake", "carol": "fine_grained"},
        "d.jpg": {"alice": "major"},  # one review: not counted
    }
    mistakes = {"major": True, "fine_grained": True}
    result = verdict_agreement(verdicts, is_mistake=mistakes)
    assert result.items == 3
    assert result.unanimous.count == 1 and result.unanimous.value == pytest.approx(1 / 3)
    # pairs: a 1/1, b 0/1, c 1/3 -> 2 of 5
    assert result.pairwise == pytest.approx(2 / 5)
    # mistake or not: a yes/yes, b yes/yes, c no/no/yes -> 2 of 3 unanimous
    assert result.mistake_unanimous.value == pytest.approx(2 / 3)
    pair = {(p.a, p.b): p for p in result.pairs}
    assert pair["alice", "bob"].n == 3 and pair["alice", "bob"].agreement == pytest.approx(2 / 3)
    assert pair["alice", "carol"].n == 1 and pair["alice", "carol"].agreement == 0.0
    counts = np.array([[0, 2, 0], [1, 1, 0], [1, 0, 2]])  # fine_grained, major, not_a_mistake
    assert result.fleiss_kappa == pytest.approx(fleiss_kappa(counts))
    empty = verdict_agreement({"d.jpg": {"alice": "major"}}).to_dict()
    assert empty["items"] == 0 and empty["unanimous"]["value"] is None
