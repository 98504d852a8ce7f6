"""Benchmark `reassess eval` against timm's own validate.py on the same images, model and threads.

Prints images/s of both and their ratio, the preprocessing cache's speed-up on a second model with
the same crop, the effect of bf16/fp16 autocast on speed and predictions, and the peak memory of
`reassess eval` at two dataset sizes (it must not grow with the number of images).

timm's validate.py is not part of the timm wheel; take it from timm's repository (same version as
the installed timm) and pass its path::

    python benchmarks/bench_eval.py --timm-validate /tmp/timm_validate.py --images 384 --repeats 3

Model: EfficientNet-Lite0 (timm ``tf_efficientnet_lite0``) with reassess's built-in lite0 weights,
saved as a timm checkpoint so that both tools load the very same file the same way
(``timm:tf_efficientnet_lite0@CKPT`` / ``--checkpoint CKPT``). Images: JPEG photos generated from
scikit-image's sample photos (random crops, ImageNet-like sizes around 500x375) in an ImageFolder.
Both tools run as separate processes with the same ``OMP_NUM_THREADS``, batch size and decoding
workers; the figures are medians over ``--repeats`` alternating runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

CLASSES = {  # sample photo -> the ImageNet class a person would give it
    "chelsea": "n02123045",  # tabby cat
    "coffee": "n07920052",  # espresso
    "rocket": "n03773504",  # missile
    "motorcycle_left": "n03785016",  # moped
}
MODEL = "tf_efficientnet_lite0"
SECOND_MODEL = "mobilenetv3_small_050"  # same crop as lite0 (224, bicubic, 0.875), other mean/std


# --- inputs ---------------------------------------------------------------------------------------


def make_images(root: Path, n: int, seed: int = 0) -> Path:
    """``n`` JPEGs (random crops of sample photos resized to ~500x375) in wnid folders."""
    import skimage.data
    from PIL import Image

    marker = root / f".complete-{n}-{seed}"
    if marker.exists():
        return root
    rng = np.random.default_rng(seed)

    def load(name: str) -> Image.Image:
        if name == "motorcycle_left":
            return Image.fromarray(skimage.data.stereo_motorcycle()[0])
        return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")

    photos = {name: load(name) for name in CLASSES}
    names = list(CLASSES)
    for i in range(n):
        name = names[i % len(names)]
        photo = photos[name]
        w, h = photo.size
        cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        size = (500, 375) if rng.random() < 0.7 else (375, 500)
        size = tuple(int(s * rng.uniform(0.8, 1.2)) for s in size)
        folder = root / CLASSES[name]
        folder.mkdir(parents=True, exist_ok=True)
        image = photo.crop((x, y, x + cw, y + ch)).resize(size, Image.BICUBIC)
        image.save(folder / f"img_{i:06d}.JPEG", quality=int(rng.integers(75, 96)))
    marker.touch()
    return root


def save_checkpoints(work: Path) -> tuple[Path, Path]:
    """lite0's weights under timm's names, and a random-weight second model with the same crop."""
    import timm
    import torch

    from reassess.models import create_model

    lite0, second = work / "lite0_timm.pth", work / f"{SECOND_MODEL}_random.pth"
    if not lite0.exists():
        torch.save(create_model("lite0").module.state_dict(), lite0)
    if not second.exists():
        torch.manual_seed(0)
        torch.save(timm.create_model(SECOND_MODEL).state_dict(), second)
    return lite0, second


# --- running and measuring ------------------------------------------------------------------------


class TreeMemory(threading.Thread):
    """Peak total PSS (proportional set size) of a process and all its descendants, via /proc."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kib = 0
        self._done = threading.Event()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stat = Path(f"/proc/{entry.name}/stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        return tree

    @staticmethod
    def _pss(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self) -> None:
        while not self._done.is_set():
            self.peak_kib = max(self.peak_kib, sum(self._pss(p) for p in self._tree()))
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def run_measured(cmd: list[str], env: dict[str, str], *, memory: bool = False) -> dict:
    """Run ``cmd``; wall seconds, output, exit status, peak PSS of its process tree (if asked)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, text=True)
        sampler = TreeMemory(proc.pid) if memory else None
        if sampler:
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        if sampler:
            sampler.stop()
        log.seek(0)
        output = log.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output[-3000:]}")
    return {
        "seconds": seconds,
        "output": output,
        "max_rss_mib": usage.ru_maxrss / 1024,
        "peak_pss_mib": sampler.peak_kib / 1024 if sampler else None,
    }


def bench_env(args: argparse.Namespace, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    env["REASSESS_CACHE"] = str(cache)
    return env


def ours(
    args,
    images: Path,
    model: str,
    out: Path,
    env,
    *,
    cache: bool,
    precision: str = "fp32",
    memory=False,
) -> dict:
    """`reassess eval`; images/s of its inference loop from run.json, plus wall time."""
    cmd = [
        sys.executable, "-m", "reassess.cli.main", "eval", "--model", model,
        "--data", f"folder:{images}", "--out", str(out), "--batch-size", str(args.batch_size),
        "--workers", str(args.workers), "--threads", str(args.threads), "--device", args.device,
        "--precision", precision, "--cache" if cache else "--no-cache", "--no-progress", "--json",
    ]  # fmt: skip
    result = run_measured(cmd, env, memory=memory)
    info = json.loads((out / "run.json").read_text())
    result.update(loop_ips=info["images_per_second"], n=info["num_predictions"], run=out)
    return result


_RATE = re.compile(r"Test: \[\s*(\d+)/(\d+)\].*?\(\s*([\d.]+)s,\s*([\d.]+)/s\)")


def timm_validate(args, images: Path, checkpoint: Path, env, *, precision: str = "fp32") -> dict:
    """timm's validate.py; images/s of its loop from its last log line, plus wall time."""
    cmd = [
        sys.executable, str(args.timm_validate), str(images), "--model", MODEL,
        "--checkpoint", str(checkpoint), "--device", args.device, "-b", str(args.batch_size),
        "-j", str(args.workers), "--log-freq", "1",
    ]  # fmt: skip
    if args.timm_channels_last:
        cmd.append("--channels-last")
    if precision != "fp32":
        cmd += ["--amp", "--amp-dtype", {"bf16": "bfloat16", "fp16": "float16"}[precision]]
    result = run_measured(cmd, env)
    rates = _RATE.findall(result["output"])
    if not rates:
        raise RuntimeError(f"no throughput in validate.py's output:\n{result['output'][-2000:]}")
    # validate.py logs a running mean of batch times; the last one covers the whole loop
    result["loop_ips"] = float(rates[-1][3])
    return result


def median(values: list[float]) -> float:
    return float(statistics.median(values))


# --- the benchmarks -------------------------------------------------------------------------------


def bench_vs_timm(args, work: Path, images: Path, checkpoint: Path) -> dict:
    env = bench_env(args, work / "cache-unused")
    spec = f"timm:{MODEL}@{checkpoint}"
    rows: dict[str, list[dict]] = {"reassess": [], "timm": []}
    for r in range(args.repeats):
        rows["reassess"].append(ours(args, images, spec, work / f"vs_timm_{r}", env, cache=False))
        rows["timm"].append(timm_validate(args, images, checkpoint, env))
        print(
            f"  repeat {r + 1}: reassess {rows['reassess'][-1]['loop_ips']:.1f} img/s "
            f"({rows['reassess'][-1]['seconds']:.1f} s wall), timm {rows['timm'][-1]['loop_ips']:.1f} "
            f"img/s ({rows['timm'][-1]['seconds']:.1f} s wall)",
            flush=True,
        )
    n = rows["reassess"][0]["n"]
    summary = {
        tool: {
            "loop_images_per_s": median([x["loop_ips"] for x in runs]),
            "wall_images_per_s": median([n / x["seconds"] for x in runs]),
            "wall_seconds": median([x["seconds"] for x in runs]),
            "all_loop_images_per_s": [round(x["loop_ips"], 2) for x in runs],
        }
        for tool, runs in rows.items()
    }
    summary["ratio_loop"] = (
        summary["reassess"]["loop_images_per_s"] / summary["timm"]["loop_images_per_s"]
    )
    summary["ratio_wall"] = (
        summary["reassess"]["wall_images_per_s"] / summary["timm"]["wall_images_per_s"]
    )
    return summary


def bench_cache(args, work: Path, images: Path, checkpoints: tuple[Path, Path]) -> dict:
    """Fill the cache with lite0, then time a second model with the same crop with/without it."""
    cache_root = work / "cache"
    env = bench_env(args, cache_root)
    import shutil

    shutil.rmtree(cache_root, ignore_errors=True)
    fill = ours(
        args, images, f"timm:{MODEL}@{checkpoints[0]}", work / "cache_fill", env, cache=True
    )
    out: dict = {"fill_loop_images_per_s": fill["loop_ips"], "fill_wall_seconds": fill["seconds"]}
    for label, spec in (
        ("lite0", f"timm:{MODEL}@{checkpoints[0]}"),
        (SECOND_MODEL, f"timm:{SECOND_MODEL}@{checkpoints[1]}"),
    ):
        runs = {"decoded": [], "cached": []}
        for r in range(args.repeats):
            for mode in runs:
                runs[mode].append(
                    ours(
                        args,
                        images,
                        spec,
                        work / f"cache_{label}_{mode}_{r}",
                        env,
                        cache=mode == "cached",
                    )
                )
        info = json.loads((runs["cached"][-1]["run"] / "run.json").read_text())
        assert info["preprocessing_cache"]["read_from_cache"] == runs["cached"][-1]["n"], info
        decoded = median([x["loop_ips"] for x in runs["decoded"]])
        cached = median([x["loop_ips"] for x in runs["cached"]])
        out[label] = {
            "decoded_images_per_s": decoded,
            "cached_images_per_s": cached,
            "speedup": cached / decoded,
            "wall_seconds_decoded": median([x["seconds"] for x in runs["decoded"]]),
            "wall_seconds_cached": median([x["seconds"] for x in runs["cached"]]),
        }
        print(
            f"  {label}: {decoded:.1f} img/s decoding, {cached:.1f} img/s from the cache",
            flush=True,
        )
    return out


def bench_precision(args, work: Path, images: Path, checkpoint: Path, precision: str) -> dict:
    """Speed and prediction changes of bf16/fp16 autocast against fp32 (crops from the cache)."""
    from reassess.store.predictions import read_predictions

    env = bench_env(args, work / "cache")
    spec = f"timm:{MODEL}@{checkpoint}"
    ours(args, images, spec, work / "prec_warm", env, cache=True)  # fill the cache first
    runs = {
        p: [
            ours(args, images, spec, work / f"prec_{p}_{r}", env, cache=True, precision=p)
            for r in range(args.repeats)
        ]
        for p in ("fp32", precision)
    }
    timm_runs = {
        p: [timm_validate(args, images, checkpoint, env, precision=p) for _ in range(args.repeats)]
        for p in ("fp32", precision)
    }
    base, low = (
        read_predictions(runs[p][0]["run"] / "predictions.parquet") for p in ("fp32", precision)
    )
    assert base.sample_ids.tolist() == low.sample_ids.tolist()
    labels = base.labels
    return {
        "precision": precision,
        "fp32_images_per_s": median([x["loop_ips"] for x in runs["fp32"]]),
        f"{precision}_images_per_s": median([x["loop_ips"] for x in runs[precision]]),
        "timm_fp32_images_per_s": median([x["loop_ips"] for x in timm_runs["fp32"]]),
        f"timm_{precision}_images_per_s": median([x["loop_ips"] for x in timm_runs[precision]]),
        "top1_agreement": float(np.mean(base.top1 == low.top1)),
        "top5_set_agreement": float(
            np.mean(
                [
                    set(a) == set(b)
                    for a, b in zip(base.topk.tolist(), low.topk.tolist(), strict=True)
                ]
            )
        ),
        "max_abs_top1_prob_change": float(np.abs(base.probs[:, 0] - low.probs[:, 0]).max()),
        "fp32_top1_accuracy": float(np.mean(base.top1 == labels)),
        f"{precision}_top1_accuracy": float(np.mean(low.top1 == labels)),
        "n": len(base),
    }


def bench_memory(args, work: Path, checkpoint: Path, sizes: list[int]) -> dict:
    """Peak memory of `reassess eval` (whole process tree, PSS) at two dataset sizes."""
    env = bench_env(args, work / "cache-mem")
    spec = f"timm:{MODEL}@{checkpoint}"
    out = {}
    for n in sizes:
        images = make_images(work / f"images_{n}", n, seed=n)
        decoded = ours(args, images, spec, work / f"mem_{n}_decoded", env, cache=True, memory=True)
        cached = ours(args, images, spec, work / f"mem_{n}_cached", env, cache=True, memory=True)
        out[n] = {
            "decoding_peak_pss_mib": decoded["peak_pss_mib"],
            "decoding_main_max_rss_mib": decoded["max_rss_mib"],
            "cached_peak_pss_mib": cached["peak_pss_mib"],
            "cached_main_max_rss_mib": cached["max_rss_mib"],
        }
        print(
            f"  N={n}: peak PSS of the process tree {decoded['peak_pss_mib']:.0f} MiB decoding, "
            f"{cached['peak_pss_mib']:.0f} MiB from the cache; main process max RSS "
            f"{decoded['max_rss_mib']:.0f} / {cached['max_rss_mib']:.0f} MiB",
            flush=True,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--timm-validate", type=Path, required=True, help="path to timm's validate.py"
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "reassess-bench")
    parser.add_argument("--images", type=int, default=384)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--timm-channels-last",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pass --channels-last to validate.py (reassess uses channels_last)",
    )
    parser.add_argument("--compare-precision", choices=["bf16", "fp16"], default=None)
    parser.add_argument(
        "--memory-sizes", default="256,1024", help="dataset sizes for peak memory ('' to skip)"
    )
    parser.add_argument("--skip", default="", help="comma list of: timm, cache, memory")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    if not args.timm_validate.is_file():
        parser.error(
            f"{args.timm_validate}: not found (git show HEAD:validate.py from timm's repository)"
        )
    skip = set(filter(None, args.skip.split(",")))
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("*"):  # run folders of earlier runs (images and checkpoints are reused)
        if old.is_dir() and not old.name.startswith("images"):
            import shutil

            shutil.rmtree(old)
    images = make_images(work / f"images_{args.images}", args.images, seed=args.images)
    checkpoints = save_checkpoints(work)
    import timm
    import torch

    figures: dict = {
        "setup": {
            "images": args.images, "threads": args.threads, "workers": args.workers,
            "batch_size": args.batch_size, "device": args.device, "repeats": args.repeats,
            "model": MODEL, "torch": torch.__version__, "timm": timm.__version__,
            "cpus": os.cpu_count(),
        }
    }  # fmt: skip
    print(f"setup: {json.dumps(figures['setup'])}", flush=True)
    if "timm" not in skip:
        print("reassess eval vs timm validate.py (decoding every image, no cache):", flush=True)
        f = figures["vs_timm"] = bench_vs_timm(args, work, images, checkpoints[0])
        print(
            f"RESULT images/s (inference loop): reassess {f['reassess']['loop_images_per_s']:.1f}, "
            f"timm {f['timm']['loop_images_per_s']:.1f}, ratio {f['ratio_loop']:.2f}\n"
            f"RESULT images/s (whole command):  reassess {f['reassess']['wall_images_per_s']:.1f}, "
            f"timm {f['timm']['wall_images_per_s']:.1f}, ratio {f['ratio_wall']:.2f}",
            flush=True,
        )
    if "cache" not in skip:
        print(
            "preprocessing cache (filled by lite0, then a second model with the same crop):",
            flush=True,
        )
        f = figures["cache"] = bench_cache(args, work, images, checkpoints)
        for label in ("lite0", SECOND_MODEL):
            print(f"RESULT cache speed-up {label}: {f[label]['speedup']:.2f}x", flush=True)
    if args.compare_precision:
        print(f"precision: fp32 vs {args.compare_precision} autocast:", flush=True)
        f = figures["precision"] = bench_precision(
            args, work, images, checkpoints[0], args.compare_precision
        )
        p = args.compare_precision
        print(
            f"RESULT {p}: reassess {f[f'{p}_images_per_s']:.1f} img/s vs fp32 {f['fp32_images_per_s']:.1f} "
            f"(timm {f[f'timm_{p}_images_per_s']:.1f} vs {f['timm_fp32_images_per_s']:.1f}); top-1 "
            f"agreement {100 * f['top1_agreement']:.2f}%, top-5 sets equal {100 * f['top5_set_agreement']:.2f}%, "
            f"max |dp(top1)| {f['max_abs_top1_prob_change']:.4f}, top-1 acc fp32 "
            f"{100 * f['fp32_top1_accuracy']:.2f}% vs {100 * f[f'{p}_top1_accuracy']:.2f}% (n={f['n']})",
            flush=True,
        )
    sizes = [int(s) for s in args.memory_sizes.split(",") if s]
    if sizes and "memory" not in skip:
        print("peak memory of reassess eval:", flush=True)
        f = figures["memory"] = bench_memory(args, work, checkpoints[0], sizes)
        a, b = sizes[0], sizes[-1]
        print(
            f"RESULT peak PSS N={a}: {f[a]['decoding_peak_pss_mib']:.0f} MiB, N={b}: "
            f"{f[b]['decoding_peak_pss_mib']:.0f} MiB (x{b / a:.0f} images, "
            f"x{f[b]['decoding_peak_pss_mib'] / f[a]['decoding_peak_pss_mib']:.2f} memory)",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
