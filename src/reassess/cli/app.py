"""The typer application every command module registers on, and the shared console."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="reassess",
    help="How good is your image classifier really? ImageNet evaluation beyond single labels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


class UserError(Exception):
    """An error caused by the user's input; printed as one line, exit status 2."""
