"""The HTML report: one self-contained page per set of run folders (``reassess report``)."""

from reassess.report.build import build_report, render_report, write_report

__all__ = ["build_report", "render_report", "write_report"]
