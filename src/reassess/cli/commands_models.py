"""`reassess models`: the model specs `reassess eval --model` accepts, with examples.

Without an argument it lists every registered spec family; with a family name it lists the names
that family knows offline (open_clip's architecture@pretrained pairs, timm's pretrained models,
torchvision's classifiers).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Annotated

import typer

from reassess.cli.app import UserError, app, console

ZERO_SHOT_HELP = (
    "Zero-shot options (open_clip:, hf-clip:): --templates openai|simple|none|FILE, "
    "--prompts FILE.json, --class-names FILE, --prompt-weighting"
)


def _open_clip_names() -> list[str]:
    import open_clip

    return [f"{arch}@{tag}" for arch, tag in open_clip.list_pretrained()]


def _timm_names() -> list[str]:
    import timm

    return list(timm.list_pretrained())


def _torchvision_names() -> list[str]:
    import torchvision.models as tvm

    return list(tvm.list_models(module=tvm))


LISTERS: dict[str, tuple[str, Callable[[], list[str]]]] = {
    "open_clip": ("open_clip_torch", _open_clip_names),
    "timm": ("timm", _timm_names),
    "torchvision": ("torchvision", _torchvision_names),
}


def family_names(family: str, pattern: str | None = None) -> list[str]:
    """Names a family accepts after ``family:`` (offline lists), optionally glob-filtered."""
    if family not in LISTERS:
        raise UserError(
            f"no offline list of names for {family!r}; lists exist for {', '.join(LISTERS)}"
        )
    package, lister = LISTERS[family]
    try:
        names = lister()
    except ImportError as exc:
        raise UserError(f"listing {family} names needs the package {package}") from exc
    if pattern:
        glob = pattern if any(c in pattern for c in "*?[") else f"*{pattern}*"
        names = [n for n in names if fnmatch.fnmatch(n.lower(), glob.lower())]
    return [f"{family}:{n}" for n in names]


@app.command("models", epilog="Example: reassess models timm --filter convnext")
def models_command(
    family: Annotated[
        str | None,
        typer.Argument(help="List the names one family accepts: open_clip, timm or torchvision"),
    ] = None,
    filter: Annotated[
        str | None, typer.Option("--filter", help="Only names matching this text or glob")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the families, or one family's names, as JSON")
    ] = False,
) -> None:
    """List the model specs `reassess eval --model` accepts, with examples."""
    import json

    from rich.table import Table

    from reassess.models.registry import model_families
    from reassess.suggest import unknown_name_message

    families = model_families()
    if family is not None:
        if family not in families:
            raise UserError(unknown_name_message("model family", family, families))
        names = family_names(family, filter)
        if json_output:
            typer.echo(json.dumps(names, indent=2))
            return
        for name in names:
            typer.echo(name)
        console.print(f"{len(names)} {family} specs", style="dim")
        return
    if json_output:
        listing = [
            {
                "family": f.name,
                "help": f.help,
                "examples": list(f.examples),
                "options": list(f.options),
            }
            for f in families.values()
        ]
        typer.echo(json.dumps(listing, indent=2))
        return
    table = Table(title="Model specs for `reassess eval --model`")
    table.add_column("family", no_wrap=True)
    table.add_column("what", ratio=1)
    table.add_column("examples", overflow="fold", ratio=1)
    for name, fam in families.items():
        table.add_row(name, fam.help, "\n".join(fam.examples))
    console.print(table)
    console.print(ZERO_SHOT_HELP)
    console.print(f"Names a family knows offline: reassess models {'|'.join(LISTERS)} [--filter X]")
