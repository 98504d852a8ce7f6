"""Gather run folders into the report's view model, and render it to one self-contained HTML file.

A run folder holds ``run.json``, ``metrics.json``, ``per_class.csv`` and, after ``reassess
analyze``, ``mistakes.parquet`` and ``analysis.json`` (the schema of
:mod:`reassess.store.schema`, each read through :class:`reassess.store.run.RunDir`). The report
shows whatever of these a run has: every ``{"value", "n", "ci95"}`` entry of ``metrics.json``
whatever its key, the mistakes (from the predictions when the run is not analysed) and, for each
part it cannot show, one line saying why.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reassess.report.cards import (
    forgiven_accuracy,
    headline_cards,
    ladder,
    metric_notes,
    metric_rows,
    other_numbers,
    percent,
    points,
    skipped_metrics,
)
from reassess.report.figures import comparison_figures, data_groups, run_figures
from reassess.report.mistakes import Progress, mistakes_view, read_mistakes
from reassess.report.paired import paired_tests
from reassess.report.tables import leaderboard_csv, run_downloads
from reassess.report.view import MistakeRow, ReportView, RunView
from reassess.store.atomic import atomic_write_text
from reassess.store.run import RunDir

DEFAULT_MAX_MISTAKES = 240

LEADERBOARD = (
    ("top1", "Top-1"),
    ("top5", "Top-5"),
    ("real", "ReaL"),
    ("multilabel", "Multi-label"),
    ("imagenet_m", "ImageNet-M"),
    ("forgiven", "Minor forgiven"),
)


def gather_run(
    path: Path,
    index: int,
    *,
    images: Path | None = None,
    max_mistakes: int = DEFAULT_MAX_MISTAKES,
    progress: Progress | None = None,
) -> RunView:
    """Read one run folder into its view (cards, ladder, figures, mistakes)."""
    from reassess.labels.imagenet import imagenet_classes

    run = RunDir(path)
    info = run.read_run()
    metrics = run.read_metrics()
    analysis = run.read_analysis() if run.analysis_file.is_file() else None
    per_class = run.read_per_class()
    names = tuple(imagenet_classes().names)

    cards, missing = headline_cards(metrics)
    top1 = next((c for c in cards if c.key == "top1"), None)
    mistakes = None
    all_rows: list[MistakeRow] = []
    if run.mistakes_file.is_file() or run.predictions_file.is_file():
        all_rows, source, analysed = read_mistakes(run, names)
        mistakes = mistakes_view(
            run,
            info,
            all_rows,
            source,
            analysed,
            names=names,
            images=images,
            max_mistakes=max_mistakes,
            progress=progress,
        )
    forgiven = forgiven_accuracy(analysis, all_rows, top1)
    total = top1.n if top1 else int(metrics.get("num_samples") or 0)
    data = info["data"]
    view = RunView(
        anchor=f"run-{index + 1}",
        path=str(run.path),
        model=info["model"]["spec"],
        data=data["spec"],
        data_name=str(data.get("name") or ""),
        num_samples=metrics.get("num_samples") or info.get("num_predictions"),
        created=str(info.get("finished") or info.get("created") or ""),
        status=str(info.get("status") or ""),
        cards=cards,
        missing_cards=missing,
        ladder=ladder(cards, forgiven, analysis),
        metric_rows=metric_rows(metrics),
        other_numbers=other_numbers(metrics),
        skipped=skipped_metrics(metrics),
        notes=metric_notes(metrics),
        figures=run_figures(run, metrics, analysis, per_class, mistakes, total, top1),
        mistakes=mistakes,
        metrics=dict(metrics),
        forgiven=forgiven,
    )
    view.downloads = run_downloads(view)
    return view


def build_report(
    run_dirs: list[Path],
    *,
    images: Path | None = None,
    max_mistakes: int = DEFAULT_MAX_MISTAKES,
    title: str | None = None,
    progress: Progress | None = None,
) -> ReportView:
    """The view model of a report over one or more run folders."""
    from reassess import __version__

    if not run_dirs:
        raise ValueError("give at least one run folder")
    if images is not None and not Path(images).is_dir():
        raise FileNotFoundError(f"{images}: --images must be a folder of images")
    runs = [
        gather_run(Path(p), i, images=images, max_mistakes=max_mistakes, progress=progress)
        for i, p in enumerate(run_dirs)
    ]
    several = len(runs) > 1
    figures = comparison_figures(runs) if several else []
    paired, paired_notes = paired_tests(runs, progress) if several else ([], [])
    used = {c.key for r in runs for c in r.cards} | {"forgiven" for r in runs if r.forgiven}
    columns = [(k, t) for k, t in LEADERBOARD if k in used]
    default_title = runs[0].title if not several else f"{len(runs)} runs compared"
    return ReportView(
        title=title or default_title,
        generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        runs=runs,
        leaderboard_columns=columns,
        figures=figures,
        paired=paired,
        paired_notes=paired_notes,
        leaderboard_csv=leaderboard_csv(runs, columns) if several else "",
    )


def render_report(view: ReportView) -> str:
    """The report as one HTML string; every text is escaped by Jinja2's autoescape."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("reassess.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = percent
    env.filters["pp"] = points
    env.filters["thousands"] = lambda n: f"{int(n):,}"
    env.globals["data_groups"] = data_groups  # the leaderboard: one group of rows per test set
    return env.get_template("report.html.j2").render(report=view)


def write_report(
    run_dirs: list[Path],
    out: Path,
    *,
    images: Path | None = None,
    max_mistakes: int = DEFAULT_MAX_MISTAKES,
    title: str | None = None,
    progress: Progress | None = None,
) -> ReportView:
    """Build the report of ``run_dirs`` and write it atomically to ``out`` (one HTML file)."""
    view = build_report(
        run_dirs, images=images, max_mistakes=max_mistakes, title=title, progress=progress
    )
    atomic_write_text(Path(out), render_report(view))
    return view
