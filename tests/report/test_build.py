"""The report's view model: the numbers it shows are the run's numbers, and what it leaves out it says."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from reassess.report.build import DEFAULT_MAX_MISTAKES, build_report, render_report
from reassess.report.figures import (
    imagenet_x_bars,
    reliability_table,
    superclass_bars,
    worst_class_bars,
)
from reassess.report.paired import v2_pairs
from reassess.store.run import RunDir
from reassess.store.schema import RunFolderError
from tests.conftest import store_run
from tests.report.conftest import v2_predictions


def test_one_imported_run(resnet_run):
    metrics = RunDir(resnet_run).read_metrics()
    view = build_report([resnet_run])
    (run,) = view.runs
    cards = {c.key: c for c in run.cards}
    assert set(cards) == {"top1", "real"}
    assert cards["top1"].value == pytest.approx(0.72732) == metrics["top1"]["value"]
    assert cards["top1"].count == 36_366 and cards["top1"].n == 50_000
    assert cards["real"].n == 46_837
    missing = {m.title: m.reason for m in run.missing_cards}
    assert "only top-1 predictions are stored" in missing["Top-5"]
    assert {"Multi-label top-1", "ImageNet-M"} <= missing.keys()

    assert [s.title for s in run.ladder] == ["Single-label top-1", "ReaL top-1"]
    assert run.ladder[1].delta == pytest.approx(
        metrics["real_top1"]["value"] - metrics["top1"]["value"]
    )

    figures = {f.key: f for f in run.figures}
    assert figures["superclasses"].src.startswith("data:image/svg+xml;base64,")
    assert figures["worst_classes"].src
    assert "probabilities" in figures["reliability"].reason
    assert "reassess analyze" in figures["categories"].reason

    mistakes = run.mistakes
    assert mistakes.total == 50_000 - 36_366
    assert mistakes.categories == [("not analysed", 13_634)]
    assert len(mistakes.rows) == DEFAULT_MAX_MISTAKES and not mistakes.has_thumbnails

    html = render_report(view)
    assert "72.73%" in html and "77.61%" in html and "36,366 of 50,000" in html


def test_valid_labels_of_a_mistake_are_its_real_labels(resnet_run):
    from reassess.datasets.imagenet import real_label_sets
    from reassess.labels.imagenet import imagenet_classes

    (run,) = build_report([resnet_run], max_mistakes=50).runs
    row = next(
        r for r in run.mistakes.rows if r.valid_labels and "no class" not in r.valid_labels[0]
    )
    real = real_label_sets().align([row.sample_id])
    names = [imagenet_classes().name(c) for c in real.labels_of(0)]
    assert row.valid_labels == ["ReaL: " + ", ".join(names)]
    predictions = RunDir(resnet_run).read_predictions()
    i = predictions.sample_ids.tolist().index(row.sample_id)
    assert row.prediction == imagenet_classes().name(int(predictions.top1[i]))
    assert row.label == imagenet_classes().name(int(predictions.labels[i]))


def test_superclass_accuracy_adds_up_to_top1(resnet_run):
    rows = RunDir(resnet_run).read_per_class()
    bars = superclass_bars(rows)
    assert sum(b.n for b in bars) == 50_000
    assert sum(b.value * b.n for b in bars) / 50_000 == pytest.approx(0.72732, abs=1e-9)
    assert all(b.lo <= b.value <= b.hi for b in bars)
    assert [b.value for b in bars] == sorted(b.value for b in bars)
    by_name = {b.label: b for b in bars}
    dogs = [r for r in rows if r["class"] in range(151, 269)]  # the 118 dog classes
    assert by_name["dog"].n == sum(r["support"] for r in dogs)


def test_worst_classes_are_the_lowest_in_per_class_csv(resnet_run):
    rows = RunDir(resnet_run).read_per_class()
    worst = worst_class_bars(rows, 5)
    lowest = min(r["top1"] for r in rows)
    assert worst[0].value == pytest.approx(lowest)
    assert [b.value for b in worst] == sorted(r["top1"] for r in rows)[:5]


@pytest.mark.slow
def test_lite0_on_samples_with_a_gallery(lite0_run, tmp_path):
    run_dir = RunDir(lite0_run)
    metrics = run_dir.read_metrics()
    info = run_dir.read_run()
    (run,) = build_report([lite0_run], images=info["data"]["root"]).runs
    cards = {c.key: c for c in run.cards}
    assert cards["multilabel"].value == metrics["valid_labels_top1"]["value"]
    assert cards["top5"].value == metrics["top5"]["value"]
    predictions = run_dir.read_predictions()
    wrong = int(((predictions.top1 != predictions.labels) & (predictions.labels >= 0)).sum())
    assert run.mistakes.total == wrong == len(run.mistakes.rows)
    assert run.mistakes.has_thumbnails and all(r.thumbnail for r in run.mistakes.rows)
    assert all(r.confidence is not None for r in run.mistakes.rows)
    figures = {f.key: f for f in run.figures}
    assert figures["reliability"].src
    assert "Too few images to judge calibration: on 8 images a perfectly calibrated" in (
        figures["reliability"].caption
    )
    assert "median of 1 image" in figures["worst_classes"].reason


@pytest.mark.slow
def test_reliability_recomputed_for_runs_scored_before_calibration(lite0_run, tmp_path):
    stored = reliability_table(RunDir(lite0_run).read_metrics(), RunDir(lite0_run))
    assert stored["ece"] == RunDir(lite0_run).read_metrics()["ece"]["value"]
    old = RunDir(tmp_path / "old-run")
    shutil.copytree(lite0_run, old.path)
    metrics = old.read_metrics()
    del metrics["calibration"], metrics["ece"]
    old.write_metrics(metrics)
    recomputed = reliability_table(old.read_metrics(), old)
    assert recomputed["ece"] == pytest.approx(stored["ece"])
    assert recomputed["counts"] == stored["counts"] and sum(stored["counts"]) == 8


def test_several_runs_pair_imagenetv2_with_val_and_test_differences(resnet_run, tmp_path):
    v2_a = store_run(tmp_path / "v2-resnet", "resnet50", "imagenetv2", v2_predictions(0.37, 1))
    v2_b = store_run(tmp_path / "v2-other", "other-model", "imagenetv2", v2_predictions(0.45, 2))
    view = build_report([resnet_run, v2_b, v2_a], max_mistakes=10)
    val, other, v2 = view.runs
    assert [(a.path, b.path) for a, b in v2_pairs(view.runs)] == [(val.path, v2.path)]
    figures = {f.key: f for f in view.figures}
    assert figures["v2_vs_val"].src and figures["vs_top1"].src
    assert [k for k, _ in view.leaderboard_columns] == ["top1", "real", "multilabel"]

    (test,) = view.paired
    assert test.a == v2.title and test.b == other.title  # the best top-1 on V2 is A
    row = next(r for r in test.rows if r["metric"] == "Top-1 (original labels)")
    pa, pb = RunDir(v2_a).read_predictions(), RunDir(v2_b).read_predictions()
    right_a, right_b = pa.top1 == pa.labels, pb.top1 == pb.labels
    assert row["A"] == f"{100 * right_a.mean():.2f}%" and row["B"] == f"{100 * right_b.mean():.2f}%"
    a_only, b_only = int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())
    assert row["McNemar A-only / B-only, p"].startswith(f"{a_only:,} / {b_only:,}, p")
    assert row["verdict"] == "A better"


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="--images must be a folder"):
        build_report([tmp_path], images=tmp_path / "missing")
    with pytest.raises(RunFolderError, match="not a run folder"):
        build_report([tmp_path])
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(RunFolderError, match="no model spec recorded"):
        build_report([tmp_path])
    RunDir(tmp_path).write_run({"model": {"spec": "m"}, "data": {"spec": "samples"}})
    with pytest.raises(RunFolderError, match="no metrics yet"):
        build_report([tmp_path])


def test_unknown_metric_keys_are_listed(resnet_run, tmp_path):
    run = RunDir(tmp_path / "run")
    shutil.copytree(resnet_run, run.path)
    metrics = run.read_metrics()
    metrics["future_metric_top1"] = {"value": 0.5, "n": 10, "ci95": [0.187, 0.813]}
    metrics["imagenet_m"] = {"value": 41 / 68, "n": 68, "ci95": [0.48, 0.72], "hits": 41}
    run.write_metrics(metrics)
    (view_run,) = build_report([run.path], max_mistakes=0).runs
    assert "future_metric_top1" in {c.key for c in view_run.metric_rows}
    assert view_run.card("imagenet_m").count == 41
    assert np.isclose(view_run.card("imagenet_m").value, 41 / 68)


def test_an_analysis_summary_feeds_the_superclass_factor_and_ladder_parts(resnet_run, tmp_path):
    """The report reads what `reassess analyze` really writes (analysis.json)."""
    import subprocess
    import sys

    run = tmp_path / "run"
    shutil.copytree(resnet_run, run)
    subprocess.run(
        [sys.executable, "-m", "reassess.cli.main", "analyze", str(run), "--json"],
        check=True,
        capture_output=True,
    )
    summary = RunDir(run).read_analysis()
    (view,) = build_report([run], max_mistakes=0).runs
    figures = {f.key: f for f in view.figures}
    assert figures["imagenet_x"].src and figures["superclasses"].src
    assert "analysis summary" in figures["superclasses"].caption
    ratios = {b.label: b.value for b in imagenet_x_bars(summary)}
    expected = {
        f["factor"].replace("_", " "): f["error_ratio"] for f in summary["imagenet_x"]["factors"]
    }
    assert ratios == pytest.approx(expected) and len(ratios) >= 10
    ladder = {step["key"]: step["value"] for step in summary["ladder"]}
    assert view.forgiven.value == pytest.approx(ladder["minor_forgiven"])
    assert [s.title for s in view.ladder] == [step["title"] for step in summary["ladder"]]
    # every mistake counted under the analysis' own category titles, in its order
    categories = {c["title"]: c for c in summary["categories"] if c["count"]}
    assert [title for title, _ in view.mistakes.categories] == list(categories)
    for title, severities in view.mistakes.severities.items():
        expected = {s: categories[title][s] for s in ("minor", "borderline", "major")}
        assert {s: severities.get(s, 0) for s in expected} == expected
        assert sum(severities.values()) == categories[title]["count"]


def test_a_mistakes_file_without_a_required_column_is_one_line_naming_it(hostile_run):
    import pyarrow.parquet as pq

    run, images = hostile_run
    path = RunDir(run).mistakes_file
    pq.write_table(pq.read_table(path).drop_columns(["severity"]), path)
    with pytest.raises(RunFolderError) as caught:
        build_report([run], images=images)
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    assert message.startswith(f"{path}: ") and "missing column(s) severity" in message


@pytest.mark.parametrize("name", ["run.json", "metrics.json", "mistakes.parquet"])
def test_a_run_folder_written_by_a_newer_schema_is_refused(hostile_run, name):
    import json

    import pyarrow.parquet as pq

    from reassess.store.schema import PARQUET_VERSION_KEY, SCHEMA_VERSION

    run, images = hostile_run
    path = run / name
    newer = SCHEMA_VERSION + 1
    if name.endswith(".json"):
        path.write_text(json.dumps({**json.loads(path.read_text()), "schema_version": newer}))
    else:
        table = pq.read_table(path)
        metadata = {**table.schema.metadata, PARQUET_VERSION_KEY: str(newer).encode()}
        pq.write_table(table.replace_schema_metadata(metadata), path)
    with pytest.raises(
        RunFolderError, match=f"^{re.escape(str(path))}: written by a newer reassess"
    ) as caught:
        build_report([run], images=images)
    assert len(str(caught.value).splitlines()) == 1


def test_reviewed_verdicts_show_next_to_the_automatic_category(hostile_run):
    from reassess.labels.imagenet import imagenet_classes
    from reassess.review.store import Review, ReviewStore
    from tests.report.conftest import HOSTILE_FILE

    run, images = hostile_run
    wn = imagenet_classes().wnids
    store = ReviewStore(run / "review.sqlite")
    # the lawn mower (automatic: unexplained, major) is a major mistake to both reviewers
    for who in ("alice", "bob"):
        note = "<b>mower</b>, not a cat" if who == "bob" else ""
        store.save(
            Review(who, "n02123045/rotated.jpg", "major", "major", (wn[281],), (wn[281],), note)
        )
    # the gray tiger cat (automatic: fine-grained, minor) is no mistake to alice
    store.save(Review("alice", "n02123045/gray.jpg", "not_a_mistake", None, (wn[282],), (wn[281],)))
    store.save(Review("alice", "elsewhere/other.jpg", "problematic", None, (), ()))  # not a row
    mistakes = build_report([run], images=images).runs[0].mistakes
    assert mistakes.reviewed == 2 and mistakes.review_source == "review.sqlite"
    assert mistakes.review_same_category == (1, 2)  # unexplained = major; fine-grained != fine
    assert mistakes.review_same_mistake == (1, 2)
    rows = {r.sample_id: r for r in mistakes.rows}
    mower, gray = rows["n02123045/rotated.jpg"], rows["n02123045/gray.jpg"]
    assert (mower.category, mower.review_verdict, mower.review_severity) == (
        "Unexplained",
        "Major mistake",
        "major",
    )
    assert mower.reviewers == 2 and mower.review_note == "bob: <b>mower</b>, not a cat"
    assert mower.review_agrees is True
    assert (gray.category, gray.review_verdict, gray.review_agrees) == (
        "Fine-grained",
        "Not a mistake",
        False,
    )
    assert rows[f"n02123045/{HOSTILE_FILE}"].review_verdict == ""
    html = render_report(build_report([run], images=images))
    assert "2 reviewed in review.sqlite" in html
    assert "gives the automatic category to 1 of 2" in html
    assert '<span class="chip sev-none">Not a mistake</span>' in html
    assert "bob: &lt;b&gt;mower&lt;/b&gt;, not a cat" in html and "<b>mower</b>" not in html


def test_a_report_without_or_with_an_unreadable_review_database(hostile_run):
    run, images = hostile_run
    mistakes = build_report([run], images=images).runs[0].mistakes
    assert (mistakes.reviewed, mistakes.review_source) == (0, "")
    assert "data-review" not in render_report(build_report([run], images=images))
    (run / "review.sqlite").write_text("not a database")
    mistakes = build_report([run], images=images).runs[0].mistakes
    assert mistakes.reviewed == 0 and mistakes.total == 3
    assert mistakes.review_source.startswith("reviews not shown: ")
    assert "not a reassess review database" in mistakes.review_source


def test_every_table_of_a_two_run_report_has_a_csv_download(resnet_run, lite0_run):
    """Leaderboard, ladder, metrics and mistakes: each a data:text/csv link with its intervals."""
    import base64
    import csv
    import io

    view = build_report([resnet_run, lite0_run], max_mistakes=8)
    text = base64.b64decode(view.leaderboard_csv.split(",", 1)[1]).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    by_run = {(r["model"], r["metric"]): r for r in rows}
    for run in view.runs:
        for card in run.cards:
            row = by_run[(run.model, card.key)]
            assert float(row["value"]) == pytest.approx(card.value) and int(row["n"]) == card.n
            assert (float(row["lo"]), float(row["hi"])) == pytest.approx((card.lo, card.hi))
    assert {"metrics", "ladder", "mistake_counts", "mistakes"} <= view.runs[1].downloads.keys()
    html = render_report(view)
    assert 'data-csv="leaderboard" href="data:text/csv;charset=utf-8;base64,' in html
    assert html.count('class="csv"') >= 1 + 2 * 4


# --- figures: downloads, support, grouping by test set, the testbed baseline ---------------------


def _decoded(uri: str, kind: str) -> bytes:
    import base64

    prefix = f"data:image/{kind};base64,"
    assert uri.startswith(prefix)
    return base64.b64decode(uri.removeprefix(prefix))


def test_every_drawn_figure_has_an_svg_and_a_png_download_named_by_run(resnet_run):
    (run,) = build_report([resnet_run], max_mistakes=0).runs
    drawn = [f for f in run.figures if f.src]
    assert {f.key for f in drawn} == {"superclasses", "worst_classes"}
    for fig in drawn:
        assert b"<svg" in _decoded(fig.src, "svg+xml")
        assert _decoded(fig.png, "png").startswith(b"\x89PNG\r\n\x1a\n")
        assert fig.filename == f"{RunDir(resnet_run).path.name}-{fig.key}"
    html = render_report(build_report([resnet_run], max_mistakes=0))
    assert html.count('data-download="svg"') == html.count('data-download="png"') == 2
    assert 'download="resnet50-worst_classes.png"' in html


def test_superclasses_below_the_minimum_support_are_left_out_and_counted(hostile_run):
    from reassess.report.figures import MIN_SUPERCLASS_SUPPORT, run_figures

    run, _ = hostile_run
    (view,) = build_report([run]).runs
    figures = {f.key: f for f in view.figures}
    assert figures["superclasses"].src is None  # 3 cats and 1 espresso: below 5 images each
    assert f"fewer than {MIN_SUPERCLASS_SUPPORT} images" in figures["superclasses"].reason
    analysis = {
        "superclasses": [
            {"name": "dog", "n": 1, "top1": {"value": 1.0, "ci95": [0.025, 1.0]}},
            {"name": "bird", "n": 50, "top1": {"value": 0.8, "ci95": [0.66, 0.9]}},
            {"name": "fish", "n": 4, "top1": {"value": 0.5, "ci95": [0.07, 0.93]}},
        ]
    }
    dir_ = RunDir(run)
    figures = {
        f.key: f for f in run_figures(dir_, dir_.read_metrics(), analysis, None, None, 55, None)
    }
    assert figures["superclasses"].src
    assert "2 superclass(es) with fewer than 5 images left out" in figures["superclasses"].caption


def test_runs_on_different_test_sets_are_grouped_in_the_leaderboard_and_figures(
    resnet_run, tmp_path
):
    from reassess.report.figures import data_groups

    v2_a = store_run(tmp_path / "v2-resnet", "resnet50", "imagenetv2", v2_predictions(0.37, 1))
    v2_b = store_run(tmp_path / "v2-other", "other-model", "imagenetv2", v2_predictions(0.45, 2))
    view = build_report([v2_b, resnet_run, v2_a], max_mistakes=0)
    groups = data_groups(view.runs)
    assert [(title, [r.path for r in runs]) for title, runs in groups] == [
        ("imagenetv2-matched-frequency (10,000 images)", [str(v2_b), str(v2_a)]),
        ("imagenet-val (50,000 images)", [str(resnet_run)]),
    ]
    figures = {f.key: f for f in view.figures}
    assert "one panel per test set (2)" in figures["vs_top1"].caption
    svg = _decoded(figures["vs_top1"].src, "svg+xml").decode()
    assert "imagenetv2-matched-frequency (10,000 images)" in svg and "imagenet-val (50" in svg
    # the V2 scatter draws the testbed's baseline next to the paired runs
    v2 = _decoded(figures["v2_vs_val"].src, "svg+xml").decode()
    assert "testbed baseline, top-1 (logit fit, 1,209 standard models)" in v2
    assert "solid line is the top-1 trend" in figures["v2_vs_val"].caption
    html = render_report(view)
    bodies = re.findall(r'<tbody data-group="([^"]+)">(.*?)</tbody>', html, flags=re.S)
    assert [title for title, _ in bodies] == [title for title, _ in groups]
    assert [body.count('<a href="#run-') for _, body in bodies] == [2, 1]
