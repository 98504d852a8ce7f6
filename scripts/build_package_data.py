"""Build the label data that ships inside the package from the public sources in ../shared/data.

Run from the repository root: ``python scripts/build_package_data.py [--shared ../shared/data]``.
Every shipped file is derived here from its source, never typed by hand; each source's LICENSE is
copied beside the data and named in NOTICE.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

OUT = Path(__file__).resolve().parents[1] / "src" / "reassess" / "labels" / "data"


def _write_json_gz(obj, path: Path) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as f:
        json.dump(obj, f, separators=(",", ":"))


def build(shared: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    licenses = OUT / "licenses"
    licenses.mkdir(exist_ok=True)

    # ImageNet-1k classes: index, wnid, synonyms, gloss (ImageNetV2's class_info.json, MIT).
    classes = json.loads((shared / "imagenetv2" / "class_info.json").read_text())
    assert [c["cid"] for c in classes] == list(range(1000))
    _write_json_gz(
        [{"wnid": c["wnid"], "synset": c["synset"], "gloss": c["gloss"]} for c in classes],
        OUT / "imagenet_classes.json.gz",
    )
    wnid_to_index = {c["wnid"]: c["cid"] for c in classes}
    shutil.copy(shared / "imagenetv2" / "LICENSE", licenses / "imagenetv2.LICENSE")

    # Original ImageNet val labels in val file order (from ImageNetV2's copy of the val ground truth).
    original = json.loads((shared / "imagenetv2" / "imagenet-validation-original.json").read_text())
    labels = np.full(50_000, -1, dtype=np.int16)
    for fname, wnid in original["image_filenames"]:
        labels[int(fname[len("ILSVRC2012_val_") : -len(".JPEG")]) - 1] = wnid_to_index[wnid]
    assert (labels >= 0).all()
    np.save(OUT / "imagenet_val_labels.npy", labels)

    # ImageNetV2 variants: sha1 -> class index, in the sampling file's order.
    for variant, fname in [
        ("matched-frequency", "imagenetv2-b-33.json"),
        ("threshold-0.7", "imagenetv2-a-44.json"),
        ("top-images", "imagenetv2-c-12.json"),
    ]:
        pairs = json.loads((shared / "imagenetv2" / fname).read_text())["image_filenames"]
        table = pa.table(
            {
                "sha1": pa.array([s for s, _ in pairs]),
                "label": pa.array([wnid_to_index[w] for _, w in pairs], pa.int16()),
            }
        )
        pq.write_table(table, OUT / f"imagenetv2_{variant}.parquet", compression="zstd")

    # ReaL labels (google-research/reassessed-imagenet, Apache-2.0).
    real = json.loads((shared / "reassessed-imagenet" / "real.json").read_text())
    assert len(real) == 50_000
    _write_json_gz(real, OUT / "real.json.gz")
    shutil.copy(
        shared / "reassessed-imagenet" / "LICENSE", licenses / "reassessed-imagenet.LICENSE"
    )

    # ImageNetV2 MatchedFrequency multi-labels (esla/Multilabelfy, Apache-2.0).
    refined = json.loads(
        (shared / "multilabelfy-imagenetv2" / "imagenetv2_refined_labels.json").read_text()
    )
    _write_json_gz(
        {name: sorted(int(x) for x in v) for name, v in refined.items()},
        OUT / "imagenetv2_multilabels.json.gz",
    )
    shutil.copy(shared / "multilabelfy-imagenetv2" / "LICENSE", licenses / "multilabelfy.LICENSE")

    # cleanlab/label-errors: a real ResNet-50's top-1 on all of val, keyed by file name, and the
    # crowd-validated label errors (Apache-2.0).
    cl = shared / "cleanlab-label-errors"
    paths = json.loads(
        (cl / "dataset_indexing" / "imagenet_val_set_index_to_filepath.json").read_text()
    )
    preds = np.load(
        cl / "cross_validated_predicted_labels" / "imagenet_val_set_pyx_argmax_predicted_labels.npy"
    )
    given = np.load(cl / "original_test_labels" / "imagenet_val_set_original_labels.npy")
    assert len(paths) == len(preds) == len(given) == 50_000
    table = pa.table(
        {
            "file_name": pa.array([Path(p).name for p in paths]),
            "prediction": pa.array(preds.astype(np.int16)),
        }
    )
    pq.write_table(table, OUT / "resnet50_cleanlab_val_predictions.parquet", compression="zstd")
    mturk = json.loads((cl / "mturk" / "imagenet_mturk.json").read_text())
    _write_json_gz(
        [
            {
                "file_name": Path(m["url"]).name,
                "given": m["given_original_label"],
                "guessed": m["our_guessed_label"],
                "votes": m["mturk"],
            }
            for m in mturk
        ],
        OUT / "cleanlab_label_errors.json.gz",
    )
    shutil.copy(cl / "LICENSE", licenses / "cleanlab-label-errors.LICENSE")
    print(f"wrote package data to {OUT}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    build(parser.parse_args().shared)
