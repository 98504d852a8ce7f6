"""Build the class lists of ImageNet-A, ImageNet-R and ObjectNet that ship in the package.

Every list is read out of the datasets' own public code, never typed by hand, and cross-checked
against a second public source:

- ImageNet-A (Hendrycks et al. 2021, "Natural Adversarial Examples"): ``thousand_k_to_200`` in
  hendrycks/natural-adv-examples ``eval.py`` (MIT), checked against ``class_sublist`` in
  modestyachts/imagenet-testbed ``src/eval_settings/imagenet_a.py`` (MIT).
- ImageNet-R (Hendrycks et al. 2021, "The Many Faces of Robustness"): ``imagenet_r_wnids`` in
  hendrycks/imagenet-r ``eval.py`` (MIT), checked against imagenet-testbed's ``imagenet_r.py``.
- ObjectNet (Barbu et al. 2019): the dataset's own mapping files (``folder_to_objectnet_label.json``,
  ``objectnet_to_imagenet_1k.json``, ``imagenet_to_labels.json``) as redistributed in
  imagenet-testbed ``src/eval_settings/objectnet_metadata/`` (MIT).

Usage (from the repository root), with the three repositories checked out at the commits in
``SOURCES`` under one folder as ``<owner>+<name>/``::

    python scripts/build_shift_classes.py --upstream /tmp/upstream

Writes ``src/reassess/labels/data/shift_classes.json`` and copies the three LICENSE files to
``src/reassess/labels/data/licenses/``.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "reassess" / "labels" / "data"

SOURCES = {
    "natural-adv-examples": (
        "hendrycks/natural-adv-examples",
        "07770705658c3a1c8acce31fd9dbd68f06e297c3",
    ),
    "imagenet-r": ("hendrycks/imagenet-r", "3131cacee97c407bd2ecea15846a67817a64f924"),
    "imagenet-testbed": (
        "modestyachts/imagenet-testbed",
        "0170eec658d664289d9f61de8f90f967f49abca0",
    ),
}
OBJECTNET_METADATA = "src/eval_settings/objectnet_metadata"


def _literal(path: Path, name: str):
    """The value of the top-level ``name = <literal>`` assignment in a Python file (no code run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise SystemExit(f"{path}: no top-level assignment to {name}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(upstream: Path) -> dict:
    """Read the upstream files under ``upstream`` and return the shipped JSON document."""
    repo_dir = {key: upstream / repo.replace("/", "+") for key, (repo, _) in SOURCES.items()}
    used: list[tuple[str, str]] = []

    def source(key: str, rel: str) -> Path:
        path = repo_dir[key] / rel
        if not path.exists():
            raise SystemExit(f"{path}: missing; check out {SOURCES[key][0]} there")
        used.append((key, rel))
        return path

    # The 1000 ImageNet wnids in index order, as imagenet-r's eval.py lists them.
    all_wnids = _literal(source("imagenet-r", "eval.py"), "all_wnids")
    assert len(all_wnids) == 1000 and all_wnids == sorted(all_wnids)
    from reassess.labels.imagenet import imagenet_classes

    assert tuple(all_wnids) == tuple(imagenet_classes().wnids), "wnid order differs from reassess"

    # ImageNet-A: index map 1000 -> 200 (-1 = not in ImageNet-A).
    to_200 = _literal(source("natural-adv-examples", "eval.py"), "thousand_k_to_200")
    a_indices = sorted(k for k, v in to_200.items() if v != -1)
    assert [to_200[k] for k in a_indices] == list(range(200))
    testbed_a = _literal(
        source("imagenet-testbed", "src/eval_settings/imagenet_a.py"), "class_sublist"
    )
    assert a_indices == testbed_a, "ImageNet-A class lists of the two sources differ"

    # ImageNet-R: a set of wnids.
    r_wnids = sorted(_literal(source("imagenet-r", "eval.py"), "imagenet_r_wnids"))
    assert len(r_wnids) == 200
    r_indices = [all_wnids.index(w) for w in r_wnids]
    testbed_r = _literal(
        source("imagenet-testbed", "src/eval_settings/imagenet_r.py"), "class_sublist"
    )
    assert r_indices == testbed_r, "ImageNet-R class lists of the two sources differ"

    # ObjectNet: folder -> ObjectNet label -> "; "-separated ImageNet class names -> indices.
    meta = f"{OBJECTNET_METADATA}"
    folder_to_label = json.loads(
        source("imagenet-testbed", f"{meta}/folder_to_objectnet_label.json").read_text()
    )
    label_to_imagenet = json.loads(
        source("imagenet-testbed", f"{meta}/objectnet_to_imagenet_1k.json").read_text()
    )
    index_to_name = json.loads(
        source("imagenet-testbed", f"{meta}/imagenet_to_labels.json").read_text()
    )
    name_to_indices: dict[str, list[int]] = {}
    for index, name in index_to_name.items():
        name_to_indices.setdefault(name, []).append(int(index))
    label_to_folder = {label: folder for folder, label in folder_to_label.items()}
    assert len(label_to_folder) == len(folder_to_label) == 313
    objectnet = []
    for label, names in sorted(label_to_imagenet.items()):
        indices = []
        for name in names.split("; "):
            matches = name_to_indices[name]
            assert len(matches) == 1, f"ImageNet class name {name!r} is ambiguous"
            indices.append(matches[0])
        objectnet.append(
            {
                "folder": label_to_folder[label],
                "name": label,
                "imagenet": sorted(indices),
                "wnids": [all_wnids[i] for i in sorted(indices)],
            }
        )
    assert len(objectnet) == 113

    sources = []
    for key, rel in used:
        repo, commit = SOURCES[key]
        entry = {
            "repo": repo,
            "commit": commit,
            "path": rel,
            "sha256": _sha256(repo_dir[key] / rel),
        }
        if entry not in sources:
            sources.append(entry)
    return {
        "about": "Class subsets of ImageNet-A, ImageNet-R and ObjectNet's ImageNet overlap, as "
        "ImageNet-1k indices (sorted wnids); built by scripts/build_shift_classes.py",
        "sources": sources,
        "imagenet-a": {"indices": a_indices, "wnids": [all_wnids[i] for i in a_indices]},
        "imagenet-r": {"indices": r_indices, "wnids": r_wnids},
        "objectnet": objectnet,
        "objectnet_all_folders": sorted(folder_to_label),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", type=Path, required=True, help="folder of the checkouts")
    args = parser.parse_args()
    document = build(args.upstream)
    out = OUT / "shift_classes.json"
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    licenses = OUT / "licenses"
    licenses.mkdir(parents=True, exist_ok=True)
    for key, (repo, _) in SOURCES.items():
        shutil.copy(args.upstream / repo.replace("/", "+") / "LICENSE", licenses / f"{key}.LICENSE")
    print(f"wrote {out} ({len(document['objectnet'])} ObjectNet classes)")


if __name__ == "__main__":
    main()
