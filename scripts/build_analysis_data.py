"""Build the evidence data that ``reassess analyze`` ships: ImageNet-X factors and ViT-3B confusions.

Run from the repository root: ``python scripts/build_analysis_data.py [--shared ../shared/data]``.
Every shipped file is derived here from its public source, never typed by hand; each source's
LICENSE is copied to ``src/reassess/labels/data/licenses/``.

- ``imagenet_x_val.parquet`` from ImageNet-X (Idrissi et al. 2023, "ImageNet-X: Understanding
  Model Mistakes with Factor of Variation Annotations", ICLR; PyPI ``imagenet-x`` 0.0.7),
  **CC BY-NC 4.0 (non-commercial use only)** -> ``licenses/imagenet-x.LICENSE``. One row per
  annotated val image (48,868): ``file_name``, ``label`` (int16, the image's ImageNet class as
  ImageNet-X records it), the 16 factors of the *multi-factor* annotation as booleans (every
  factor the annotator selected), ``top_factor`` (the single factor of the *top-factor*
  annotation, ImageNet-X's default for error ratios; null for the 2 images without one),
  ``prototype`` (the image is one of ImageNet-X's class prototypes, which its evaluation leaves
  out) and ``metaclass`` (ImageNet-X's 100-metaclass name of the class). The free-text
  justifications are not shipped.
- ``imagenet_mistakes_confusions.json.gz`` from google-research/imagenet-mistakes (Vasudevan et
  al. 2022, "When does dough become a bagel?", NeurIPS), Apache-2.0 ->
  ``licenses/imagenet-mistakes.LICENSE``: the class pairs a ViT-3B confused, as
  ``[[wnid_a, wnid_b, count], ...]`` exactly as published (481 pairs).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "reassess" / "labels" / "data"
sys.path.insert(0, str(ROOT / "src"))

from reassess.analysis.evidence import FACTORS  # noqa: E402  (ImageNet-X factor order)
from reassess.labels import imagenet_classes  # noqa: E402

IMAGENET_X_IMAGES = 48_868
CONFUSION_PAIRS = 481


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def build_imagenet_x(source: Path, licenses: Path) -> None:
    """Write ``imagenet_x_val.parquet`` from the ImageNet-X val annotations (CC BY-NC 4.0)."""
    classes = imagenet_classes()
    multi = _read_jsonl(source / "imagenet_x_val_multi_factor.jsonl")
    top = _read_jsonl(source / "imagenet_x_val_top_factor.jsonl")
    assert len(multi) == len(top) == IMAGENET_X_IMAGES, (len(multi), len(top))
    top_by_file = {row["file_name"]: row for row in top}
    assert len(top_by_file) == IMAGENET_X_IMAGES, "duplicate file names in the top-factor file"
    with open(source / "prototypical_paths.csv", encoding="utf-8") as f:
        prototypes = {row["file_name"] for row in csv.DictReader(f)}
    with open(source / "imagenet_1k_classes_to_100_metaclasses.csv", encoding="utf-8") as f:
        metaclass_rows = list(csv.DictReader(f))
    # Row i is class i (ImageNet-X indexes the table by class); its wnid column is the metaclass's.
    assert len(metaclass_rows) == len(classes), len(metaclass_rows)
    metaclass_of_class = [r["name"] for r in metaclass_rows]

    columns: dict[str, list] = {"file_name": [], "label": []}
    columns.update({f: [] for f in FACTORS})
    columns.update({"top_factor": [], "prototype": [], "metaclass": []})
    for row in sorted(multi, key=lambda r: r["file_name"]):
        name = row["file_name"]
        top_row = top_by_file[name]
        assert top_row["class"] == row["class"], name
        picked = [f for f in FACTORS if top_row[f]]
        assert len(picked) <= 1, f"{name}: several top factors {picked}"
        for f in FACTORS:
            assert row[f] in (0, 1), (name, f)
            assert row[f] >= top_row[f], f"{name}: top factor {f} missing from multi-factor"
            columns[f].append(bool(row[f]))
        columns["file_name"].append(name)
        columns["label"].append(int(row["class"]))
        columns["top_factor"].append(picked[0] if picked else None)
        columns["prototype"].append(name in prototypes)
        columns["metaclass"].append(metaclass_of_class[int(row["class"])])
    schema = pa.schema(
        [("file_name", pa.string()), ("label", pa.int16())]
        + [(f, pa.bool_()) for f in FACTORS]
        + [
            ("top_factor", pa.dictionary(pa.int8(), pa.string())),
            ("prototype", pa.bool_()),
            ("metaclass", pa.dictionary(pa.int8(), pa.string())),
        ]
    )
    table = pa.table(
        {
            **{k: columns[k] for k in ("file_name", "label", *FACTORS, "prototype")},
            "top_factor": pa.array(columns["top_factor"]).dictionary_encode(),
            "metaclass": pa.array(columns["metaclass"]).dictionary_encode(),
        }
    ).select(schema.names)
    table = table.cast(schema)
    table = table.replace_schema_metadata(
        {
            "source": "ImageNet-X (Idrissi et al. 2023), PyPI imagenet-x 0.0.7, val annotations",
            "license": "CC BY-NC 4.0 (non-commercial use only); see licenses/imagenet-x.LICENSE",
        }
    )
    pq.write_table(table, OUT / "imagenet_x_val.parquet", compression="zstd")
    shutil.copy(source / "LICENSE", licenses / "imagenet-x.LICENSE")
    print(
        f"imagenet_x_val.parquet: {table.num_rows} images, "
        f"{sum(columns['prototype'])} prototypes (CC BY-NC 4.0)"
    )


def build_confusions(source: Path, licenses: Path) -> None:
    """Write the ViT-3B class confusions of "When does dough become a bagel?" (Apache-2.0)."""
    classes = imagenet_classes()
    pairs = json.loads((source / "class_confusion_wnids.json").read_text())
    assert len(pairs) == CONFUSION_PAIRS, len(pairs)
    for a, b, count in pairs:
        classes.index_of(a), classes.index_of(b)  # KeyError if not an ImageNet-1k wnid
        assert isinstance(count, int) and count > 0
    text = json.dumps(pairs, separators=(",", ":")).encode("utf-8")
    # mtime=0: the same input gives the same bytes, so a rebuild leaves git clean
    with gzip.GzipFile(OUT / "imagenet_mistakes_confusions.json.gz", "wb", 9, mtime=0) as f:
        f.write(text)
    shutil.copy(source / "LICENSE", licenses / "imagenet-mistakes.LICENSE")
    print(f"imagenet_mistakes_confusions.json.gz: {len(pairs)} pairs (Apache-2.0)")


def build(shared: Path) -> None:
    licenses = OUT / "licenses"
    licenses.mkdir(parents=True, exist_ok=True)
    build_imagenet_x(shared / "imagenet-x", licenses)
    build_confusions(shared / "imagenet-mistakes", licenses)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    build(parser.parse_args().shared)
