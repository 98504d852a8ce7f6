"""Build the evidence data that ``reassess analyze`` ships: ImageNet-X factors and ReaL rater scores.

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
- ``real_scores.parquet`` from google-research/reassessed-imagenet (Beyer et al. 2020, "Are we
  done with ImageNet?"), Apache-2.0 (``licenses/reassessed-imagenet.LICENSE``): every (val image,
  candidate class) pair the ReaL raters judged, with its Dawid & Skene (1979) score in [0, 1] as
  published in ``scores.npz`` (184,962 pairs). Columns ``image`` (int32, 0-based position in val
  file order), ``label`` (int16 class index) and ``score`` (float32), sorted by image then class.
"""

from __future__ import annotations

import argparse
import csv
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
REAL_SCORED_PAIRS = 184_962
VAL_IMAGES = 50_000


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


def build_real_scores(source: Path) -> None:
    """Write ``real_scores.parquet``: the ReaL raters' score of every candidate (image, class) pair."""
    import numpy as np

    data = np.load(source / "scores.npz")
    scores, info = data["tensor"], data["info"]
    assert len(scores) == len(info) == REAL_SCORED_PAIRS, (len(scores), len(info))
    names = info[:, 0]
    assert all(n.startswith("ILSVRC2012_val_") and n.endswith(".JPEG") for n in names[:1000])
    image = np.array([int(n[15:23]) - 1 for n in names.tolist()], dtype=np.int32)
    label = info[:, 1].astype(np.int64)
    assert image.min() >= 0 and image.max() < VAL_IMAGES and label.min() >= 0 and label.max() < 1000
    assert ((scores >= 0) & (scores <= 1)).all()
    order = np.lexsort((label, image))
    key = image[order].astype(np.int64) * 1000 + label[order]
    assert (np.diff(key) > 0).all(), "a (image, class) pair is scored twice"
    table = pa.table(
        {
            "image": pa.array(image[order], pa.int32()),
            "label": pa.array(label[order].astype(np.int16), pa.int16()),
            "score": pa.array(scores[order].astype(np.float32), pa.float32()),
        }
    ).replace_schema_metadata(
        {
            "source": "google-research/reassessed-imagenet scores.npz (Beyer et al. 2020)",
            "license": "Apache-2.0; see licenses/reassessed-imagenet.LICENSE",
        }
    )
    pq.write_table(table, OUT / "real_scores.parquet", compression="zstd")
    print(f"real_scores.parquet: {table.num_rows} scored (image, class) pairs (Apache-2.0)")


def build(shared: Path) -> None:
    licenses = OUT / "licenses"
    licenses.mkdir(parents=True, exist_ok=True)
    build_imagenet_x(shared / "imagenet-x", licenses)
    build_real_scores(shared / "reassessed-imagenet")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    build(parser.parse_args().shared)
