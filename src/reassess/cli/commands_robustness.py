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

import csv
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from reassess.cli.app import UserError, app, console

SHIFT_HELP = "imagenetv2 (MatchedFrequency), imagenet-sketch, imagenet-a, imagenet-r"
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


def _top1(run_dir: Path, data_spec: str, class_subset: np.ndarray | None = None):
    """Top-1 (Proportion) of a stored run, scored as its dataset is (class subsets restricted).

    With ``class_subset`` (ImageNet-A/-R's classes, for an ImageNet val run) only val images of
    those classes count and predictions are ranked among them.
    """
    from reassess.datasets.shifts import scoring_class_map, subset_class_map
    from reassess.metrics.accuracy import topk_accuracy
    from reassess.metrics.subsets import restrict_ranking
    from reassess.store.run import RunDir

    predictions = RunDir(run_dir).read_predictions()
    class_map = subset_class_map(class_subset) if class_subset is not None else None
    if class_subset is not None:
        predictions = predictions.take(np.isin(predictions.labels, class_subset))
    else:
        class_map = scoring_class_map(data_spec)
    topk, labels = predictions.topk, predictions.labels
    if class_map is not None:
        topk, determined = restrict_ranking(predictions, class_map)
        labels = np.where(labels >= 0, class_map[np.maximum(labels, 0)], -1)
        unknown = int((determined[labels >= 0] < 1).sum())
        if unknown:
            raise UserError(
                f"{run_dir}: {unknown} images have none of the scored classes among their stored "
                f"top-{predictions.k}; rerun eval with --keep-logits or a larger --topk"
            )
    if not (labels >= 0).any():
        raise UserError(f"{run_dir}: no labeled images to score")
    return topk_accuracy(topk[:, :1], labels, k=1)


