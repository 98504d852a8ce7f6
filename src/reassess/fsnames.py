"""File names as text: Python hands non-UTF-8 names over with surrogate escapes, which no UTF-8
writer (parquet, JSON files, a terminal) accepts; these show the odd bytes as ``\\xNN`` instead."""

from __future__ import annotations

import os


def is_utf8_text(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (it holds no surrogate, escaped byte or lone)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable_name(name: str) -> str:
    """``name`` with the bytes of a non-UTF-8 file name as ``\\xNN`` escapes (safe to print/store)."""
    if is_utf8_text(name):
        return name
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def printable_path(path: str | bytes | os.PathLike) -> str:
    """A path (str, bytes or Path) as text that prints and stores, whatever bytes its name holds."""
    return printable_name(os.fsdecode(path))
