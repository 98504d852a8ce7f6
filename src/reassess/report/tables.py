"""The report's tables as CSV downloads: ``data:text/csv`` links built here, one per table.

Every accuracy is written as a fraction with its ``n`` and 95% interval in separate columns
(``value``, ``n``, ``lo``, ``hi``), numbers as numbers, never as formatted text like ``72.1%``.
"""

from __future__ import annotations

import base64
import csv
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

from reassess.analysis.severity import SEVERITIES
from reassess.metrics.stats import clopper_pearson
from reassess.report.cards import iter_numbers, metric_title
from reassess.report.view import Card, LadderStep, MistakesView, RunView

#: The columns of an accuracy with its interval, after the columns that name it.
INTERVAL = ("value", "n", "lo", "hi")
CSV_PREFIX = "data:text/csv;charset=utf-8;base64,"


def _cell(value: Any) -> Any:
    """A CSV cell: None and non-finite numbers empty, numbers unformatted, the rest as text."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return value if isinstance(value, int | float) else str(value)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """``header`` and ``rows`` as CSV text (RFC 4180 quoting, ``\\r\\n`` line ends)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a CSV row has {len(row)} cells for {len(header)} columns: {row!r}")
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def csv_uri(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A ``data:text/csv`` URI of the table, for an ``<a download>`` link in the page.

    Base64 keeps it about a third of the size of percent-encoding text full of commas and spaces.
    """
    return CSV_PREFIX + base64.b64encode(csv_text(header, rows).encode("utf-8")).decode("ascii")


def interval_cells(card: Card) -> tuple[float, int, float, float]:
    """An accuracy's ``value, n, lo, hi`` cells."""
    return (card.value, card.n, card.lo, card.hi)


def metrics_csv(run: RunView) -> str:
    """The "all metrics" table: every proportion with its interval, then the plain numbers."""
    rows: list[tuple[Any, ...]] = [(c.key, c.title, *interval_cells(c)) for c in run.metric_rows]
    rows += [(k, metric_title(k), v, None, None, None) for k, v in iter_numbers(run.metrics)]
    return csv_uri(("key", "metric", *INTERVAL), rows)


def ladder_csv(steps: list[LadderStep]) -> str:
    """The accuracy ladder: one row per rung with its interval and its change from the one before."""
    rows = [
        (i + 1, s.card.key, s.title, *interval_cells(s.card), s.delta) for i, s in enumerate(steps)
    ]
    return csv_uri(("step", "key", "title", *INTERVAL, "change"), rows)


def mistake_counts_csv(mistakes: MistakesView) -> str:
    """Mistakes per category: the count, its share of all mistakes (with interval), severities."""
    rows = []
    for title, count in mistakes.categories:
        lo, hi = clopper_pearson(count, mistakes.total)
        by_severity = mistakes.severities.get(title, {})
        share = count / mistakes.total if mistakes.total else None
        rows.append(
            (
                title,
                count,
                share,
                mistakes.total,
                lo,
                hi,
                *(by_severity.get(s, 0) for s in SEVERITIES),
            )
        )
    header = ("category", "mistakes", "share_of_mistakes", "n", "lo", "hi", *SEVERITIES)
    return csv_uri(header, rows)


def mistake_rows_csv(mistakes: MistakesView) -> str:
    """The mistakes the page lists, one per row (confidence as a fraction)."""
    rows = [
        (
            r.sample_id,
            r.label,
            r.prediction,
            r.confidence,
            "; ".join(r.valid_labels or []),
            r.category,
            r.severity,
            r.evidence,
            r.factors,
            r.review_verdict,
            r.review_severity,
            r.review_note,
        )
        for r in mistakes.rows
    ]
    header = ("sample_id", "label", "prediction", "confidence", "valid_labels", "category")
    reviewed = ("review_verdict", "review_severity", "review_note")
    return csv_uri((*header, "severity", "evidence", "imagenet_x_factors", *reviewed), rows)


def run_downloads(run: RunView) -> dict[str, str]:
    """The CSV links of one run's tables: ``metrics``, ``ladder`` and, with mistakes, ``mistake_counts``
    and ``mistakes``."""
    downloads = {"metrics": metrics_csv(run)}
    if run.ladder:
        downloads["ladder"] = ladder_csv(run.ladder)
    if run.mistakes is not None:
        downloads["mistake_counts"] = mistake_counts_csv(run.mistakes)
        if run.mistakes.rows:
            downloads["mistakes"] = mistake_rows_csv(run.mistakes)
    return downloads


def leaderboard_csv(runs: list[RunView], columns: list[tuple[str, str]]) -> str:
    """The leaderboard in long form: one row per run and metric column, with its interval."""
    rows = []
    for run in runs:
        for key, title in columns:
            card = run.forgiven if key == "forgiven" else run.card(key)
            if card is not None:
                rows.append((run.model, run.data, run.path, key, title, *interval_cells(card)))
    return csv_uri(("model", "data", "run", "metric", "title", *INTERVAL), rows)


def paired_csv(result: dict[str, Any]) -> str:
    """One ``compare_runs`` result: A, B and A − B per metric, with the paired bootstrap interval
    of the difference and McNemar's counts and exact p-value."""
    rows = []
    for key, entry in result["metrics"].items():
        lo, hi = entry["ci95"]
        mcnemar = entry.get("mcnemar") or {}
        rows.append(
            (
                key,
                metric_title(key),
                entry["a"]["value"],
                entry["b"]["value"],
                entry["difference"],
                entry["n"],
                lo,
                hi,
                mcnemar.get("a_only"),
                mcnemar.get("b_only"),
                mcnemar.get("p_value"),
            )
        )
    header = ("key", "metric", "a", "b", "difference", "n", "lo", "hi")
    return csv_uri((*header, "mcnemar_a_only", "mcnemar_b_only", "mcnemar_p"), rows)
