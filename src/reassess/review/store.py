"""Reviews in SQLite: one row per (reviewer, sample), kept across restarts, safe for many writers.

The database (default ``RUNDIR/review.sqlite``) runs in WAL mode, so readers never block the
writer, and every write is one short ``BEGIN IMMEDIATE`` transaction with a busy timeout, so two
reviewers (threads of one server, or two servers on one file) saving at once both succeed.
Tables:

- ``reviews``: the current review of each (reviewer, sample_id): verdict, severity, the classes the
  reviewer judged valid (``valid``) out of those shown (``shown``), both JSON lists of WordNet ids,
  a note, the models whose mistake was on screen, and ``created`` / ``updated`` UTC timestamps.
- ``history``: every save and delete, appended, so no earlier verdict is ever lost.
- ``meta``: schema version and the secret the page's CSRF token is derived from.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

# A reviewer rates severity on the scale analyze scores (and Vasudevan et al. rated).
from reassess.analysis.severity import SEVERITIES

SCHEMA_VERSION = 1
NOT_A_MISTAKE = "not_a_mistake"
PROBLEMATIC = "problematic"
# Mistake kinds of "When does dough become a bagel?" (Vasudevan et al., NeurIPS 2022).
MISTAKE_VERDICTS = (
    "fine_grained",
    "fine_grained_oov",
    "spurious_correlation",
    "non_prototypical",
    "major",
)
VERDICTS = (NOT_A_MISTAKE, *MISTAKE_VERDICTS, PROBLEMATIC)
VERDICT_TITLES = {
    NOT_A_MISTAKE: "Not a mistake",
    "fine_grained": "Fine-grained",
    "fine_grained_oov": "Fine-grained, OOV",
    "spurious_correlation": "Spurious correlation",
    "non_prototypical": "Non-prototypical",
    "major": "Major mistake",
    PROBLEMATIC: "Problematic image",
}
#: Where a run's reviews are kept unless ``--db`` says otherwise: ``RUNDIR/review.sqlite``.
DB_FILE_NAME = "review.sqlite"
MAX_NOTE = 5000
MAX_LABELS = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reviews (
    reviewer TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    verdict TEXT NOT NULL,
    severity TEXT,
    valid TEXT NOT NULL,
    shown TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    models TEXT NOT NULL DEFAULT '[]',
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (reviewer, sample_id)
);
CREATE INDEX IF NOT EXISTS reviews_by_sample ON reviews (sample_id);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reviewer TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    action TEXT NOT NULL,
    review TEXT,
    at TEXT NOT NULL
);
"""


class ReviewError(ValueError):
    """A review that cannot be stored (unknown verdict, bad reviewer name, ...)."""


