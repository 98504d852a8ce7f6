"""`reassess report`: one self-contained HTML page of one or more run folders."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from reassess.cli.app import app, console
from reassess.cli.common import label_warnings_printed


@contextmanager
def _progress_bars(enabled: bool):
    """A factory of rich progress tasks: ``start(description, total)`` returns ``advance(n)``."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as progress:

        def start(description: str, total: int) -> Callable[[int], None]:
            task = progress.add_task(description, total=total)
            return lambda n: progress.advance(task, n)

        yield start


def make_report(
    run_dirs: list[Path],
    out: Path,
    *,
    images: Path | None = None,
    max_mistakes: int | None = None,
    title: str | None = None,
    progress: bool = True,
) -> Path:
    """Write the HTML report of ``run_dirs`` to ``out`` and print where it is."""
    from reassess.report.build import DEFAULT_MAX_MISTAKES, write_report

    with label_warnings_printed(), _progress_bars(progress) as start:
        view = write_report(
            run_dirs,
            out,
            images=images,
            max_mistakes=DEFAULT_MAX_MISTAKES if max_mistakes is None else max_mistakes,
            title=title,
            progress=start,
        )
    size = out.stat().st_size / 1e6
    console.print(
        f"report of {len(view.runs)} run(s): [bold]{out}[/] ({size:.1f} MB, opens offline)"
    )
    return out


@app.command(
    "report",
    epilog="Example: reassess report runs/convnext runs/resnet50 --out report.html "
    "--images /data/imagenet/val",
)
def report_command(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folders to report on")],
    out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("report.html"),
    images: Annotated[
        Path | None,
        typer.Option(help="Folder with the runs' images, for a gallery of mistakes"),
    ] = None,
    max_mistakes: Annotated[
        int | None, typer.Option(min=0, help="Mistakes to show per run (default 240)")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Page title")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
) -> None:
    """Write one self-contained HTML page: headline accuracies, ladder, plots, mistakes."""
    make_report(
        run_dirs, out, images=images, max_mistakes=max_mistakes, title=title, progress=progress
    )
