"""The SQLite review store: round trips, restarts, validation and concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading

import pytest

from reassess.review.store import Review, ReviewError, ReviewStore

TIGER_CAT, TABBY, GOLDFISH = "n02123159", "n02123045", "n01443537"


def review(reviewer: str = "alice", sample: str = "a.jpg", **fields) -> Review:
    values = {
        "verdict": "fine_grained",
        "severity": "minor",
        "valid": (TABBY,),
        "shown": (TABBY, TIGER_CAT, GOLDFISH),
    }
    values.update(fields)
    return Review(reviewer=reviewer, sample_id=sample, **values)


def test_save_update_keeps_created_and_history(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite")
    first = store.save(review(note="first look"))
    second = store.save(review(verdict="not_a_mistake", severity=None, valid=(TABBY, TIGER_CAT)))
    assert second.created == first.created and second.updated > first.updated
    assert store.get("alice", "a.jpg") == second
    assert second.valid == (TABBY, TIGER_CAT) and second.note == ""
    assert [h["action"] for h in store.history()] == ["save", "save"]
    assert store.delete("alice", "a.jpg") and not store.delete("alice", "a.jpg")
    assert store.get("alice", "a.jpg") is None
    assert [h["action"] for h in store.history()] == ["save", "save", "delete"]


def test_reviews_survive_reopening_and_the_token_is_stable(tmp_path):
    path = tmp_path / "r.sqlite"
    store = ReviewStore(path)
    store.save(review("alice", "a.jpg"))
    store.save(review("bob", "a.jpg", verdict="major", severity="major", valid=()))
    token = store.csrf_token()
    again = ReviewStore(path)
    assert again.csrf_token() == token and len(token) == 64
    grouped = again.by_sample()
    assert [r.reviewer for r in grouped["a.jpg"]] == ["alice", "bob"]
    assert [r.verdict for r in again.reviews(["bob"])] == ["major"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ReviewStore(tmp_path / "other.sqlite").csrf_token() != token


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"verdict": "wrong-ish"}, "unknown verdict"),
        ({"severity": None}, "needs severity"),
        ({"verdict": "not_a_mistake", "severity": "minor"}, "takes no severity"),
        ({"note": "x" * 6000}, "note longer"),
    ],
)
def test_bad_reviews_are_refused(fields, message):
    with pytest.raises(ReviewError, match=message):
        review(**fields)


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "tab\there", None])
def test_bad_reviewer_names_are_refused(name):
    with pytest.raises(ReviewError, match="reviewer name"):
        review(reviewer=name)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "labels.json"
    bad.write_text('{"not": "sqlite"}' * 100)
    with pytest.raises(ReviewError, match="not a reassess review database"):
        ReviewStore(bad)


def _write_many(path: str, reviewer: str, count: int) -> None:
    store = ReviewStore(path)
    for i in range(count):
        store.save(review(reviewer, f"img{i:04d}.jpg", note=f"{reviewer} {i}"))


def test_two_processes_and_two_threads_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "r.sqlite")
    ReviewStore(path)
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_write_many, args=(path, n, 60)) for n in ("p1", "p2")]
    threads = [threading.Thread(target=_write_many, args=(path, n, 60)) for n in ("t1", "t2")]
    for worker in (*processes, *threads):
        worker.start()
    for worker in (*processes, *threads):
        worker.join(timeout=120)
    assert all(p.exitcode == 0 for p in processes)
    store = ReviewStore(path)
    reviews = store.reviews()
    assert len(reviews) == 240 and len(store.history()) == 240
    for name in ("p1", "p2", "t1", "t2"):
        mine = [r for r in reviews if r.reviewer == name]
        assert sorted(r.note for r in mine) == sorted(f"{name} {i}" for i in range(60))
