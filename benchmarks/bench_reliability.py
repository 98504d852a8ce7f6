"""What the reliability safeguards of `reassess eval` / `import` cost, at ImageNet-val scale.

- the data fingerprint run.json records (for ``compare``) and the preprocessing cache's file
  digest, which share one stat per image, on a folder of N empty "images" (cost is per file, not
  per byte), at two sizes to show it grows linearly;
- storing a part (what ``--flush-seconds`` adds once per interval) for a batch of 64 predictions;
- importing 50,000 x 1,000 logits from Parquet, with every row check on (issue 14's messages).

    python benchmarks/bench_reliability.py --files 50000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _image_folder(root: Path, files: int) -> Path:
    for i in range(files):
        folder = root / f"{i % 1000}"
        folder.mkdir(exist_ok=True)
        (folder / f"img{i:06d}.jpg").touch()
    return root


def bench_fingerprint(files: int, repeats: int) -> None:
    from reassess.datasets.base import parse_data_spec
    from reassess.inference.cache import files_digest

    for n in (files // 2, files):
        with tempfile.TemporaryDirectory() as tmp:
            root = _image_folder(Path(tmp), n)

            def both_digests(root=root) -> None:  # a fresh dataset stats its files once
                data = parse_data_spec(f"folder:{root}")
                data.fingerprint()
                files_digest(data)

            scan = _median_seconds(lambda root=root: parse_data_spec(f"folder:{root}"), repeats)
            total = _median_seconds(both_digests, repeats) - scan
        print(
            f"{n:,} files: fingerprint + cache digest {total:.3f} s "
            f"({1e6 * total / n:.1f} us/file, one stat each), beside {scan:.3f} s to list them"
        )


def bench_part_write(repeats: int) -> None:
    from reassess.store.predictions import Predictions
    from reassess.store.run import RunDir

    rng = np.random.default_rng(0)
    batch = Predictions.from_scores(
        np.array([f"img{i}.jpg" for i in range(64)], dtype=object),
        rng.integers(0, 1000, 64).astype(np.int32),
        rng.normal(size=(64, 1000)).astype(np.float32),
        k=5,
    )
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir(tmp)
        seconds = _median_seconds(lambda: run.append_part(batch), repeats)
    print(f"storing one part of 64 predictions (fsync + rename): {1e3 * seconds:.1f} ms")


def bench_import(repeats: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from reassess.datasets.base import parse_data_spec
    from reassess.store.importers import import_predictions

    dataset = parse_data_spec("imagenet-val")
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(len(dataset), 1000)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "logits.parquet"
        column = pa.FixedSizeListArray.from_arrays(pa.array(logits.ravel()), 1000)
        table = pa.table({"file_name": dataset.sample_ids.tolist(), "logits": column})
        pq.write_table(table, path)
        seconds = _median_seconds(lambda: import_predictions(path, dataset, k=5), repeats)
    print(f"import of {len(dataset):,} x 1000 logits from Parquet: {seconds:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bench_fingerprint(args.files, args.repeats)
    bench_part_write(max(args.repeats, 20))
    bench_import(args.repeats)


if __name__ == "__main__":
    main()