def pair_runs(run_dirs: list[Path], shift: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Match each model's imagenet-val run with its run on the shifted set; notes on the rest."""
    from reassess.analysis.testbed import SHIFTS
    from reassess.datasets.shifts import imagenet_a_classes, imagenet_r_classes
    from reassess.store.run import RunDir

    spec = SHIFTS[shift]
    by_model: dict[str, dict[str, tuple[Path, str]]] = defaultdict(dict)
    notes = []
    for path in run_dirs:
        info = RunDir(path).read_run()
        model = info.get("model", {}).get("spec")
        data = info.get("data", {}).get("spec", "")
        if not model:
            raise UserError(f"{path / 'run.json'}: no model spec recorded")
        family = data.partition(":")[0]
        role = (
            "in" if family == "imagenet-val" else "shift" if family == spec.dataset_family else None
        )
        if role is None:
            notes.append(f"{path}: a run on {data}, not used for --shift {shift}")
            continue
        if role in by_model[model]:
            raise UserError(
                f"{path}: a second {data.partition(':')[0]} run of {model} "
                f"(the first is {by_model[model][role][0]}); pass one run per model and dataset"
            )
        by_model[model][role] = (path, data)
    subset = {"imagenet-a": imagenet_a_classes, "imagenet-r": imagenet_r_classes}.get(shift)
    rows = []
    for model, runs in by_model.items():
        if "shift" not in runs:
            notes.append(f"{model}: no run on {spec.title} among the run folders; skipped")
            continue
        if "in" not in runs:
            raise UserError(
                f"{model}: no imagenet-val run among the run folders; pass the run folder of "
                f"{model} on imagenet-val too (its ImageNet accuracy is the x of the fit)"
            )
        acc_in = _top1(runs["in"][0], runs["in"][1], subset() if subset else None)
        acc_shift = _top1(runs["shift"][0], runs["shift"][1])
        rows.append(
            {
                "model": model,
                "in_run": str(runs["in"][0]),
                "shift_run": str(runs["shift"][0]),
                "acc_in": acc_in.value,
                "n_in": acc_in.n,
                "acc_shift": acc_shift.value,
                "n_shift": acc_shift.n,
            }
        )
    return rows, notes


def robustness_report(
    run_dirs: list[Path],
    *,
    shift: str = "imagenetv2",
    space: str = "logit",
    selection: str = "standard",
    base: str | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> tuple[dict[str, Any], Any, tuple]:
    """The baseline fit on the testbed and every run's effective/relative robustness."""
    from reassess.analysis.robustness import (
        effective_robustness,
        fit_baseline,
        relative_robustness,
    )
    from reassess.analysis.testbed import SHIFTS, load_testbed

    if shift not in SHIFTS:
        raise UserError(f"unknown --shift {shift!r}; choose one of: {SHIFT_HELP}")
    if space not in ("logit", "probit"):
        raise UserError(f"--space must be logit or probit, got {space!r}")
    testbed = load_testbed()
    names, x, y = testbed.pairs(shift, selection=selection)
    fit = fit_baseline(x, y, space=space, n_bootstrap=n_bootstrap, seed=seed)
    rows, notes = pair_runs(run_dirs, shift)
    base_row = None
    if base is not None:
        base_row = next((r for r in rows if r["model"] == base), None)
        if base_row is None:
            raise UserError(
                f"--base {base!r} is none of the paired models ({', '.join(r['model'] for r in rows) or 'none'})"
            )
    for row in rows:
        estimate = effective_robustness(
            fit,
            row["acc_in"],
            row["acc_shift"],
            n_in=row["n_in"],
            n_shift=row["n_shift"],
            seed=seed,
        )
        row["expected_shift"] = estimate.expected_shift
        row["effective_robustness"] = estimate.value
        row["effective_robustness_ci95"] = list(estimate.ci95)
        if base_row is not None:
            value, ci = relative_robustness(
                row["acc_shift"],
                base_row["acc_shift"],
                n=row["n_shift"],
                n_base=base_row["n_shift"],
                seed=seed,
            )
            row["relative_robustness"] = value
            row["relative_robustness_ci95"] = list(ci)
    s = SHIFTS[shift]
    report = {
        "shift": shift,
        "shift_title": s.title,
        "in_distribution": s.in_title,
        "testbed": {
            "source": "timm results (huggingface/pytorch-image-models), joined on model and image size",
            "selection": selection,
            "rows": len(testbed),
            "models_in_fit": int(len(names)),
        },
        "baseline": fit.to_dict(),
        "base": base,
        "runs": rows,
        "notes": notes,
    }
    others = None
    if selection == "standard":  # the testbed models left out of the fit, drawn in grey
        names_all, x_all, y_all = testbed.pairs(shift, selection="all")
        left_out = ~np.isin(names_all, names)
        others = (x_all[left_out], y_all[left_out])
    return report, fit, ((x, y), others)


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
    from reassess.analysis.robustness import plot_effective_robustness, save_figure

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

X_COLUMNS = ("compute", "params", "samples")


def _float(text: str, where: str) -> float:
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        raise UserError(f"{where}: {text!r} is not a number") from None


def read_results(
    path: Path,
    *,
    family_column: str = "family",
    model_column: str = "model",
    x_column: str | None = None,
    accuracy_column: str = "accuracy",
    where: list[str] | None = None,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], str]:
    """Read a results CSV into {family: (x, accuracy as fraction, model names)} and the x column.

    ``where`` filters rows: ``COLUMN=VALUE`` or ``COLUMN=V1,V2`` (any of). ``model_column`` may
    name several columns (``arch,samples_seen``), joined with ``@``. Accuracies above 1 are read
    as percentages.
    """
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such results file")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        rows = list(reader)
    if x_column is None:
        x_column = next((c for c in X_COLUMNS if c in header), None)
        if x_column is None:
            raise UserError(
                f"{path}: no column named {', '.join(X_COLUMNS)}; name the scale column with --x-column"
            )
    filters = []
    for clause in where or []:
        column, sep, values = clause.partition("=")
        if not sep or not column:
            raise UserError(f"--where {clause!r}: expected COLUMN=VALUE or COLUMN=V1,V2")
        filters.append((column, set(values.split(","))))
    model_columns = model_column.split(",")
    needed = [family_column, *model_columns, x_column, accuracy_column, *(c for c, _ in filters)]
    for column in needed:
        if column not in header:
            raise UserError(f"{path}: no column {column!r} (columns: {', '.join(header)})")
    rows = [r for r in rows if all(r[c] in values for c, values in filters)]
    if not rows:
        raise UserError(f"{path}: no rows left after the --where filters")
    grouped: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for i, r in enumerate(rows, start=2):
        where_text = f"{path}: row {i}"
        grouped[r[family_column]].append(
            (
                _float(r[x_column], f"{where_text}, {x_column}"),
                _float(r[accuracy_column], f"{where_text}, {accuracy_column}"),
                "@".join(r[c] for c in model_columns),
            )
        )
    all_acc = np.array([a for items in grouped.values() for _, a, _ in items])
    percent = bool((all_acc > 1).any())
    if (all_acc < 0).any() or (all_acc > (100 if percent else 1)).any():
        raise UserError(
            f"{path}: {accuracy_column} must be a fraction (0-1) or a percentage (0-100)"
        )
    families = {}
    for name, items in grouped.items():
        x = np.array([i[0] for i in items])
        if (x <= 0).any():
            raise UserError(f"{path}: family {name!r} has a non-positive {x_column}")
        acc = np.array([i[1] for i in items]) / (100.0 if percent else 1.0)
        families[name] = (x, acc, np.array([i[2] for i in items], dtype=object))
    return families, x_column


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

    from reassess.analysis.robustness import save_figure
    from reassess.analysis.scaling import compare_families, plot_scaling

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
