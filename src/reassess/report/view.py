"""The report's view model: plain dataclasses the template renders, filled by :mod:`~.build`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Card:
    """One accuracy with its 95% interval, as shown in a headline card or the metrics table."""

    key: str
    title: str
    value: float
    n: int
    lo: float
    hi: float
    note: str = ""

    @property
    def count(self) -> int:
        return round(self.value * self.n)

    @property
    def ci(self) -> tuple[float, float]:
        return (self.lo, self.hi)


@dataclass
class Missing:
    """A part of the report that could not be shown, and why."""

    title: str
    reason: str


@dataclass
class Figure:
    """A rendered plot (``src`` is a data URI) or, when ``src`` is None, why it is left out."""

    key: str
    title: str
    caption: str = ""
    src: str | None = None
    reason: str = ""


@dataclass
class LadderStep:
    """One rung of the accuracy ladder, with its change from the rung before."""

    title: str
    card: Card
    delta: float | None = None  # change from the previous step, as a fraction


@dataclass
class MistakeRow:
    """One top-1 mistake as the gallery and the table show it."""

    sample_id: str
    label: str
    prediction: str
    valid_labels: list[str] | None  # None: not in mistakes.parquet, filled from the label sets
    category: str  # the analysis' title of the category (or "not analysed")
    severity: str
    confidence: float | None
    evidence: str
    factors: str = ""  # ImageNet-X factors of the image, when mistakes.parquet has them
    thumbnail: str | None = None


@dataclass
class MistakesView:
    """All top-1 mistakes of a run, counted per category, and the ones shown."""

    total: int
    categories: list[tuple[str, int]]  # (category title, mistakes) in the analysis' order
    severities: dict[str, dict[str, int]]  # category title -> severity -> mistakes
    rows: list[MistakeRow]
    source: str  # where the rows came from, in words
    analysed: bool
    images_note: str = ""

    @property
    def has_thumbnails(self) -> bool:
        return any(r.thumbnail for r in self.rows)

    @property
    def has_confidence(self) -> bool:
        return any(r.confidence is not None for r in self.rows)

    @property
    def has_evidence(self) -> bool:
        return any(r.evidence or r.factors for r in self.rows)


@dataclass
class RunView:
    """Everything the report shows about one run."""

    anchor: str
    path: str
    model: str
    data: str
    data_name: str
    num_samples: int | None
    created: str
    status: str
    cards: list[Card]
    missing_cards: list[Missing]
    ladder: list[LadderStep]
    metric_rows: list[Card]
    other_numbers: list[tuple[str, str]]
    skipped: list[Missing]
    notes: list[str]
    figures: list[Figure]
    mistakes: MistakesView | None
    metrics: dict[str, Any] = field(repr=False, default_factory=dict)
    forgiven: Card | None = None

    @property
    def title(self) -> str:
        return f"{self.model} on {self.data}"

    def card(self, slot: str) -> Card | None:
        return next((c for c in self.cards if c.key == slot), None)


@dataclass
class PairedTest:
    """``reassess compare`` of two runs on the same images: one row per metric."""

    a: str
    b: str
    rows: list[dict[str, str]]
    resamples: int | None = None


@dataclass
class ReportView:
    """The whole page: the runs, the leaderboard's columns, cross-run figures and paired tests."""

    title: str
    generated: str
    version: str
    runs: list[RunView]
    leaderboard_columns: list[tuple[str, str]]
    figures: list[Figure]
    paired: list[PairedTest]
    paired_notes: list[str]
