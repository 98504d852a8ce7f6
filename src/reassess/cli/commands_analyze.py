"""`reassess analyze`: sort every top-1 mistake of a run by kind and severity, and summarise.

Writes ``RUNDIR/mistakes.parquet`` (one row per mistake, see
:func:`reassess.analysis.mistakes.classify_mistakes`) and ``RUNDIR/analysis.json`` (the summary
of :func:`reassess.analysis.summary.summarize_mistakes` plus ``run``, ``sources`` and ``files``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from reassess.cli.app import UserError, app, console
from reassess.cli.commands_metrics import load_expert_option
from reassess.cli.options import MultilabelFile, VerifyExpertFile
from reassess.runs import OOVCheck, analyze_run, recorded_expert_file
from reassess.store.run import RunDir


def _pct(value: float | None) -> str:
    return "-" if value is None or value != value else f"{100 * value:.2f}%"


def _ci(entry: dict[str, Any], digits: int = 2) -> str:
    lo, hi = entry["ci95"]
    return "-" if lo != lo else f"{100 * lo:.{digits}f}-{100 * hi:.{digits}f}"


def load_expert_for_run(
    run: RunDir, multilabel_file: Path | None, *, verify: bool, quiet: bool
) -> Any:
    """``--multilabel-file``, or the expert file an earlier ``metrics`` call recorded (or None)."""
    if multilabel_file is None:
        multilabel_file, recorded_verified = recorded_expert_file(run)
        if multilabel_file is not None:
            verify = verify and recorded_verified
            if not quiet:
                console.print(f"using the expert labels recorded for this run: {multilabel_file}")
    return load_expert_option(multilabel_file, verify=verify, quiet=quiet)


def print_analysis(result: dict[str, Any], top: int) -> None:
    """The summary tables of ``analysis.json``."""
    run = result["run"]
    n_img, n_mis = result["num_labelled"], result["num_mistakes"]
    table = Table(
        title=f"{n_mis:,} top-1 mistakes of {run['model']} on {run['data']} ({n_img:,} images)",
        title_justify="left",
    )
    table.add_column("category", no_wrap=True)
    for col in ("count", "% of mistakes", "95% CI", "% of images", "minor", "borderline", "major"):
        table.add_column(col, justify="right")
    for c in result["categories"]:
        share = c["share_of_mistakes"]
        table.add_row(
            c["title"],
            f"{c['count']:,}",
            _pct(share["value"]),
            _ci(share, 1),
            _pct(c["share_of_images"]),
            f"{c['minor']:,}",
            f"{c['borderline']:,}",
            f"{c['major']:,}",
        )
    sev = result["severity"]
    table.add_row(
        "all",
        f"{n_mis:,}",
        "",
        "",
        _pct(n_mis / max(n_img, 1)),
        f"{sev['minor']:,}",
        f"{sev['borderline']:,}",
        f"{sev['major']:,}",
        style="bold",
    )
    console.print(table)
    sources = result["not_a_mistake_sources"]
    if sources:
        parts = [
            f"{k:,} by {_source_titles().get(name, name)}"
            for name, k in sorted(sources.items(), key=lambda kv: -kv[1])
        ]
        console.print("  not a mistake: " + ", ".join(parts))
    for name, ident in result["identities"].items():
        mark = "[green]holds[/]" if ident["holds"] else "[red]does NOT hold[/]"
        title = _source_titles().get(name, name)
        console.print(
            f"  {title} check: {ident['mistakes_in_set']:,} mistakes have the prediction in the "
            f"{title} set; {ident['set_correct_original_wrong']:,} of the "
            f"{ident['set_evaluable']:,} {title}-evaluable images are {title}-correct and "
            f"original-wrong: identity {mark}"
            + (
                f" ({ident['decided_by_experts']:,} of them decided by the expert labels instead)"
                if ident.get("decided_by_experts")
                else ""
            )
        )
    oov = result["oov"]
    sources = ", ".join(f"{k} {v:,}" for k, v in result.get("oov_sources", {}).items())
    console.print(
        f"  out-of-vocabulary (asked of mistakes that are not fine-grained): yes {oov['yes']:,}, "
        f"no {oov['no']:,}, undecidable {oov['undecidable']:,}"
        + (f" (decided by {sources})" if sources else "")
    )
    if oov["undecidable"]:
        console.print(
            "  [dim]to decide them, let a CLIP model look at the images: "
            "reassess analyze RUNDIR --images DIR --oov-clip open_clip:ARCH@PRETRAINED[/]"
        )
    atypical = result["atypical"]
    if atypical["annotated"]:
        console.print(
            f"  atypical images (ImageNet-X flag, not a kind): {atypical['flagged']:,} of the "
            f"{atypical['annotated']:,} annotated mistakes"
        )

    from reassess.analysis.summary import ladder_changes

    ladder = Table(title="Accuracy ladder", title_justify="left")
    columns = [("", "left"), ("value", "right"), ("95% CI", "right"), ("n", "right")]
    for col, justify in [*columns, ("change", "right")]:
        ladder.add_column(col, justify=justify)
    for step, change in zip(result["ladder"], ladder_changes(result["ladder"]), strict=True):
        ladder.add_row(
            step["title"],
            _pct(step["value"]),
            _ci(step),
            f"{step['n']:,}",
            "" if change is None else f"{100 * change:+.2f} pp",
        )
    console.print(ladder)

    pairs = Table(title=f"Most confused class pairs (top {top})", title_justify="left")
    for col, justify in [
        ("label", "left"),
        ("prediction", "left"),
        ("count", "right"),
        ("WordNet dist.", "right"),
        ("categories", "left"),
    ]:
        pairs.add_column(col, justify=justify)
    from reassess.analysis.mistakes import CATEGORY_SHORT_TITLES

    for p in result["confused_pairs"][:top]:
        cats = ", ".join(
            f"{CATEGORY_SHORT_TITLES.get(k, k)} {v}"
            for k, v in sorted(p["categories"].items(), key=lambda kv: -kv[1])
        )
        pairs.add_row(
            p["label_name"],
            p["prediction_name"],
            f"{p['count']:,}",
            str(p["wordnet_distance"]),
            cats,
        )
    console.print(pairs)

    supers = Table(title="Accuracy per superclass of the label (worst first)", title_justify="left")
    for col in ("superclass", "classes", "n", "top-1", "minor forgiven", "major mistakes"):
        supers.add_column(col, justify="left" if col == "superclass" else "right")
    for s in result["superclasses"]:
        supers.add_row(
            s["name"],
            str(s["num_classes"]),
            f"{s['n']:,}",
            _pct(s["top1"]["value"]),
            _pct(s["minor_forgiven"]["value"]),
            f"{s['major_mistakes']:,}",
        )
    console.print(supers)

    x = result["imagenet_x"]
    if x is None:
        console.print("  [dim]ImageNet-X: no annotated image in this run (ImageNet val only)[/]")
        return
    factors = Table(
        title=f"ImageNet-X error ratio per factor ({x['which_factor']} factor; top-1 "
        f"{_pct(x['accuracy']['value'])} on {x['accuracy']['n']:,} annotated non-prototype images)",
        title_justify="left",
    )
    for col in ("factor", "n", "top-1", "error ratio"):
        factors.add_column(col, justify="left" if col == "factor" else "right")
    rows = sorted(x["factors"], key=lambda f: -(f["error_ratio"] or 0))
    for f in rows:
        ratio = f["error_ratio"]
        factors.add_row(
            f["factor"],
            f"{f['n']:,}",
            _pct(f["accuracy"]["value"]),
            "-" if ratio is None else f"{ratio:.2f}",
        )
    console.print(factors)


@app.command("analyze")
def analyze_command(
    run_dir: Annotated[Path, typer.Argument(help="A run folder made by eval or import")],
    multilabel_file: MultilabelFile = None,
    verify: VerifyExpertFile = True,
    top: Annotated[int, typer.Option(help="How many confused class pairs to print")] = 10,
    images: Annotated[
        Path | None,
        typer.Option(help="The run's image folder, for the CLIP out-of-vocabulary check"),
    ] = None,
    oov_clip: Annotated[
        str | None,
        typer.Option(
            "--oov-clip",
            help="CLIP model that decides out-of-vocabulary mistakes from the images "
            "(open_clip:ARCH@PRETRAINED or hf-clip:REPO; needs --images)",
        ),
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="Device of the CLIP model (default: auto)")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Images per CLIP batch")] = 32,
    json_output: Annotated[bool, typer.Option("--json", help="Print analysis.json")] = False,
) -> None:
    """Sort every top-1 mistake by kind (fine-grained, out-of-vocabulary, spurious, ...) and
    score its severity (minor / borderline / major), with the evidence for each.

    Writes RUNDIR/mistakes.parquet (one row per mistake) and RUNDIR/analysis.json (the
    summary), then prints the summary tables. With --images and --oov-clip a CLIP model looks at
    the mistakes label data cannot explain (verdicts cached in RUNDIR/oov_clip.parquet).

    Example: reassess analyze runs/convnext --multilabel-file human_accuracy_v3.0.0.json
    """
    run = RunDir(run_dir)
    run.read_run()  # a clear error for a folder that is not a run, before reading label files
    if (images is None) != (oov_clip is None):
        raise UserError("--images and --oov-clip go together: the CLIP check needs both")
    if images is not None and not images.is_dir():
        raise UserError(f"{images}: no such image folder (from --images)")
    expert_labels = load_expert_for_run(run, multilabel_file, verify=verify, quiet=json_output)
    oov_check = (
        OOVCheck(oov_clip, images, device=device, batch_size=batch_size, progress=not json_output)
        if oov_clip is not None and images is not None
        else None
    )
    if json_output:
        _, result = analyze_run(run, expert_labels=expert_labels, oov_check=oov_check)
        typer.echo(json.dumps(result, indent=2))
        return
    if oov_check is not None:
        mistakes, result = analyze_run(run, expert_labels=expert_labels, oov_check=oov_check)
    else:
        with console.status("classifying mistakes ..."):
            mistakes, result = analyze_run(run, expert_labels=expert_labels)
    print_analysis(result, top)
    console.print(f"wrote {run.mistakes_file} ({len(mistakes):,} rows) and {run.analysis_file}")


def _source_titles() -> dict[str, str]:
    from reassess.analysis.mistakes import SOURCE_TITLES

    return SOURCE_TITLES
