"""The WordNet proposals of the out-of-vocabulary check, and the verdict they give."""

import numpy as np
import pytest

from reassess.inference.oov_clip import oov_verdict
from reassess.labels.hierarchy import imagenet_hierarchy
from reassess.labels.imagenet import imagenet_classes
from reassess.labels.wordnet_proposals import PROMPT, oov_proposals, wordnet_proposals

BACKPACK, CELLPHONE = 414, 487
BEAGLE, WALKER_HOUND = 162, 166
HOUND = "n02087551"


def test_proposals_reach_outside_the_1000_classes():
    props = oov_proposals(BACKPACK, [CELLPHONE])
    assert props[0].kind == "prediction" and props[0].lemma == "backpack"
    assert props[0].text == PROMPT.format("backpack")
    outside = [p for p in props if not p.in_vocabulary]
    assert outside and {p.kind for p in outside} <= {"sibling", "ancestor"}
    wnids = set(imagenet_classes().wnids)
    assert all((p.wnid in wnids) == p.in_vocabulary for p in props)
    # the valid labels compete too, as in-vocabulary candidates
    assert [p for p in props if p.kind == "valid label"][0].wnid == imagenet_classes().wnids[
        CELLPHONE
    ]


def test_ancestors_of_a_valid_label_are_never_proposed():
    """'hound' must not win for a labelled beagle predicted as a Walker hound."""
    h = imagenet_hierarchy()
    assert HOUND in h.ancestors(BEAGLE, all_paths=True)
    assert HOUND in wordnet_proposals().ancestors[WALKER_HOUND]
    with_label = {p.wnid for p in oov_proposals(WALKER_HOUND, [BEAGLE])}
    assert HOUND not in with_label
    assert HOUND in {p.wnid for p in oov_proposals(WALKER_HOUND, [])}


def test_the_fine_superclass_members_are_proposed():
    h = imagenet_hierarchy()
    fine, _ = h.superclass_array("fine")
    members = set(np.flatnonzero(fine == fine[BEAGLE]).tolist()) - {BEAGLE}
    wnids = imagenet_classes().wnids
    got = {p.wnid for p in oov_proposals(BEAGLE, []) if p.kind == "superclass"}
    assert got == {wnids[c] for c in members}


def test_verdict_is_the_most_similar_proposal():
    props = oov_proposals(BACKPACK, [CELLPHONE])
    outside = next(i for i, p in enumerate(props) if not p.in_vocabulary)
    sim = np.zeros(len(props))
    sim[outside] = 0.3
    v = oov_verdict(sim, props, prediction=BACKPACK, model="m")
    assert v.oov and v.best_lemma == props[outside].lemma and v.num_proposals == len(props)
    assert 0.9 < v.probability <= 1.0  # 0.3 apart at CLIP's scale of 100
    sim[0] = 0.5
    assert not oov_verdict(sim, props, prediction=BACKPACK, model="m").oov
    with pytest.raises(ValueError):
        oov_verdict(sim[:-1], props, prediction=BACKPACK, model="m")
