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
from reassess.runs import recorded_expert_file, run_label_sets
from reassess.store.atomic import atomic_write, atomic_write_json
from reassess.store.run import RunDir

MISTAKES_FILE = "mistakes.parquet"
ANALYSIS_FILE = "analysis.json"
# Label sets of a run that are not human multi-labels: cleanlab's corrected / cleaned single
# labels. The analysis consults the cleanlab list itself (rule 2), so these are left out.
DERIVED_LABEL_SETS = ("corrected", "cleaned")
SHORT_CATEGORY = {
    "not_a_mistake": "not a mistake",
    "known_label_error": "label error",
    "fine_grained": "fine-grained",
    "fine_grained_oov": "fine-grained OOV",
    "spurious_correlation": "spurious",
    "non_prototypical": "non-prototypical",
    "major": "major",
}


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


def analyze_run(run: RunDir, *, expert_labels: Any = None) -> tuple[Any, dict[str, Any]]:
    """Classify and summarise a run's mistakes; write mistakes.parquet and analysis.json.

    ``expert_labels`` is an :class:`~reassess.labels.expert.ExpertLabels` or None.
    """
    import pyarrow.parquet as pq

    from reassess.analysis.evidence import IMAGENET_X_LICENSE
    from reassess.analysis.mistakes import classify_mistakes, default_evidence
    from reassess.analysis.summary import summarize_mistakes

    info = run.read_run()
    predictions = run.read_predictions()
    if not (predictions.labels >= 0).any():
        raise UserError(
            f"{run.path}: no sample has a single label, so there are no top-1 mistakes to analyse"
        )
    ids = predictions.sample_ids.tolist()
    label_sets = {
        name: sets
        for name, sets in run_label_sets(info, predictions).items()
        if name not in DERIVED_LABEL_SETS
    }
    expert = expert_labels.accepted().align(ids) if expert_labels is not None else None
    evidence = default_evidence()
    top1 = predictions.top1.astype("int64")
    confidence = predictions.probs[:, 0] if predictions.probs is not None else None
    mistakes = classify_mistakes(
        predictions.sample_ids,
        predictions.labels,
        top1,
        label_sets=label_sets,
        expert=expert,
        evidence=evidence,
        confidence=confidence,
    )
    summary = summarize_mistakes(
        mistakes,
        predictions.sample_ids,
        predictions.labels,
        top1,
        label_sets=label_sets,
        expert=expert,
        imagenet_x=evidence.imagenet_x,
        hierarchy=evidence.hierarchy,
    )
    x_annotated = int(mistakes["x_annotated"].sum())
    result = {
        "run": {
            "path": str(run.path),
            "model": info.get("model", {}).get("spec"),
            "data": info.get("data", {}).get("spec"),
        },
        **summary,
        "sources": {
            "label_sets": {
                name: {"annotated": int(s.annotated.sum()), "evaluable": int(s.evaluable.sum())}
                for name, s in label_sets.items()
            },
            "expert": expert_labels.describe() if expert_labels is not None else None,
            "cleanlab_label_errors": {
                "mistakes_flagged": int((~mistakes.null["cleanlab_category"]).sum()),
                "license": "Apache-2.0",
            },
            "imagenet_x": {"mistakes_annotated": x_annotated, "license": IMAGENET_X_LICENSE},
            "cooccurrence": f"{evidence.cooccurrence_source} labels of the ImageNet val images",
            "confusions": "class pairs a ViT-3B confused (Vasudevan et al. 2022), Apache-2.0",
            "hierarchy": "WordNet 3.0 is-a hierarchy of the 1000 classes",
        },
        "files": {"mistakes": MISTAKES_FILE},
    }
    table = mistakes.to_table()
    atomic_write(run.path / MISTAKES_FILE, lambda tmp: pq.write_table(table, tmp))
    atomic_write_json(run.path / ANALYSIS_FILE, result)
    return mistakes, result


def print_analysis(result: dict[str, Any], top: int) -> None:
    """The summary tables of ``analysis.json``."""
    run = result["run"]
    n_img, n_mis = result["num_labelled"], result["num_mistakes"]
    table = Table(
        title=f"{n_mis:,} top-1 mistakes of {run['model']} on {run['data']} ({n_img:,} images)",
        title_justify="left",
    )
    table.add_column("category", no_wrap=True)
    for col in ("count", "% of mistakes", "95% CI", "% of images", "minor", "major"):
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
        )
    oov = result["oov"]
    console.print(
        f"  fine-grained out-of-vocabulary: yes {oov['yes']:,}, no {oov['no']:,}, "
        f"undecidable {oov['undecidable']:,}"
    )

    ladder = Table(title="Accuracy ladder", title_justify="left")
    for col, justify in [("", "left"), ("value", "right"), ("95% CI", "right"), ("n", "right")]:
        ladder.add_column(col, justify=justify)
    for step in result["ladder"]:
        ladder.add_row(step["title"], _pct(step["value"]), _ci(step), f"{step['n']:,}")
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
    for p in result["confused_pairs"][:top]:
        cats = ", ".join(
            f"{SHORT_CATEGORY.get(k, k)} {v}"
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
    json_output: Annotated[bool, typer.Option("--json", help="Print analysis.json")] = False,
) -> None:
    """Sort every top-1 mistake into 7 kinds (not a mistake ... major) with its evidence.

    Writes RUNDIR/mistakes.parquet (one row per mistake) and RUNDIR/analysis.json (the
    summary), then prints the summary tables.
    """
    run = RunDir(run_dir)
    run.read_run()  # a clear error for a folder that is not a run, before reading label files
    expert_labels = load_expert_for_run(run, multilabel_file, verify=verify, quiet=json_output)
    if json_output:
        _, result = analyze_run(run, expert_labels=expert_labels)
        typer.echo(json.dumps(result, indent=2))
        return
    with console.status("classifying mistakes ..."):
        mistakes, result = analyze_run(run, expert_labels=expert_labels)
    print_analysis(result, top)
    console.print(
        f"wrote {run.path / MISTAKES_FILE} ({len(mistakes):,} rows) and {run.path / ANALYSIS_FILE}"
    )


def _source_titles() -> dict[str, str]:
    from reassess.analysis.mistakes import SOURCE_TITLES

    return SOURCE_TITLES
