"""`reassess compare RUN_A RUN_B`: is A really better than B on the same images and labels?"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from reassess.cli.app import UserError, app, console
from reassess.cli.commands_metrics import (
    MULTILABEL_FILE_HELP,
    load_expert_option,
    recorded_expert_file,
)
from reassess.cli.common import metric_title, run_label_sets
from reassess.datasets.shifts import scoring_class_map
from reassess.store.predictions import Predictions
from reassess.store.run import RunDir


def _data_name(info: dict[str, Any]) -> str:
    data = info.get("data", {})
    return data.get("name") or str(data.get("spec", "?")).partition(":")[0]


def aligned_pair(
    run_a: RunDir, run_b: RunDir
) -> tuple[dict[str, Any], dict[str, Any], Predictions, Predictions]:
    """Both runs' info and predictions, B reordered to A's samples; refuses different data/labels."""
    info_a, info_b = run_a.read_run(), run_b.read_run()
    name_a, name_b = _data_name(info_a), _data_name(info_b)
    if name_a != name_b:
        raise UserError(
            f"{run_a.path} is on {name_a} but {run_b.path} is on {name_b}; compare needs two runs "
            "on the same data"
        )
    pred_a, pred_b = run_a.read_predictions(), run_b.read_predictions()
    ids_a, ids_b = pred_a.sample_ids.tolist(), pred_b.sample_ids.tolist()
    if len(set(ids_a)) != len(ids_a) or len(set(ids_b)) != len(ids_b):
        raise UserError("a run holds the same sample twice; re-import it")
    if set(ids_a) != set(ids_b):
        only_a = len(set(ids_a) - set(ids_b))
        only_b = len(set(ids_b) - set(ids_a))
        raise UserError(
            f"{run_a.path} ({len(ids_a):,} images) and {run_b.path} ({len(ids_b):,} images) are on "
            f"different images of {name_a}: {only_a:,} only in A, {only_b:,} only in B"
        )
    position = {sid: i for i, sid in enumerate(ids_b)}
    pred_b = pred_b.take(np.array([position[s] for s in ids_a], dtype=np.int64))
    differ = np.flatnonzero(pred_a.labels != pred_b.labels)
    if differ.size:
        first = int(differ[0])
        raise UserError(
            f"{run_a.path} and {run_b.path} label {differ.size:,} images differently (e.g. "
            f"{ids_a[first]}: {int(pred_a.labels[first])} vs {int(pred_b.labels[first])}); "
            "compare needs the same labels"
        )
    return info_a, info_b, pred_a, pred_b


def _expert_for(run_a: RunDir, run_b: RunDir, given: Path | None, verify: bool, quiet: bool):
    """Expert labels for both runs: the given file, or the one both runs were scored with."""
    if given is not None:
        return load_expert_option(given, verify=verify, quiet=quiet)
    recorded = []
    for run in (run_a, run_b):
        info = {}
        if run.metrics_file.exists():
            info = run.read_metrics().get("label_files", {}).get("expert") or {}
        recorded.append(info.get("sha256"))
    if recorded[0] and recorded[1] and recorded[0] != recorded[1]:
        raise UserError(
            f"{run_a.path} and {run_b.path} were scored with different expert label files "
            "(sha256 differs); pass --multilabel-file to score both with the same one"
        )
    path, was_verified = recorded_expert_file(run_a)
    if path is None:
        path, was_verified = recorded_expert_file(run_b)
    if path is None:
        return None
    return load_expert_option(path, verify=verify and was_verified, quiet=quiet)


def _verdict(low: float, high: float) -> str:
    if low > 0:
        return "A better"
    if high < 0:
        return "B better"
    return "not significant"


def _p_value(p: float) -> str:
    return "p<0.0001" if p < 1e-4 else f"p={p:.2g}"


def compare_runs(
    run_a: RunDir,
    run_b: RunDir,
    *,
    options: Any = None,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Every metric of both runs, A - B, its paired bootstrap 95% CI and McNemar's exact test."""
    from reassess.metrics.compare import paired_differences
    from reassess.metrics.suite import MetricOptions, metric_outcomes

    options = options or MetricOptions()
    info_a, info_b, pred_a, pred_b = aligned_pair(run_a, run_b)
    class_map = scoring_class_map(info_a["data"]["spec"])  # ImageNet-A/-R: class subsets
    if class_map is not None:
        options = dataclasses.replace(options, class_map=class_map)
    sets = run_label_sets(info_a, pred_a)
    outcomes_a, skipped = metric_outcomes(pred_a, sets, options)
    outcomes_b, skipped_b = metric_outcomes(pred_b, sets, options)
    for key, reason in skipped_b.items():
        skipped.setdefault(key, f"run B: {reason}")
    for key in sorted(set(outcomes_a) ^ set(outcomes_b)):
        skipped.setdefault(key, "computed for only one of the runs (e.g. fewer stored top-k)")
    differences = paired_differences(
        outcomes_a, outcomes_b, len(pred_a), resamples=resamples, seed=seed
    )
    return {
        "a": {"run": str(run_a.path), "model": info_a["model"]["spec"]},
        "b": {"run": str(run_b.path), "model": info_b["model"]["spec"]},
        "data": _data_name(info_a),
        "num_samples": len(pred_a),
        "bootstrap": {"resamples": resamples, "seed": seed},
        "options": options.describe(),
        "label_files": {"expert": options.expert.describe()} if options.expert else {},
        "metrics": {key: d.to_dict() for key, d in differences.items()},
        "skipped": skipped,
    }


