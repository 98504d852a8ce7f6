"""Errors of the run pipelines: each message is one line naming the run folder or file."""

from __future__ import annotations


class RunError(ValueError):
    """A run that cannot be made, read or combined as asked (bad input, not a crash)."""


class IncomparableRunsError(RunError):
    """Two runs that cannot be compared: different data, different images or different labels."""


class Interrupted(Exception):
    """Ctrl-C during a long run; the message says what was kept and how to go on."""
