"""The typer application every command module registers on, and the shared console."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from reassess.runs.errors import Interrupted, RunError

app = typer.Typer(
    name="reassess",
    help="How good is your image classifier really? ImageNet evaluation beyond single labels.",
    epilog="Example: reassess eval --model timm:resnet50.a1_in1k --data imagenet-val:/data/val "
    "--out runs/r50 && reassess analyze runs/r50 && reassess report runs/r50 --out report.html",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (files, CI logs) gets a wide page instead of rich's 80-column default, so tables
# are not truncated; a terminal's own width, or $COLUMNS, still wins.
_PIPED_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
console = Console(width=_PIPED_WIDTH)
err_console = Console(stderr=True, width=_PIPED_WIDTH)


class UserError(RunError):
    """An error caused by the user's input; printed as one line, exit status 2."""


__all__ = ["Interrupted", "UserError", "app", "console", "err_console"]
