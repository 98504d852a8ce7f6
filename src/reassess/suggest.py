"""'Did you mean' for mistyped names, and short lists of valid choices for one-line errors."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

MAX_SUGGESTIONS = 3
MAX_LISTED = 8


def close_names(name: str, choices: Iterable[str], n: int = MAX_SUGGESTIONS) -> list[str]:
    """Up to ``n`` choices closest to ``name`` (case-insensitive, difflib's ratio >= 0.6).

    Examples
    --------
    >>> close_names("imagenet-vall", ["imagenet-val", "imagenetv2", "folder"])
    ['imagenet-val', 'imagenetv2']
    """
    choices = list(dict.fromkeys(choices))
    by_lower = {c.lower(): c for c in reversed(choices)}
    found = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.6)
    return [by_lower[f] for f in found]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``"; did you mean a, b?"`` for the closest choices, or ``""`` when none is close.

    Examples
    --------
    >>> did_you_mean("timmm", ["timm", "torchvision", "lite0"])
    '; did you mean timm?'
    """
    close = close_names(name, choices)
    return f"; did you mean {', '.join(close)}?" if close else ""


def short_list(choices: Iterable[str], *, more: str = "", limit: int = MAX_LISTED) -> str:
    """The first ``limit`` choices joined by commas, then ``... N more`` (and ``more``, a hint).

    Examples
    --------
    >>> short_list(["a", "b", "c"], limit=2, more="see `reassess models`")
    'a, b, ... 1 more; see `reassess models`'
    """
    choices = list(choices)
    shown = ", ".join(choices[:limit])
    if len(choices) <= limit:
        return shown
    return f"{shown}, ... {len(choices) - limit} more" + (f"; {more}" if more else "")


def unknown_name_message(
    kind: str,
    name: str,
    choices: Iterable[str],
    *,
    shown: Iterable[str] | None = None,
    more: str = "",
    quoted: str | None = None,
) -> str:
    """``unknown KIND 'name'; did you mean x? Accepted: a, b, ... N more; MORE`` on one line.

    ``choices`` are matched against ``name``; ``shown`` (default: ``choices``) are listed, capped.
    ``quoted`` replaces ``name`` in the message (e.g. the whole spec that contained it).

    Examples
    --------
    >>> unknown_name_message("data spec", "imagenet-vall", ["imagenet-val", "samples"])
    "unknown data spec 'imagenet-vall'; did you mean imagenet-val? Accepted: imagenet-val, samples"
    """
    choices = list(choices)
    close = close_names(name, choices)
    lead = f"; did you mean {', '.join(close)}? Accepted: " if close else "; accepted: "
    listing = short_list(choices if shown is None else shown, more=more)
    return f"unknown {kind} {quoted if quoted is not None else repr(name)}{lead}{listing}"
