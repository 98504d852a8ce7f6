"""Build the reference testbed that ships in the package from timm's published results.

Run from the repository root: ``python scripts/build_testbed.py [--shared ../shared/data]``.
Reads the eight ``results-*.csv`` files of huggingface/pytorch-image-models (copied to
``<shared>/timm-results``, Apache-2.0), joins them on model name AND image size (a weight is
often evaluated at several resolutions), and writes top-1 accuracies (percent, as published) to
``src/reassess/labels/data/timm_testbed.csv.gz``. No fit and no model selection is stored: the
"standard model" rule lives in ``reassess.analysis.testbed`` and fits are computed at run time.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "reassess" / "labels" / "data" / "timm_testbed.csv.gz"

FILES = {
    "imagenet": "results-imagenet.csv",
    "real": "results-imagenet-real.csv",
    "imagenetv2": "results-imagenetv2-matched-frequency.csv",
    "sketch": "results-sketch.csv",
    "imagenet_a": "results-imagenet-a.csv",
    "imagenet_a_clean": "results-imagenet-a-clean.csv",
    "imagenet_r": "results-imagenet-r.csv",
    "imagenet_r_clean": "results-imagenet-r-clean.csv",
}
KEY = ["model", "img_size"]


def build(results: Path) -> pd.DataFrame:
    """The joined table: model, img_size, param_count and one top-1 column per test set."""
    joined = None
    for column, fname in FILES.items():
        table = pd.read_csv(results / fname, thousands=",")
        if table.duplicated(KEY).any():
            raise SystemExit(f"{fname}: duplicate (model, img_size) rows")
        table = table[KEY + ["param_count", "top1"]].rename(
            columns={"top1": column, "param_count": f"param_count_{column}"}
        )
        # outer join: a (model, img_size) missing from one file keeps its other results (empty
        # cells); each fit uses the rows that have both of its accuracies
        joined = table if joined is None else joined.merge(table, on=KEY, how="outer")
    assert joined is not None
    counts = joined[[f"param_count_{c}" for c in FILES]]
    joined.insert(2, "param_count", counts.bfill(axis=1).iloc[:, 0])
    joined = joined.drop(columns=list(counts.columns))
    return joined.sort_values(
        ["imagenet", "model", "img_size"], ascending=[False, True, True], na_position="last"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    table = build(args.shared / "timm-results")
    text = table.to_csv(index=False, float_format="%.3f")
    with open(OUT, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(text.encode("utf-8"))  # mtime=0: the same sources give the same bytes
    print(f"wrote {OUT}: {len(table)} rows (model x image size), columns {list(table.columns)}")


if __name__ == "__main__":
    main()
