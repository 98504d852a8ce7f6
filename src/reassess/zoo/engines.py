"""Engines that run zoo pairs: ``local`` (one after another, in this process) and ``ray``.

Every pair runs exactly as ``reassess eval`` would (the same :func:`evaluate`), into its own run
folder. A pair that fails is reported as a :class:`PairResult` with its error and the others go on;
a complete run folder is skipped. With Ray, every node must see the data paths and ``--out`` (a
shared file system), and have reassess installed.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from reassess.inference.runner import InferenceOptions
from reassess.zoo.plan import Pair

ENGINES = ("local", "ray")


@dataclass
class PairResult:
    """How one pair ended: ``complete``, ``skipped`` (already complete) or ``failed``."""

    pair: Pair
    status: str
    seconds: float = 0.0
    error: str | None = None
    details: str | None = None
    node: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def run_pair(pair: Pair, options: InferenceOptions) -> PairResult:
    """Evaluate one pair (or skip it when its run is complete); never raises for a bad pair."""
    import platform

    started = time.perf_counter()
    node = platform.node()
    if pair.is_complete():
        return PairResult(pair, "skipped", node=node)
    try:
        from reassess.runs.evaluate import evaluate

        evaluate(pair.model, pair.data, pair.out, options)
    except Exception as exc:  # one bad pair must not stop the zoo
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return PairResult(
            pair,
            "failed",
            seconds=time.perf_counter() - started,
            error=f"{type(exc).__name__}: {message}" if message else type(exc).__name__,
            details=traceback.format_exc(limit=20),
            node=node,
        )
    return PairResult(pair, "complete", seconds=time.perf_counter() - started, node=node)


def run_local(pairs: list[Pair], options: InferenceOptions) -> Iterator[PairResult]:
    """Run pairs one after another in this process."""
    for pair in pairs:
        yield run_pair(pair, options)


def ray_task_options(options: InferenceOptions, cpus_per_pair: float) -> InferenceOptions:
    """Per-task options: torch threads and decoding workers fitted to the CPUs Ray reserves."""
    cpus = max(1, int(cpus_per_pair))
    return dataclasses.replace(
        options,
        threads=options.threads or cpus,
        workers=options.workers if options.workers is not None else cpus - 1,
        progress=False,
    )


def run_ray(
    pairs: list[Pair],
    options: InferenceOptions,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_pair: float = 1,
    gpus_per_pair: float = 0,
) -> Iterator[PairResult]:
    """Spread pairs over a Ray cluster (``address``) or a local Ray started here; yield as done.

    Each pair is one Ray task reserving ``cpus_per_pair`` CPUs and ``gpus_per_pair`` GPUs; tasks
    are not retried (a failing pair is reported, not rerun). A task whose worker dies (e.g. out of
    memory) is reported as failed with Ray's error.
    """
    try:
        import ray
    except ImportError as exc:
        raise ImportError(
            "--engine ray needs Ray: pip install 'reassess[ray]' (or use --engine local)"
        ) from exc
    started_here = not ray.is_initialized()
    if started_here:
        init: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if address:
            init["address"] = address
        else:
            init.update(num_cpus=num_cpus, include_dashboard=False)
        ray.init(**init)
    try:
        task = ray.remote(num_cpus=cpus_per_pair, num_gpus=gpus_per_pair, max_retries=0)(run_pair)
        per_task = ray_task_options(options, cpus_per_pair)
        if gpus_per_pair and per_task.device == "auto":
            per_task = dataclasses.replace(per_task, device="cuda")
        refs = {task.remote(pair, per_task): pair for pair in pairs}
        waiting = list(refs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            for ref in done:
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as exc:
                    message = str(exc).strip().splitlines()[0]
                    yield PairResult(refs[ref], "failed", error=f"{type(exc).__name__}: {message}")
    finally:
        if started_here:
            ray.shutdown()


def run_pairs(
    pairs: list[Pair], options: InferenceOptions, *, engine: str = "local", **engine_options: Any
) -> Iterator[PairResult]:
    """Run ``pairs`` with ``engine`` (``local`` or ``ray``), yielding each result as it finishes."""
    if engine == "local":
        return run_local(pairs, options)
    if engine == "ray":
        return run_ray(pairs, options, **engine_options)
    raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
