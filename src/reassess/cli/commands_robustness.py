"""`reassess robustness` (effective robustness vs the timm testbed) and `reassess scaling`.

``reassess robustness RUNDIR...`` pairs run folders by model spec: a model's in-distribution
accuracy comes from its run on ``imagenet-val`` and its shift accuracy from its run on the
shifted set (``--shift``), so pass both run folders of every model, e.g.::

    reassess robustness runs/r50-val runs/r50-v2 runs/vit-val runs/vit-v2 --shift imagenetv2

For ImageNet-A/-R the in-distribution accuracy is the val run's top-1 on the shift's 200 classes
with predictions restricted to them (what timm's ``-clean`` results and the testbed use). With no
run folders the command prints the baseline fitted on the testbed alone.

``reassess scaling RESULTS.csv`` fits a scaling law per family on one task (``--task``/``--metric``
or ``--per-task`` for a long-format CSV of many; see reassess.analysis.scaling).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from reassess.cli.app import UserError, app, console
from reassess.runs.robustness import FIT_HELP, SHIFT_HELP, robustness_report
from reassess.runs.scaling import read_results_table

SeedOption = Annotated[int, typer.Option(help="Seed of the bootstrap")]
PlotOption = Annotated[Path | None, typer.Option(help="Write the plot here (.png, .svg, .pdf)")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]


def _pct(value: float, digits: int = 2) -> str:
    return f"{100 * value:.{digits}f}%"


def _signed_pct(value: float) -> str:
    return f"{100 * value:+.2f}"


def _ci_pct(ci) -> str:
    lo, hi = ci
    if lo is None or math.isnan(lo):
        return "-"
    return f"[{100 * lo:+.2f}, {100 * hi:+.2f}]"


# --- robustness ---------------------------------------------------------------------------------


@app.command(
    "robustness",
    epilog="Example: reassess robustness runs/mymodel-val runs/mymodel-v2 --shift imagenetv2 "
    "--plot er.png",
)
def robustness_command(
    run_dirs: Annotated[
        list[Path] | None,
        typer.Argument(help="Run folders: each model's imagenet-val run and its run on --shift"),
    ] = None,
    shift: Annotated[str, typer.Option(help=f"Shifted test set: {SHIFT_HELP}")] = "imagenetv2",
    space: Annotated[str, typer.Option(help="Fit space: logit or probit")] = "logit",
    fit_kind: Annotated[str, typer.Option("--fit", help=f"Baseline: {FIT_HELP}")] = "auto",
    breakpoint: Annotated[
        float | None,
        typer.Option(
            help="Piecewise fit: ImageNet accuracy (0-1) splitting the two lines "
            "(default 0.9186, ResNet-50 on ImageNet-A's classes, as the imagenet-testbed)"
        ),
    ] = None,
    testbed_models: Annotated[
        str, typer.Option("--testbed", help="Baseline models: standard (ImageNet-1k only) or all")
    ] = "standard",
    base: Annotated[
        str | None,
        typer.Option(help="Model spec whose shift accuracy relative robustness is against"),
    ] = None,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap replicates")] = 1000,
    seed: SeedOption = 0,
    plot: PlotOption = None,
    json_output: JsonOption = False,
) -> None:
    """Effective robustness of your models against the baseline of standard ImageNet models.

    Effective robustness is acc_shift minus the accuracy the baseline expects at the model's acc_in, with a 95% bootstrap interval; --plot draws your runs with 95% Clopper-Pearson error bars.

    --shift real: the baseline is the testbed's ReaL top-1 against its ImageNet top-1, and a model is its imagenet-val run alone (acc_in its top-1, acc_shift its ReaL top-1 from metrics.json), so the figure is how much more ReaL accuracy than expected.

    --shift imagenet-a fits two lines in logit space by default, below and above ResNet-50's 91.86% on ImageNet-A's classes, as the imagenet-testbed does (--fit linear: one line).

    --shift objectnet pairs each ObjectNet run with its val run scored on ObjectNet's 113 classes, without a baseline: timm publishes no ObjectNet results.
    """
    from reassess.report.robustness_figures import plot_effective_robustness, save_figure

    if testbed_models not in ("standard", "all"):
        raise UserError(f"--testbed must be standard or all, got {testbed_models!r}")
    report, fit, (reference, others) = robustness_report(
        list(run_dirs or []),
        shift=shift,
        space=space,
        selection=testbed_models,
        base=base,
        n_bootstrap=bootstrap,
        seed=seed,
        fit=fit_kind,
        breakpoint=breakpoint,
    )
    if plot is not None and fit is None:
        raise UserError(
            f"--plot needs a baseline; the timm testbed has no {report['shift_title']} results"
        )
    if plot is not None:
        figure = plot_effective_robustness(
            fit,
            reference,
            [
                (r["model"], r["acc_in"], r["acc_shift"], r["n_in"], r["n_shift"])
                for r in report["runs"]
            ],
            shift_title=report["shift_title"],
            in_title=report["in_distribution"],
            others=others,
        )
        save_figure(figure, plot)
        report["plot"] = str(plot)
    if json_output:
        typer.echo(json.dumps(report, indent=2))
        return
    _print_robustness(report)


def _equation(t: str, b: dict[str, Any]) -> str:
    sign = "+" if b["intercept"] >= 0 else "-"
    line = f"{t}(shift) = {b['slope']:.4f} {t}(ImageNet) {sign} {abs(b['intercept']):.4f}"
    if "slope_ci95" in b:
        line += (
            f"   slope 95% CI [{b['slope_ci95'][0]:.4f}, {b['slope_ci95'][1]:.4f}], intercept "
            f"[{b['intercept_ci95'][0]:.4f}, {b['intercept_ci95'][1]:.4f}]"
        )
    return line


def _print_baseline(report: dict[str, Any]) -> None:
    b = report["baseline"]
    if b is None:
        console.print(
            f"[bold]{report['shift_title']}[/] vs {report['in_distribution']}: no baseline",
            highlight=False,
        )
        return
    t = b["space"]
    console.print(
        f"[bold]{report['shift_title']}[/] vs {report['in_distribution']}: baseline of "
        f"{b['n_models']:,} {report['testbed']['selection']} timm models "
        f"(of {report['testbed']['rows']:,} testbed rows)"
    )
    if b.get("fit") == "piecewise":
        point = _pct(b["breakpoint"])
        for name, where in (("below", f"ImageNet < {point}"), ("above", f"ImageNet >= {point}")):
            piece = b[name]
            console.print(
                f"  {where} ({piece['n_models']:,} models): {_equation(t, piece)}   "
                f"R² = {piece['r2']:.4f}",
                highlight=False,
            )
        boot = b["below"].get("n_bootstrap")
        seed = b["below"].get("seed")
        tail = f" ({boot:,} bootstrap replicates per piece, seed {seed})" if boot else ""
        console.print(f"  two-piece fit R² = {b['r2']:.4f}{tail}", highlight=False)
        return
    line = "  " + _equation(t, b)
    if "n_bootstrap" in b:
        line += f" ({b['n_bootstrap']:,} bootstrap replicates, seed {b['seed']})"
    console.print(line + f"   R² = {b['r2']:.4f}", highlight=False)


def _print_robustness(report: dict[str, Any]) -> None:
    _print_baseline(report)
    has_baseline = report["baseline"] is not None
    if report["runs"]:
        table = Table(title_justify="left")
        columns = ["model", "ImageNet top-1", f"{report['shift_title']} top-1"]
        for column in columns + (["expected"] if has_baseline else []):
            table.add_column(column, justify="right" if column != "model" else "left")
        if has_baseline:
            table.add_column("effective robustness (pp, 95% CI)", justify="right")
        if report["base"]:
            table.add_column(f"relative to {report['base']} (pp, 95% CI)", justify="right")
        for r in report["runs"]:
            cells = [
                r["model"],
                f"{_pct(r['acc_in'])} (n={r['n_in']:,})",
                f"{_pct(r['acc_shift'])} (n={r['n_shift']:,})",
            ]
            if has_baseline:
                cells += [
                    _pct(r["expected_shift"]),
                    f"{_signed_pct(r['effective_robustness'])} "
                    f"{_ci_pct(r['effective_robustness_ci95'])}",
                ]
            if report["base"]:
                cells.append(
                    f"{_signed_pct(r['relative_robustness'])} {_ci_pct(r['relative_robustness_ci95'])}"
                )
            table.add_row(*cells)
        console.print(table)
    for note in report["notes"]:
        console.print(f"  [dim]{note}[/]", highlight=False)
    if "plot" in report:
        console.print(f"plot: [bold]{report['plot']}[/]")


# --- scaling ------------------------------------------------------------------------------------


@app.command(
    "scaling",
    epilog="Example: reassess scaling results.csv --family-column family --x-column compute "
    "--accuracy-column accuracy --plot scaling.png",
)
def scaling_command(
    results: Annotated[
        Path,
        typer.Argument(help="CSV with family, model, compute|params|samples, accuracy columns"),
    ],
    family_column: Annotated[
        str,
        typer.Option(
            help="Column(s) whose joint value names a family (one curve), "
            "e.g. model_type,pretrain_dataset"
        ),
    ] = "family",
    model_column: Annotated[
        str, typer.Option(help="Column(s) naming the model, e.g. arch,samples_seen")
    ] = "model",
    x_column: Annotated[
        str | None, typer.Option(help="Scale column (default: compute, params or samples)")
    ] = None,
    accuracy_column: Annotated[str, typer.Option(help="Accuracy column (0-1 or %)")] = "accuracy",
    where: Annotated[
        list[str] | None, typer.Option(help="Keep rows with COLUMN=VALUE[,VALUE...]; repeatable")
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(help="Keep this task (task, benchmark or downstream_dataset column)"),
    ] = None,
    metric: Annotated[str | None, typer.Option(help="Keep this metric (metric column)")] = None,
    task_column: Annotated[
        str | None,
        typer.Option(
            help="Column(s) naming the task (default: task, benchmark, downstream_dataset, "
            "eval_dataset, metric where present; '' for none)"
        ),
    ] = None,
    per_task: Annotated[
        bool,
        typer.Option(
            "--per-task", help="Fit and compare the families separately on every task in the CSV"
        ),
    ] = False,
    pareto: Annotated[
        str,
        typer.Option(
            help="Front: binned (best point per log bin, then the front; Nezhurina et al. 2025) "
            "or all (every point better than all cheaper ones)"
        ),
    ] = "binned",
    bins_per_decade: Annotated[
        float, typer.Option(min=0.01, help="Bins per decade of scale for --pareto binned")
    ] = 5.0,
    holdout_above: Annotated[
        float | None,
        typer.Option(
            help="Hold out Pareto points above this scale (default: each family's largest)"
        ),
    ] = None,
    no_holdout: Annotated[
        bool, typer.Option("--no-holdout", help="Fit on every Pareto point")
    ] = False,
    target_compute: Annotated[
        float | None, typer.Option(help="Predict each family's accuracy at this scale")
    ] = None,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap refits per family")] = 200,
    seed: SeedOption = 0,
    plot: PlotOption = None,
    json_output: JsonOption = False,
) -> None:
    """Fit error = a (C + b)^c + d per family on its Pareto front and compare the families.

    A CSV with several tasks or metrics (task, benchmark, downstream_dataset, metric columns) is
    refused unless one is picked (--task, --metric, --where) or --per-task fits each apart.
    """
    from rich.progress import Progress

    from reassess.analysis.scaling import PARETO_METHODS, compare_families
    from reassess.report.robustness_figures import family_colours, plot_scaling, save_figure

    if pareto not in PARETO_METHODS:
        raise UserError(f"--pareto must be one of {', '.join(PARETO_METHODS)}, got {pareto!r}")
    table = read_results_table(
        results,
        family_column=family_column,
        model_column=model_column,
        x_column=x_column,
        accuracy_column=accuracy_column,
        where=where,
        task_column=task_column,
        task=task,
        metric=metric,
        per_task=per_task,
    )
    x_name = table.x_column
    threshold = math.inf if no_holdout else holdout_above
    colours = family_colours(sorted({f for fams in table.tasks.values() for f in fams}))
    reports: dict[str, dict[str, Any]] = {}
    with Progress(disable=json_output, transient=True) as bar:
        total = bootstrap * sum(len(fams) for fams in table.tasks.values())
        progress = bar.add_task("bootstrap refits", total=total)
        for key, families in table.tasks.items():
            try:
                comparison = compare_families(
                    families,
                    holdout_above=threshold,
                    target=target_compute,
                    n_bootstrap=bootstrap,
                    seed=seed,
                    pareto=pareto,
                    bins_per_decade=bins_per_decade,
                    on_replicate=lambda: bar.advance(progress),
                )
            except ValueError as exc:
                scope = f" task {key}:" if key is not None else ""
                raise UserError(f"{results}:{scope} {exc}") from None
            report = comparison.to_dict()
            report.update(task=key)
            if plot is not None:
                path = plot if not per_task else _task_plot_path(plot, key)
                crossing_points = [c for pair in comparison.crossings for c in pair["crossings"]]
                figure = plot_scaling(
                    comparison.fits,
                    xlabel=x_name,
                    target=target_compute,
                    crossings_at=crossing_points,
                    colours=colours,
                    title=key,
                )
                save_figure(figure, path)
                report["plot"] = str(path)
            reports[key if key is not None else ""] = report
    header = {
        "source": str(results),
        "x_column": x_name,
        "family_columns": family_column.split(","),
        "task_columns": table.task_columns,
        "filters": [
            *(where or []),
            *([f"task={task}"] if task else []),
            *([f"metric={metric}"] if metric else []),
        ],
        "pareto": pareto,
        "bins_per_decade": bins_per_decade if pareto == "binned" else None,
        "notes": table.notes,
    }
    if per_task:
        out: dict[str, Any] = {**header, "tasks": reports}
    else:
        (single,) = reports.values()
        out = {**header, **single}
    if json_output:
        typer.echo(json.dumps(out, indent=2, default=float))
        return
    for report in reports.values():
        _print_scaling({**header, **report})
    for note in table.notes:
        console.print(f"  [dim]note: {note}[/]", highlight=False)


def _task_plot_path(plot: Path, task: str | None) -> Path:
    """``scaling.png`` -> ``scaling-imagenet1k-acc1.png``: one plot per task under --per-task."""
    if task is None:
        return plot
    slug = "".join(ch if ch.isalnum() or ch in "._@" else "-" for ch in task).strip("-")
    return plot.with_name(f"{plot.stem}-{slug}{plot.suffix}")


def _ci(ci, fmt: str = "{:.3f}") -> str:
    return "-" if not ci else f"[{fmt.format(ci[0])}, {fmt.format(ci[1])}]"


def _crossing_text(detail: dict[str, Any], n_replicates: int) -> str:
    """One crossing: where, its own bootstrap interval and share, who leads after it."""
    share = detail["share"]
    pairs = (
        f"{100 * share:.0f}% of {n_replicates} bootstrap pairs cross there"
        if share is not None
        else "no bootstrap pairs"
    )
    if detail["ci95"]:
        lo, hi = detail["ci95"]
        text = f"{detail['x']:.4g} (95% CI [{lo:.3g}, {hi:.3g}]; {pairs})"
    else:
        text = f"{detail['x']:.4g} (no 95% CI: {pairs}, fewer than 10)"
    text += f", after it {detail['better_after']} has the lower error"
    if detail["estimate_in_ci"] is False:
        text += (
            " [bold red]-- the fitted crossing lies outside its own bootstrap interval: "
            "unstable, do not rely on it[/]"
        )
    return text


def _print_scaling(report: dict[str, Any]) -> None:
    x = report["x_column"]
    front = (
        f"binned Pareto front ({report['bins_per_decade']:g} bins per decade)"
        if report["pareto"] == "binned"
        else "Pareto front (every point better than all cheaper ones)"
    )
    task = f"task {report['task']}, " if report.get("task") else ""
    console.print(
        f"[bold]Scaling laws[/] error = a ({x} + b)^c + d, fitted on each family's {front} "
        f"({task}{report['source']}{'; ' + ' '.join(report['filters']) if report['filters'] else ''})",
        highlight=False,
    )
    table = Table(title_justify="left")
    for column in (
        "family",
        "points",
        "front",
        "fitted",
        "a",
        "b",
        "exponent c (95% CI)",
        "floor d (95% CI)",
        "fit RMSE",
        "bootstrap",
    ):
        table.add_column(column, justify="left" if column == "family" else "right")
    for name, f in report["families"].items():
        law = f["law"]
        table.add_row(
            name,
            str(f["points"]),
            str(f["pareto_points"]),
            str(f["fitted_points"]),
            f"{law['a']:.4g}",
            f"{law['b']:.4g}",
            f"{law['c']:.4f} {_ci(f['exponent_c_ci95'], '{:.4f}')}",
            f"{law['d']:.4f} {_ci(f['floor_d_ci95'], '{:.4f}')}",
            f"{f['fit_rmse']:.4f}",
            str(f["n_bootstrap"]),
        )
    console.print(table)
    held = Table(title="Held-out Pareto points (not used in the fit)", title_justify="left")
    for column in (
        "family",
        "model",
        x,
        "actual error",
        "predicted (95% CI)",
        "actual - predicted",
    ):
        held.add_column(column, justify="left" if column in ("family", "model") else "right")
    any_held = False
    for name, f in report["families"].items():
        for h in f["heldout"]:
            any_held = True
            held.add_row(
                name,
                h["model"],
                f"{h['x']:.4g}",
                f"{h['error']:.4f}",
                f"{h['predicted']:.4f} {_ci(h['predicted_ci95'], '{:.4f}')}",
                f"{h['residual']:+.4f}",
            )
    if any_held:
        console.print(held)
    else:
        console.print("  [dim]no held-out points (every Pareto point was fitted)[/]")
    for c in report["crossings"]:
        first, second = c["families"]
        lo, hi = c["range"]
        details = c["crossing_details"]
        if len(details) == 1:
            console.print(
                f"{first} and {second} cross at {x} = "
                + _crossing_text(details[0], c["n_replicates"]),
                highlight=False,
            )
        elif details:
            console.print(
                f"{first} and {second} cross {len(details)} times in [{lo:.3g}, {hi:.3g}]; "
                f"beyond the last {c['better_beyond_last_crossing']} has the lower error:",
                highlight=False,
            )
            for d in details:
                console.print(
                    f"  at {x} = " + _crossing_text(d, c["n_replicates"]), highlight=False
                )
        else:
            share = c["share_crossing"]
            console.print(
                f"{first} and {second} do not cross in [{lo:.3g}, {hi:.3g}]; "
                f"{c['better_throughout']} has the lower error throughout"
                + (f" ({100 * share:.0f}% of bootstrap pairs cross)" if share is not None else ""),
                highlight=False,
            )
    if "predictions" in report:
        for name, p in report["predictions"].items():
            console.print(
                f"at {x} = {report['target']:.4g}: {name} error {p['error']:.4f} "
                f"{_ci(p['error_ci95'], '{:.4f}')} (accuracy {_pct(p['accuracy'])})",
                highlight=False,
            )
    if "plot" in report:
        console.print(f"plot: [bold]{report['plot']}[/]")
