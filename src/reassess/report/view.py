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
    png: str | None = None  # the same plot as a 200 dpi PNG data URI, for the download link
    filename: str = ""  # download name without suffix, e.g. "resnet50-imagenet-val-reliability"
    wide: bool = False  # several panels: shown across the whole row


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
    category_key: str | None = None  # the analysis' category key (None: not analysed)
    review_verdict: str = ""  # the reviewers' verdict title (majority), "" if not reviewed
    review_severity: str = ""  # the reviewers' severity of a mistake verdict
    review_tone: str = ""  # the chip's colour: a severity, "none" (not a mistake) or "unknown"
    review_note: str = ""  # the reviewers' notes, "reviewer: note; ..."
    reviewers: int = 0  # how many reviewed it
    review_agrees: bool | None = None  # the review's verdict is the automatic category


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
    reviewed: int = 0  # mistakes with a review in the run's review database
    review_source: str = ""  # the review database read, or why it could not be
    #: reviewed, analysed mistakes the review puts in the automatic category: (agree, of)
    review_same_category: tuple[int, int] | None = None
    #: the same on "is it a mistake at all?" (problematic images left out): (agree, of)
    review_same_mistake: tuple[int, int] | None = None

    @property
    def has_reviews(self) -> bool:
        return any(r.review_verdict for r in self.rows)

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
    #: table name (``metrics``, ``ladder``, ``mistake_counts``, ``mistakes``) -> CSV data URI
    downloads: dict[str, str] = field(repr=False, default_factory=dict)

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
    csv: str = field(repr=False, default="")  # the rows as numbers, a CSV data URI


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
    leaderboard_csv: str = field(repr=False, default="")  # a CSV data URI, long form
