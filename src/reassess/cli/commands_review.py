"""`reassess review`: review a run's remaining mistakes in a local web page; export the labels.

``reassess review RUNDIR --images PATH`` is short for ``reassess review serve RUNDIR --images PATH``;
``reassess review export [RUNDIR] --out labels.json`` writes the reviewed multi-labels;
``reassess review stats [RUNDIR]`` prints progress and agreement.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.table import Table
from typer.core import TyperGroup

from reassess.cli.app import UserError, app, console


class ReviewGroup(TyperGroup):
    """A group whose default command is ``serve``: ``review RUNDIR`` = ``review serve RUNDIR``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["serve", *args]
        return super().parse_args(ctx, args)


review_app = typer.Typer(
    cls=ReviewGroup,
    help="Review remaining mistakes in a local web page and grow the label set. "
    "`reassess review RUNDIR --images PATH` is short for `reassess review serve ...`.",
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Review database (default: RUNDIR/review.sqlite)"),
]


def _db_path(run_dir: Path | None, db: Path | None) -> Path:
    from reassess.review.store import run_review_db

    if db is not None:
        return db
    if run_dir is None:
        raise UserError("give a run folder or --db PATH (the review database)")
    return run_review_db(run_dir)


def _existing_store(run_dir: Path | None, db: Path | None):
    from reassess.review.store import ReviewStore

    path = _db_path(run_dir, db)
    if not path.is_file():
        raise UserError(f"{path}: no review database (start one with: reassess review RUNDIR)")
    return ReviewStore(path)


@review_app.command(
    "serve", epilog="Example: reassess review runs/convnext --images /data/imagenet/val"
)
def serve_command(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="Run folder(s) whose mistakes to review (same dataset)")
    ],
    images: Annotated[
        Path | None,
        typer.Option(help="Folder with the run's images (default: the run's data folder)"),
    ] = None,
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port)", min=0, max=65535)] = 8765,
    allow_remote: Annotated[
        bool,
        typer.Option("--allow-remote", help="Allow listening on a non-loopback address"),
    ] = False,
    multilabel_file: Annotated[
        Path | None,
        typer.Option(help="Expert multi-labels (human_accuracy_v3.0.0.json) to show"),
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Check the multi-label file's sha256")
    ] = True,
) -> None:
    """Serve the review page (local only unless --allow-remote)."""
    from reassess.review.server import ReviewServer, check_bind_host, open_review

    check_bind_host(host, allow_remote=allow_remote)
    review = open_review(
        run_dirs,
        images=images,
        db=db,
        multilabel_file=multilabel_file,
        verify=verify,
        allow_remote=allow_remote,
    )
    if not len(review.review_set):
        console.print("[yellow]no mistakes to review[/]: every labelled prediction is right")
        return
    server = ReviewServer(review, host=host, port=port)
    grouped = review.store.by_sample()
    done = sum(1 for item in review.review_set.items if item.sample_id in grouped)
    console.print(
        f"[bold]{len(review.review_set):,}[/] mistakes of {', '.join(review.review_set.models)} "
        f"({done:,} reviewed so far); reviews in {review.store.path}"
    )
    console.print(f"images from {review.images.root}")
    console.print(f"open [bold link={server.url}]{server.url}[/]  (Ctrl+C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("stopped; every saved review is in the database")
    finally:
        server.stop()


@review_app.command(
    "export", epilog="Example: reassess review export runs/convnext --out reviewed.json"
)
def export_command(
    out: Annotated[Path, typer.Option(help="JSON file to write (expert multi-label schema)")],
    run_dir: Annotated[
        Path | None, typer.Argument(help="Run folder (its review.sqlite is used)")
    ] = None,
    db: DbOption = None,
    reviewer: Annotated[
        list[str] | None, typer.Option(help="Use only this reviewer's reviews (repeatable)")
    ] = None,
    merge: Annotated[
        Path | None,
        typer.Option(help="Extend this multi-label file (e.g. human_accuracy_v3.0.0.json)"),
    ] = None,
) -> None:
    """Write the reviewed multi-labels in the expert multi-label schema."""
    from reassess.review.export import export_labels

    store = _existing_store(run_dir, db)
    try:
        summary = export_labels(store, out, reviewers=reviewer or None, merge=merge, run=run_dir)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    console.print(
        f"wrote {summary.path}: {summary.images:,} reviewed images ({summary.reviews:,} reviews by "
        f"{', '.join(summary.reviewers)}); {summary.with_extra_labels:,} with more than one valid "
        f"label, {summary.problematic:,} problematic, {summary.major:,} major mistakes"
        + (f"; {summary.merged_images:,} images kept from {merge}" if merge else ""),
        highlight=False,
    )
    if summary.run_images is not None and summary.run_images < summary.images:
        console.print(
            f"[yellow]note[/]: {summary.images - summary.run_images:,} reviewed images are not "
            f"images of {run_dir} (the database also reviews other runs' images)",
            highlight=False,
        )
    target = run_dir if run_dir is not None else "RUNDIR"
    console.print(
        f"recompute accuracy with the reviewed labels: reassess metrics {target} "
        f"--multilabel-file {summary.path}",
        highlight=False,
    )


@review_app.command("stats", epilog="Example: reassess review stats runs/convnext --json")
def stats_command(
    run_dir: Annotated[Path | None, typer.Argument(help="Run folder")] = None,
    db: DbOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON")] = False,
) -> None:
    """Print review progress and agreement between reviewers."""
    from collections import Counter

    from reassess.review.agreement import verdict_agreement
    from reassess.review.store import MISTAKE_VERDICTS

    store = _existing_store(run_dir, db)
    grouped = store.by_sample()
    reviews = [r for rs in grouped.values() for r in rs]
    agreement = verdict_agreement(
        {s: {r.reviewer: r.verdict for r in rs} for s, rs in grouped.items()},
        is_mistake={v: True for v in MISTAKE_VERDICTS},
    )
    verdicts = Counter(r.verdict for r in reviews)
    reviewers = Counter(r.reviewer for r in reviews)
    if json_output:
        typer.echo(
            json.dumps(
                {
                    "images": len(grouped),
                    "reviews": len(reviews),
                    "verdicts": dict(verdicts),
                    "reviewers": dict(reviewers),
                    "agreement": agreement.to_dict(),
                },
                indent=2,
            )
        )
        return
    table = Table(title=f"{len(grouped):,} images, {len(reviews):,} reviews ({store.path})")
    table.add_column("verdict")
    table.add_column("reviews", justify="right")
    for verdict, n in verdicts.most_common():
        table.add_row(verdict.replace("_", " "), f"{n:,}")
    console.print(table)
    console.print("reviewers: " + ", ".join(f"{r} ({n:,})" for r, n in reviewers.most_common()))
    if agreement.items:
        u = agreement.unanimous
        kappa = "n/a" if agreement.fleiss_kappa is None else f"{agreement.fleiss_kappa:.3f}"
        console.print(
            f"{agreement.items:,} images with 2+ reviews: {100 * u.value:.1f}% unanimous "
            f"(95% CI {100 * u.ci95[0]:.1f}-{100 * u.ci95[1]:.1f}), Fleiss' kappa {kappa}"
        )
    else:
        console.print("no image has two reviews yet: no agreement to report")
