"""`reassess compare RUN_A RUN_B`: is A really better than B on the same images and labels?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from reassess.cli.app import app, console
from reassess.cli.commands_metrics import load_expert_option
from reassess.cli.options import MultilabelFile, VerifyExpertFile
from reassess.metrics.compare import p_value_text
from reassess.metrics.titles import metric_title
from reassess.runs import compare_runs, shared_expert_file
from reassess.store.run import RunDir


def _expert_for(run_a: RunDir, run_b: RunDir, given: Path | None, verify: bool, quiet: bool):
    """Expert labels for both runs: the given file, or the one both runs were scored with."""
    if given is not None:
        return load_expert_option(given, verify=verify, quiet=quiet)
    path, was_verified = shared_expert_file(run_a, run_b)
    if path is None:
        return None
    return load_expert_option(path, verify=verify and was_verified, quiet=quiet)


def _verdict(low: float, high: float) -> str:
    if low > 0:
        return "A better"
    if high < 0:
        return "B better"
    return "not significant"


def _p_value(mcnemar: dict[str, Any]) -> str:
    """McNemar's p for the table: ``p = 2.3e-45``, or ``p = 10^-2094.5`` once it underflows."""
    return p_value_text(mcnemar["p_value"], mcnemar.get("log10_p"))


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
            f"{mcnemar['a_only']:,} / {mcnemar['b_only']:,}\n{_p_value(mcnemar)}"
            if mcnemar
            else "-",
        )
    return table


@app.command("compare", epilog="Example: reassess compare runs/convnext runs/resnet50 --json")
def compare_command(
    run_a: Annotated[Path, typer.Argument(help="Run folder A")],
    run_b: Annotated[Path, typer.Argument(help="Run folder B (same data and labels as A)")],
    multilabel_file: MultilabelFile = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Expert labels: count only 'correct' classes")
    ] = False,
    equivalences: Annotated[
        bool, typer.Option("--equivalences", help="Accept either class of a duplicate pair")
    ] = False,
    verify: VerifyExpertFile = True,
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
        "CI to exclude 0. McNemar: images only A / only B gets right, exact two-sided p, "
        "written 10^x below 1e-300.[/]"
    )
    for key, reason in result["skipped"].items():
        console.print(f"  [dim]skipped {metric_title(key)}: {reason}[/]")
