"""Entry point: registers every command module and turns input errors into one-line messages."""

from __future__ import annotations

import sys

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
from reassess.cli.app import UserError, app, err_console
from reassess.datasets.base import DataSpecError
from reassess.models.registry import ModelSpecError
from reassess.store.importers import ImportError_

USER_ERRORS = (
    UserError,
    DataSpecError,
    ModelSpecError,
    ImportError_,
    FileNotFoundError,
    ValueError,
)


def main() -> None:
    try:
        app()
    except USER_ERRORS as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: finished batches are kept; rerun to resume")
        sys.exit(130)


if __name__ == "__main__":
    main()