def comparison_table(result: dict[str, Any]) -> Table:
    """A rich table: metric, A, B, A - B with its bootstrap CI, McNemar's test, verdict."""
    table = Table(
        title=f"A = {result['a']['model']}  vs  B = {result['b']['model']}  on {result['data']}",
        title_justify="left",
    )
    table.add_column("metric", ratio=1)
    table.add_column("A", justify="right", no_wrap=True)
    table.add_column("B", justify="right", no_wrap=True)
    table.add_column("A - B (95% CI)", justify="right", no_wrap=True)
    table.add_column("McNemar", justify="right", no_wrap=True)
    colors = {"A better": "green", "B better": "red", "not significant": "dim"}
    for key, entry in result["metrics"].items():
        lo, hi = entry["ci95"]
        mcnemar = entry["mcnemar"]
        verdict = _verdict(lo, hi)
        table.add_row(
            metric_title(key),
            f"{100 * entry['a']['value']:.2f}%",
            f"{100 * entry['b']['value']:.2f}%",
            f"[{colors[verdict]}]{100 * entry['difference']:+.2f}[/]\n"
            f"[dim]{100 * lo:+.2f} to {100 * hi:+.2f}[/]\n{verdict}",
            f"{mcnemar['a_only']:,} / {mcnemar['b_only']:,}\n{_p_value(mcnemar['p_value'])}"
            if mcnemar
            else "-",
        )
    return table


@app.command("compare")
def compare_command(
    run_a: Annotated[Path, typer.Argument(help="Run folder A")],
    run_b: Annotated[Path, typer.Argument(help="Run folder B (same data and labels as A)")],
    multilabel_file: Annotated[
        Path | None, typer.Option("--multilabel-file", help=MULTILABEL_FILE_HELP)
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Expert labels: count only 'correct' classes")
    ] = False,
    equivalences: Annotated[
        bool, typer.Option("--equivalences", help="Accept either class of a duplicate pair")
    ] = False,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Check the expert file's sha256")
    ] = True,
    resamples: Annotated[int, typer.Option(min=100, help="Bootstrap resamples")] = 2000,
    seed: Annotated[int, typer.Option(help="Bootstrap random seed")] = 0,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the comparison as JSON")
    ] = False,
) -> None:
    """Compare two runs on the same data: each metric, A - B, paired bootstrap CI, McNemar."""
    from reassess.metrics.suite import MetricOptions

    a, b = RunDir(run_a), RunDir(run_b)
    expert = _expert_for(a, b, multilabel_file, verify, json_output)
    options = MetricOptions(expert=expert, strict=strict, equivalences=equivalences)
    if json_output:
        result = compare_runs(a, b, options=options, resamples=resamples, seed=seed)
        typer.echo(json.dumps(result, indent=2))
        return
    with console.status(f"pairing the runs and drawing {resamples:,} bootstrap resamples ..."):
        result = compare_runs(a, b, options=options, resamples=resamples, seed=seed)
    console.print(comparison_table(result))
    console.print(
        f"[dim]{result['num_samples']:,} images. A - B in percentage points with its paired "
        f"bootstrap 95% CI ({result['bootstrap']['resamples']:,} resamples); a verdict needs the "
        "CI to exclude 0. McNemar: images only A / only B gets right, exact two-sided p.[/]"
    )
    for key, reason in result["skipped"].items():
        console.print(f"  [dim]skipped {metric_title(key)}: {reason}[/]")