def utc_now() -> str:
    """The current UTC time as ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def check_reviewer(name: object) -> str:
    """A reviewer name, stripped: 1-64 printable characters."""
    if name is None or (isinstance(name, str) and not name.strip()):
        raise ReviewError("reviewer name missing")
    if not isinstance(name, str):
        raise ReviewError(f"reviewer name must be text, not {type(name).__name__}")
    name = name.strip()
    if len(name) > 64 or not name.isprintable():
        raise ReviewError("reviewer name must be 1-64 printable characters")
    return name


@dataclass(frozen=True)
class Review:
    """One reviewer's judgement of one sample."""

    reviewer: str
    sample_id: str
    verdict: str
    severity: str | None
    valid: tuple[str, ...]
    shown: tuple[str, ...]
    note: str = ""
    models: tuple[str, ...] = ()
    created: str = ""
    updated: str = ""

    def __post_init__(self) -> None:
        check_reviewer(self.reviewer)
        if self.verdict not in VERDICTS:
            raise ReviewError(f"unknown verdict {self.verdict!r}; expected one of {VERDICTS}")
        if self.verdict in MISTAKE_VERDICTS:
            if self.severity not in SEVERITIES:
                raise ReviewError(
                    f"a {self.verdict} mistake needs severity minor, borderline or major"
                )
        elif self.severity is not None:
            raise ReviewError(f"verdict {self.verdict} takes no severity")
        if len(self.note) > MAX_NOTE:
            raise ReviewError(f"note longer than {MAX_NOTE} characters")
        if len(self.valid) > MAX_LABELS or len(self.shown) > MAX_LABELS:
            raise ReviewError(f"more than {MAX_LABELS} labels")

    @property
    def is_mistake(self) -> bool:
        """True if the verdict says the prediction is wrong (any mistake kind)."""
        return self.verdict in MISTAKE_VERDICTS

    def to_dict(self) -> dict:
        """The review as JSON-able values (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Review:
        """A review from a row of the ``reviews`` table."""
        return cls(
            reviewer=row["reviewer"],
            sample_id=row["sample_id"],
            verdict=row["verdict"],
            severity=row["severity"],
            valid=tuple(json.loads(row["valid"])),
            shown=tuple(json.loads(row["shown"])),
            note=row["note"],
            models=tuple(json.loads(row["models"])),
            created=row["created"],
            updated=row["updated"],
        )


class ReviewStore:
    """The review database of one run (or of several runs on the same images)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        if self.path.exists() and not self.path.is_file():
            raise ReviewError(f"{self.path}: not a file (expected a review database)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                with self._write(db):
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        db.execute(statement)
                    db.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),),
                    )
                    db.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('secret', ?)",
                        (secrets.token_hex(32),),
                    )
                version = self._meta(db, "schema_version")
        except sqlite3.DatabaseError as exc:
            raise ReviewError(f"{self.path}: not a reassess review database ({exc})") from exc
        if version != str(SCHEMA_VERSION):
            raise ReviewError(
                f"{self.path}: review database schema {version}, this reassess reads {SCHEMA_VERSION}"
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    @staticmethod
    @contextmanager
    def _write(db: sqlite3.Connection) -> Iterator[None]:
        """One write transaction, taking the write lock at once (no deadlock on upgrade)."""
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _meta(db: sqlite3.Connection, key: str) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def csrf_token(self) -> str:
        """The token every data-changing request must carry; stable across server restarts."""
        with self._connect() as db:
            secret = self._meta(db, "secret") or ""
        return hmac.new(secret.encode(), b"reassess-review-csrf", hashlib.sha256).hexdigest()

    def save(self, review: Review) -> Review:
        """Insert or replace ``review`` (keeping its first ``created`` time); return it as stored."""
        now = utc_now()
        payload = review.to_dict()
        with self._connect() as db, self._write(db):
            db.execute(
                """INSERT INTO reviews
                   (reviewer, sample_id, verdict, severity, valid, shown, note, models, created,
                    updated)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (reviewer, sample_id) DO UPDATE SET
                     verdict = excluded.verdict, severity = excluded.severity,
                     valid = excluded.valid, shown = excluded.shown, note = excluded.note,
                     models = excluded.models, updated = excluded.updated""",
                (
                    review.reviewer,
                    review.sample_id,
                    review.verdict,
                    review.severity,
                    json.dumps(list(review.valid)),
                    json.dumps(list(review.shown)),
                    review.note,
                    json.dumps(list(review.models)),
                    now,
                    now,
                ),
            )
            db.execute(
                "INSERT INTO history (reviewer, sample_id, action, review, at) "
                "VALUES (?, ?, 'save', ?, ?)",
                (review.reviewer, review.sample_id, json.dumps(payload), now),
            )
            row = db.execute(
                "SELECT * FROM reviews WHERE reviewer = ? AND sample_id = ?",
                (review.reviewer, review.sample_id),
            ).fetchone()
        return Review.from_row(row)

    def delete(self, reviewer: str, sample_id: str) -> bool:
        """Withdraw a reviewer's review of a sample (kept in history); True if there was one."""
        with self._connect() as db, self._write(db):
            gone = db.execute(
                "DELETE FROM reviews WHERE reviewer = ? AND sample_id = ?", (reviewer, sample_id)
            ).rowcount
            if gone:
                db.execute(
                    "INSERT INTO history (reviewer, sample_id, action, review, at) "
                    "VALUES (?, ?, 'delete', NULL, ?)",
                    (reviewer, sample_id, utc_now()),
                )
        return bool(gone)

    def get(self, reviewer: str, sample_id: str) -> Review | None:
        """One reviewer's current review of a sample, or None."""
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM reviews WHERE reviewer = ? AND sample_id = ?", (reviewer, sample_id)
            ).fetchone()
        return None if row is None else Review.from_row(row)

    def reviews(self, reviewers: list[str] | None = None) -> list[Review]:
        """Every current review (of the given reviewers), ordered by sample then reviewer."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM reviews ORDER BY sample_id, reviewer").fetchall()
        out = [Review.from_row(r) for r in rows]
        if reviewers is not None:
            wanted = set(reviewers)
            out = [r for r in out if r.reviewer in wanted]
        return out

    def by_sample(self, reviewers: list[str] | None = None) -> dict[str, list[Review]]:
        """Current reviews grouped by sample id."""
        grouped: dict[str, list[Review]] = {}
        for review in self.reviews(reviewers):
            grouped.setdefault(review.sample_id, []).append(review)
        return grouped

    def history(self) -> list[dict]:
        """Every save and delete in order (for audits and tests)."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM history ORDER BY id").fetchall()
        return [dict(r) for r in rows]


def run_review_db(run_dir: Path | str) -> Path:
    """The review database of a run folder by convention (``RUNDIR/review.sqlite``)."""
    return Path(run_dir) / DB_FILE_NAME


def read_reviews(path: Path | str) -> dict[str, list[Review]] | None:
    """Current reviews grouped by sample id, read without writing; None when there is no file.

    For readers such as the report: unlike :class:`ReviewStore` it never creates the database,
    its folder or its tables. A file that is not a review database raises :class:`ReviewError`.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
        try:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None or row[0] != str(SCHEMA_VERSION):
                found = None if row is None else row[0]
                raise ReviewError(
                    f"{path}: review database schema {found}, this reassess reads {SCHEMA_VERSION}"
                )
            rows = db.execute("SELECT * FROM reviews ORDER BY sample_id, reviewer").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise ReviewError(f"{path}: not a reassess review database ({exc})") from exc
    grouped: dict[str, list[Review]] = {}
    for row in rows:
        review = Review.from_row(row)
        grouped.setdefault(review.sample_id, []).append(review)
    return grouped
