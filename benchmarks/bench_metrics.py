"""Benchmark `reassess metrics RUNDIR` on the shipped ResNet-50 predictions (all 50,000 val images).

Times the whole command (a fresh process: interpreter start, imports, reading predictions,
ReaL label sets, every metric, writing metrics.json and per_class.csv) and, in one process, each
step of the recomputation, as medians over ``--repeats`` runs::

    python benchmarks/bench_metrics.py --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    )
    args = parser.parse_args()

    from reassess.labels.resources import data_file

    run_dir = args.work / "resnet50"
    if not (run_dir / "run.json").exists():
        subprocess.run(
            [sys.executable, "-m", "reassess.cli.main", "import",
             str(data_file("resnet50_cleanlab_val_predictions.parquet")),
             "--data", "imagenet-val", "--out", str(run_dir), "--json"],
            check=True, capture_output=True,
        )  # fmt: skip
    command = [sys.executable, "-m", "reassess.cli.main", "metrics", str(run_dir), "--json"]
    whole, _ = timed(lambda: subprocess.run(command, check=True, capture_output=True), args.repeats)
    bare, _ = timed(
        lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), args.repeats
    )
    import reassess.cli.main  # noqa: F401  (imports every command module, as the command does)
    from reassess.datasets.imagenet import real_label_sets
    from reassess.metrics.suite import compute_metrics
    from reassess.runs import finish_run, run_label_sets
    from reassess.store.run import RunDir

    run = RunDir(run_dir)
    read, predictions = timed(run.read_predictions, args.repeats)
    info = run.read_run()
    first_labels = time.perf_counter()
    run_label_sets(info, predictions)  # first call builds ReaL from real.json (lru_cached after)
    build_labels = time.perf_counter() - first_labels
    real_label_sets.cache_clear()
    from_lists, _ = timed(lambda: (real_label_sets.cache_clear(), real_label_sets()), args.repeats)
    align, label_sets = timed(lambda: run_label_sets(info, predictions), args.repeats)
    compute, metrics = timed(lambda: compute_metrics(predictions, label_sets), args.repeats)
    finish, _ = timed(lambda: finish_run(run), args.repeats)
    n = metrics["top1"]["n"]
    print(f"predictions: {len(predictions):,} rows; top1 {metrics['top1']['value']:.5f} over {n:,}")
    print(
        f"RESULT `reassess metrics RUNDIR --json` (whole command): {whole:.3f} s median of {args.repeats}"
    )
    print(f"  of which a bare `python -c pass`: {bare:.3f} s")
    print(f"  in-process finish_run (read + label sets + metrics + write): {finish:.3f} s")
    print(f"    read_predictions {read:.3f} s; ReaL label sets from real.json {from_lists:.3f} s "
          f"(first call incl. imports {build_labels:.3f} s); align {align:.3f} s; "
          f"compute_metrics {compute:.3f} s")  # fmt: skip


if __name__ == "__main__":
    main()
