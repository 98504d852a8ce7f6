"""Which WordNet relatives of a predicted class a CLIP model weighs to spot an unlisted kind.

A *fine-grained out-of-vocabulary* mistake (Vasudevan et al. 2022) shows an object of a kind the
1000 classes lack (a beanie, a hound of an unlisted breed) and the model names its closest
ImageNet relative. Following Peychev et al. 2023 ("Automated Classification of Model Errors on
ImageNet", NeurIPS; eth-sri/automated-error-analysis), reassess proposes WordNet synsets around
the prediction and lets a CLIP model pick the one the image shows (:func:`oov_proposals`); the
mistake is out-of-vocabulary when the winner is not an ImageNet class
(:func:`reassess.inference.oov_clip.oov_verdict`).

Proposals, each lemma of a synset one text ``"a photo of a {lemma}."``: the predicted class, the
ImageNet classes of its fine superclass, its WordNet siblings and its ancestors below a
metaclass (``dog``, ``device``, ``food``, ...; see ``scripts/build_oov_proposals.py``). Synsets
that are ancestors of a valid label of the image are left out: "dog" must not win for a labelled
beagle. Where Peychev et al. first require CLIP's nearest *training* images to share the
prediction's superclass (an index of 1.28M embeddings reassess does not ship), reassess adds the
image's valid labels themselves as in-vocabulary candidates: when CLIP prefers a valid label to
every relative of the prediction, the image is not showing an unlisted relative of it.

This module only builds the texts; the images and the CLIP model live in
:mod:`reassess.inference.oov_clip`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from reassess.labels.hierarchy import ImageNetHierarchy, imagenet_hierarchy
from reassess.labels.imagenet import imagenet_classes
from reassess.labels.resources import load_json

PROMPT = "a photo of a {}."
#: Where a proposal comes from (the order they are listed in).
PROPOSAL_KINDS = ("prediction", "superclass", "sibling", "ancestor", "valid label")


@dataclass(frozen=True)
class Proposal:
    """One candidate description of the image: a WordNet synset's lemma as a CLIP prompt."""

    text: str
    lemma: str
    wnid: str
    kind: str
    in_vocabulary: bool


@dataclass(frozen=True)
class WordNetProposals:
    """The shipped siblings, ancestors and lemmas of every ImageNet class (full WordNet 3.0)."""

    siblings: tuple[tuple[str, ...], ...]
    ancestors: tuple[tuple[str, ...], ...]
    lemmas: dict[str, tuple[str, ...]]


@lru_cache(maxsize=1)
def wordnet_proposals() -> WordNetProposals:
    """``oov_proposals.json.gz``, built by ``scripts/build_oov_proposals.py``, loaded once."""
    payload = load_json("oov_proposals.json.gz")
    if payload["wnids"] != list(imagenet_classes().wnids):
        raise ValueError("oov_proposals.json.gz does not list the ImageNet classes in order")
    return WordNetProposals(
        siblings=tuple(tuple(s) for s in payload["siblings"]),
        ancestors=tuple(tuple(a) for a in payload["ancestors"]),
        lemmas={w: tuple(v) for w, v in payload["lemmas"].items()},
    )


def oov_proposals(
    prediction: int,
    valid_labels: Sequence[int],
    *,
    hierarchy: ImageNetHierarchy | None = None,
    table: WordNetProposals | None = None,
) -> list[Proposal]:
    """Every prompt a CLIP model scores to decide whether ``prediction`` stands for an unlisted kind.

    Examples
    --------
    >>> props = oov_proposals(414, [487])  # backpack, on an image labelled cellular telephone
    >>> props[0].lemma, props[0].in_vocabulary
    ('backpack', True)
    >>> any(not p.in_vocabulary for p in props), props[-1].kind
    (True, 'valid label')
    """
    h = hierarchy or imagenet_hierarchy()
    t = table or wordnet_proposals()
    classes = imagenet_classes()
    wnids = classes.wnids
    in_vocab = set(wnids)
    blocked: set[str] = set()
    for c in valid_labels:
        blocked.update(h.ancestors(int(c), all_paths=True))
    fine_ids, _ = h.superclass_array("fine")
    same_fine = np.flatnonzero(fine_ids == fine_ids[prediction])
    groups = [
        ("prediction", [wnids[prediction]]),
        ("superclass", [wnids[c] for c in same_fine if c != prediction]),
        ("sibling", list(t.siblings[prediction])),
        ("ancestor", list(t.ancestors[prediction])),
        ("valid label", [wnids[int(c)] for c in valid_labels]),
    ]
    seen: set[str] = set()
    out: list[Proposal] = []
    for kind, members in groups:
        for wnid in members:
            if wnid in seen or (kind in ("sibling", "ancestor") and wnid in blocked):
                continue
            seen.add(wnid)
            lemmas = t.lemmas.get(wnid) or tuple(
                s.lower() for s in classes.synonyms[classes.index_of(wnid)]
            )
            for lemma in dict.fromkeys(lemmas):
                out.append(Proposal(PROMPT.format(lemma), lemma, wnid, kind, wnid in in_vocab))
    return out
