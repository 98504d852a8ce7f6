"""`reassess review` on the command line: the short form serves, export has both forms, remote
binds are refused with one line, stats prints the agreement."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request

from typer.testing import CliRunner

from reassess.cli.main import app
from reassess.labels.imagenet import imagenet_classes
from reassess.review.server import BindError
from reassess.review.store import Review, ReviewStore
from tests.review.conftest import val_name

WN = imagenet_classes().wnids
REASSESS = [sys.executable, "-m", "reassess.cli.main"]


def test_short_form_serves_and_a_remote_bind_is_refused(tiny_run, val_images):
    result = CliRunner().invoke(
        app, ["review", str(tiny_run), "--images", str(val_images), "--host", "0.0.0.0"]
    )
    assert isinstance(result.exception, BindError)  # routed to `review serve`
    done = subprocess.run(
        [*REASSESS, "review", str(tiny_run), "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0" in done.stderr and "--allow-remote" in done.stderr
    assert not (tiny_run / "review.sqlite").exists()


def test_serve_command_prints_its_url_and_answers(tiny_run, val_images, tmp_path):
    db = tmp_path / "reviews.sqlite"
    process = subprocess.Popen(
        [
            *REASSESS,
            "review",
            "serve",
            str(tiny_run),
            "--images",
            str(val_images),
            "--db",
            str(db),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**__import__("os").environ, "COLUMNS": "200"},
    )
    try:
        lines, url, deadline = [], None, time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"http://127\.0\.0\.1:\d+/", line)
            url = match.group(0) if match else None
        assert url, "".join(lines)
        assert "3 mistakes of tiny" in "".join(lines)
        with urllib.request.urlopen(url + "api/items", timeout=30) as response:
            assert len(json.load(response)["items"]) == 3
        assert db.exists()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_export_in_both_forms_and_stats(tiny_run, tmp_path):
    store = ReviewStore(tiny_run / "review.sqlite")
    store.save(Review("alice", val_name(236), "not_a_mistake", None, (WN[282],), (WN[1], WN[282])))
    store.save(Review("bob", val_name(236), "major", "major", (WN[1],), (WN[1], WN[282])))
    runner = CliRunner()
    first = runner.invoke(
        app, ["review", "export", str(tiny_run), "--out", str(tmp_path / "a.json")]
    )
    assert first.exit_code == 0, first.output
    printed = " ".join(first.output.split())
    assert "1 reviewed images (2 reviews by alice, bob)" in printed
    assert f"reassess metrics {tiny_run} --multilabel-file {tmp_path / 'a.json'}" in printed
    second = runner.invoke(
        app,
        [
            "review",
            "export",
            "--db",
            str(store.path),
            "--out",
            str(tmp_path / "b.json"),
            "--reviewer",
            "alice",
        ],
    )
    assert second.exit_code == 0, second.output
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert a["initial_annots"][val_name(236)]["unclear"] == [WN[1], WN[282]]  # 1 of 2 each
    assert b["initial_annots"][val_name(236)]["correct"] == [WN[282]]
    missing = runner.invoke(app, ["review", "export", "--out", str(tmp_path / "c.json")])
    assert "give a run folder or --db" in str(missing.exception)
    stats = runner.invoke(app, ["review", "stats", str(tiny_run), "--json"])
    data = json.loads(stats.output)
    assert data["images"] == 1 and data["reviews"] == 2
    assert data["agreement"]["unanimous"]["value"] == 0.0
    assert data["agreement"]["mistake_fleiss_kappa"] == -1.0  # the two disagree completely


def test_export_of_a_folder_run_scores_it_with_the_reviewed_labels(tmp_path):
    """review export -> metrics --multilabel-file on a class-folder run, no --no-verify needed."""
    import numpy as np

    from reassess.store.predictions import Predictions
    from tests.conftest import skimage_photo, store_run

    photos = tmp_path / "photos"
    for folder, photo in (("n02123045", "chelsea"), ("967", "coffee"), ("n04266014", "rocket")):
        (photos / folder).mkdir(parents=True)
        skimage_photo(photo).convert("RGB").save(photos / folder / f"{photo}.jpg", quality=85)
    cat, cup, rocket = "n02123045/chelsea.jpg", "967/coffee.jpg", "n04266014/rocket.jpg"
    predictions = Predictions(
        sample_ids=np.array([cat, cup, rocket], dtype=object),
        labels=np.array([281, 967, 812], dtype=np.int32),
        topk=np.array(
            [[282, 281, 285, 287, 904], [968, 967, 925, 960, 504], [812, 657, 744, 403, 908]],
            dtype=np.int16,
        ),
    )
    run = store_run(tmp_path / "run", "hand-made", f"folder:{photos}", predictions)
    store = ReviewStore(run / "review.sqlite")
    # the tiger cat prediction is fine (both cats valid); the cup is a major mistake
    store.save(Review("alice", cat, "not_a_mistake", None, (WN[281], WN[282]), (WN[281], WN[282])))
    store.save(Review("alice", cup, "major", "major", (WN[967],), (WN[967], WN[968])))
    store.save(Review("bob", cup, "major", "major", (WN[967],), (WN[967], WN[968])))
    runner = CliRunner()
    labels = tmp_path / "labels.json"
    exported = runner.invoke(app, ["review", "export", str(run), "--out", str(labels)])
    assert exported.exit_code == 0, exported.output
    assert f"reassess metrics {run} --multilabel-file {labels}" in " ".join(exported.output.split())
    scored = runner.invoke(app, ["metrics", str(run), "--multilabel-file", str(labels), "--json"])
    assert scored.exit_code == 0, scored.output
    metrics = json.loads(scored.output)
    assert metrics["top1"]["value"] == 1 / 3
    assert metrics["expert_top1_images"]["value"] == 0.5  # the cat right, the cup wrong, of 2
    assert metrics["expert_top1"]["n"] == 2
    assert metrics["imagenet_m"]["value"] == 0.0 and metrics["imagenet_m"]["of"] == 1
    recorded = metrics["label_files"]["expert"]
    assert recorded["source"] == "reassess review export" and recorded["reviewed_images"] == 2
    assert recorded["review"]["run"] == str(run.resolve())
    assert recorded["review"]["reviewers"] == ["alice", "bob"]
    again = runner.invoke(app, ["metrics", str(run), "--json"])  # the recorded file is reused
    assert json.loads(again.output)["expert_top1_images"]["value"] == 0.5
    shown = " ".join(runner.invoke(app, ["metrics", str(run)]).output.split())
    assert "reviewed labels of 2 images, from reassess review export" in shown
    assert "UNVERIFIED" not in shown


def test_export_of_a_val_run_scores_it_without_no_verify(tiny_run, tmp_path):
    store = ReviewStore(tiny_run / "review.sqlite")
    # val 236 (goldfish) predicted tiger cat: the reviewer accepts it; 559 football helmet: not
    store.save(Review("alice", val_name(236), "not_a_mistake", None, (WN[282],), (WN[1], WN[282])))
    store.save(Review("alice", val_name(559), "major", "major", (WN[812],), (WN[812], WN[518])))
    runner = CliRunner()
    labels = tmp_path / "val.json"
    assert (
        runner.invoke(app, ["review", "export", str(tiny_run), "--out", str(labels)]).exit_code == 0
    )
    scored = runner.invoke(
        app, ["metrics", str(tiny_run), "--multilabel-file", str(labels), "--json"]
    )
    assert scored.exit_code == 0, scored.output
    metrics = json.loads(scored.output)
    assert metrics["expert_top1_images"]["value"] == 0.5 and metrics["expert_top1_images"]["n"] == 2
    assert metrics["imagenet_m"]["hits"] == 0 and metrics["imagenet_m"]["of"] == 1
    assert "real_top1" in metrics and "cleaned_top1" in metrics  # the val label sets still apply
