"""Entry point: registers every command module and turns input errors into one-line messages."""

from __future__ import annotations

import sys
import warnings

from reassess.cli import (  # noqa: F401
    commands_analyze,
    commands_compare,
    commands_demo,
    commands_eval,
    commands_metrics,
    commands_models,
    commands_report,
    commands_review,
    commands_robustness,
    commands_zoo,
)
from reassess.cli.app import Interrupted, UserError, app, err_console
from reassess.datasets.base import DataSpecError
from reassess.models.registry import ModelSpecError
from reassess.store.atomic import describe_os_error
from reassess.store.importers import ImportError_
from reassess.store.run import RunFolderBusy

USER_ERRORS = (
    UserError,
    DataSpecError,
    ModelSpecError,
    ImportError_,
    ValueError,
    RunFolderBusy,
)
INTERRUPTED = 130  # the shell's status for a command stopped by Ctrl-C


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings as ``warning: message`` lines on stderr, without the source line behind them."""
    return f"warning: {message}\n"


def _fail(message: object, status: int, *, style: str = "bold red", label: str = "error") -> None:
    """Print ``label: message`` as one line on stderr (the message verbatim) and exit."""
    from rich.markup import escape

    prefix = f"[{style}]{label}[/]: " if label else f"[{style}]"
    err_console.print(prefix + escape(str(message)), highlight=False, soft_wrap=True)
    sys.exit(status)


def main() -> None:
    warnings.formatwarning = _one_line_warning
    try:
        app()
    except USER_ERRORS as exc:
        _fail(exc, 2)
    except OSError as exc:  # read-only or full disk, a file where a folder should be, ...
        _fail(describe_os_error(exc), 2 if isinstance(exc, FileNotFoundError) else 1)
    except Interrupted as exc:
        _fail(exc, INTERRUPTED, style="yellow", label="")
    except SystemExit as exc:
        if exc.code == INTERRUPTED:  # typer turns Ctrl-C into a silent exit 130
            message = "finished work is kept; rerun the command to go on"
            _fail(message, INTERRUPTED, style="yellow", label="interrupted")
        raise


if __name__ == "__main__":
    main()
