"""`reassess robustness` (effective robustness vs the timm testbed) and `reassess scaling`.

``reassess robustness RUNDIR...`` pairs run folders by model spec: a model's in-distribution
accuracy comes from its run on ``imagenet-val`` and its shift accuracy from its run on the
shifted set (``--shift``), so pass both run folders of every model, e.g.::

    reassess robustness runs/r50-val runs/r50-v2 runs/vit-val runs/vit-v2 --shift imagenetv2

For ImageNet-A/-R the in-distribution accuracy is the val run's top-1 on the shift's 200 classes
with predictions restricted to them (what timm's ``-clean`` results and the testbed use). With no
run folders the command prints the baseline fitted on the testbed alone.

``reassess scaling RESULTS.csv`` fits a scaling law per family (see reassess.analysis.scaling).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from reassess.cli.app import UserError, app, console
from reassess.runs.robustness import SHIFT_HELP, robustness_report
from reassess.runs.scaling import read_results

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


@app.command("robustness")
def robustness_command(
    run_dirs: Annotated[
        list[Path] | None,
        typer.Argument(help="Run folders: each model's imagenet-val run and its run on --shift"),
    ] = None,
    shift: Annotated[str, typer.Option(help=f"Shifted test set: {SHIFT_HELP}")] = "imagenetv2",
    space: Annotated[str, typer.Option(help="Fit space: logit or probit")] = "logit",
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
    """Effective robustness of your models against the baseline of standard ImageNet models."""
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
    )
    if plot is not None:
        figure = plot_effective_robustness(
            fit,
            reference,
            [(r["model"], r["acc_in"], r["acc_shift"]) for r in report["runs"]],
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


def _print_robustness(report: dict[str, Any]) -> None:
    b = report["baseline"]
    t = b["space"]
    console.print(
        f"[bold]{report['shift_title']}[/] vs {report['in_distribution']}: baseline of "
        f"{b['n_models']:,} {report['testbed']['selection']} timm models "
        f"(of {report['testbed']['rows']:,} testbed rows)"
    )
    line = f"  {t}(shift) = {b['slope']:.4f} {t}(ImageNet) {'+' if b['intercept'] >= 0 else '-'} {abs(b['intercept']):.4f}"
    if "slope_ci95" in b:
        line += (
            f"   slope 95% CI [{b['slope_ci95'][0]:.4f}, {b['slope_ci95'][1]:.4f}], intercept "
            f"[{b['intercept_ci95'][0]:.4f}, {b['intercept_ci95'][1]:.4f}] "
            f"({b['n_bootstrap']:,} bootstrap replicates, seed {b['seed']})"
        )
    console.print(line + f"   R² = {b['r2']:.4f}", highlight=False)
    if report["runs"]:
        table = Table(title_justify="left")
        for column in ("model", "ImageNet top-1", f"{report['shift_title']} top-1", "expected"):
            table.add_column(column, justify="right" if column != "model" else "left")
        table.add_column("effective robustness (pp, 95% CI)", justify="right")
        if report["base"]:
            table.add_column(f"relative to {report['base']} (pp, 95% CI)", justify="right")
        for r in report["runs"]:
            cells = [
                r["model"],
                f"{_pct(r['acc_in'])} (n={r['n_in']:,})",
                f"{_pct(r['acc_shift'])} (n={r['n_shift']:,})",
                _pct(r["expected_shift"]),
                f"{_signed_pct(r['effective_robustness'])} {_ci_pct(r['effective_robustness_ci95'])}",
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

@app.command("scaling")
def scaling_command(
    results: Annotated[
        Path, typer.Argument(help="CSV with family, model, compute|params|samples, accuracy")
    ],
    family_column: Annotated[str, typer.Option(help="Column naming the family")] = "family",
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
    """Fit error = a (C + b)^c + d per family on its Pareto front and compare the families."""
    from rich.progress import Progress

    from reassess.analysis.scaling import compare_families
    from reassess.report.robustness_figures import plot_scaling, save_figure

    families, x_name = read_results(
        results,
        family_column=family_column,
        model_column=model_column,
        x_column=x_column,
        accuracy_column=accuracy_column,
        where=where,
    )
    threshold = math.inf if no_holdout else holdout_above
    with Progress(disable=json_output, transient=True) as bar:
        task = bar.add_task("bootstrap refits", total=bootstrap * len(families))
        try:
            comparison = compare_families(
                families,
                holdout_above=threshold,
                target=target_compute,
                n_bootstrap=bootstrap,
                seed=seed,
                on_replicate=lambda: bar.advance(task),
            )
        except ValueError as exc:
            raise UserError(f"{results}: {exc}") from None
    report = comparison.to_dict()
    report.update(source=str(results), x_column=x_name, filters=where or [])
    if plot is not None:
        crossing_points = [c for pair in comparison.crossings for c in pair["crossings"]]
        save_figure(
            plot_scaling(
                comparison.fits, xlabel=x_name, target=target_compute, crossings_at=crossing_points
            ),
            plot,
        )
        report["plot"] = str(plot)
    if json_output:
        typer.echo(json.dumps(report, indent=2, default=float))
        return
    _print_scaling(report)


def _ci(ci, fmt: str = "{:.3f}") -> str:
    return "-" if not ci else f"[{fmt.format(ci[0])}, {fmt.format(ci[1])}]"


def _print_scaling(report: dict[str, Any]) -> None:
    x = report["x_column"]
    console.print(
        f"[bold]Scaling laws[/] error = a ({x} + b)^c + d, fitted on each family's Pareto front "
        f"({report['source']}{'; ' + ' '.join(report['filters']) if report['filters'] else ''})",
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
        if c["crossings"]:
            where = ", ".join(f"{p:.4g}" for p in c["crossings"])
            ci = c["crossing_ci95"]
            console.print(
                f"{first} and {second} cross at {x} = {where}"
                + (f" (last crossing 95% CI [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else " (")
                + f"; {100 * c['share_crossing']:.0f}% of bootstrap pairs cross in [{lo:.3g}, {hi:.3g}]);"
                f" beyond it {c['better_beyond_last_crossing']} has the lower error",
                highlight=False,
            )
        else:
            console.print(
                f"{first} and {second} do not cross in [{lo:.3g}, {hi:.3g}]; "
                f"{c['better_throughout']} has the lower error throughout",
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
