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


def _show_flags_without_a_type() -> None:
    """Show ``--json`` (any on/off flag) in --help without typer's ``<bool>``, which reads as if
    the flag took a value (``--json true``); options that take a value keep their type."""
    from typer.core import TyperArgument, TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)  # absent from older typer
    if shown is None or getattr(shown, "_flags_untyped", False):
        return

    def display_type_rich(self: TyperOption, ctx) -> str | None:
        return None if self.is_flag and not isinstance(self, TyperArgument) else shown(self, ctx)

    display_type_rich._flags_untyped = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_show_flags_without_a_type()


def _log_warnings_once() -> None:
    """One stderr line per library warning: a root handler (so ``logging.info`` in a library
    cannot install a second one) and huggingface_hub's own handler kept from echoing it again."""
    import logging

    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        handler.setLevel(logging.WARNING)
        root.addHandler(handler)
    for name in ("huggingface_hub", "transformers"):
        logging.getLogger(name).propagate = False


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
    _log_warnings_once()
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
