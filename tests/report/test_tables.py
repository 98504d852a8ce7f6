"""Each table of the report as a CSV download: numbers as numbers, with n and the 95% interval."""

from __future__ import annotations

import base64
import csv
import io

import numpy as np
import pytest

from reassess.report.tables import CSV_PREFIX, csv_text, csv_uri, paired_csv
from reassess.runs import compare_runs
from reassess.store.predictions import Predictions
from reassess.store.run import RunDir
from tests.conftest import store_run


def read_csv_uri(uri: str) -> list[dict[str, str]]:
    """The rows of a ``data:text/csv`` URI as dictionaries (the way a spreadsheet reads it)."""
    assert uri.startswith(CSV_PREFIX)
    text = base64.b64decode(uri[len(CSV_PREFIX) :], validate=True).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_uri_round_trips_numbers_text_and_blanks():
    uri = csv_uri(
        ("metric", "value", "n", "lo", "hi"),
        [
            ('a, "quoted" name', 0.72732, 50_000, 0.7234, 0.7312),
            ("none", float("nan"), 0, None, None),
        ],
    )
    text = base64.b64decode(uri[len(CSV_PREFIX) :]).decode()
    assert "%" not in text  # fractions, not "72.7%"
    first, second = read_csv_uri(uri)
    assert first == {
        "metric": 'a, "quoted" name',
        "value": "0.72732",
        "n": "50000",
        "lo": "0.7234",
        "hi": "0.7312",
    }
    assert second == {"metric": "none", "value": "", "n": "0", "lo": "", "hi": ""}


def test_a_row_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        csv_text(("a", "b", "c"), [(1, 2)])


def test_the_metrics_csv_holds_every_entry_of_metrics_json_with_its_interval(resnet_run):
    from reassess.report.build import build_report, render_report

    metrics = RunDir(resnet_run).read_metrics()
    view = build_report([resnet_run], max_mistakes=10)
    (run,) = view.runs
    rows = {r["key"]: r for r in read_csv_uri(run.downloads["metrics"])}
    top1 = rows["top1"]
    assert float(top1["value"]) == pytest.approx(0.72732) and int(top1["n"]) == 50_000
    assert [float(top1["lo"]), float(top1["hi"])] == pytest.approx(metrics["top1"]["ci95"])
    assert float(rows["real_top1"]["value"]) == pytest.approx(metrics["real_top1"]["value"])
    assert int(rows["real_top1"]["n"]) == 46_837

    ladder = read_csv_uri(run.downloads["ladder"])
    assert [r["title"] for r in ladder] == [s.title for s in run.ladder]
    assert float(ladder[1]["change"]) == pytest.approx(run.ladder[1].delta)
    assert all(float(r["lo"]) <= float(r["value"]) <= float(r["hi"]) for r in ladder)

    counts = read_csv_uri(run.downloads["mistake_counts"])
    assert sum(int(r["mistakes"]) for r in counts) == 50_000 - 36_366
    shown = read_csv_uri(run.downloads["mistakes"])
    assert len(shown) == 10 and {r["sample_id"] for r in shown} <= set(
        RunDir(resnet_run).read_predictions().sample_ids
    )

    html = render_report(view)
    for name in ("metrics", "ladder", "mistakes-per-category", "mistakes-shown"):
        assert f'data-csv="run-1-{name}" href="data:text/csv;charset=utf-8;base64,' in html


def test_the_paired_csv_holds_the_difference_and_its_interval(tmp_path, val_labels):
    ids = np.array([f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 401)], dtype=object)
    labels = val_labels[:400]
    rng = np.random.default_rng(0)
    runs = []
    for name, wrong_share in (("a", 0.2), ("b", 0.4)):
        top1 = labels.copy()
        wrong = rng.random(400) < wrong_share
        top1[wrong] = (labels[wrong] + 1) % 1000
        preds = Predictions(ids, labels, top1[:, None].astype(np.int16))
        runs.append(RunDir(store_run(tmp_path / name, name, "imagenet-val", preds)))
    result = compare_runs(*runs, resamples=200)
    rows = {r["key"]: r for r in read_csv_uri(paired_csv(result))}
    top1 = rows["top1"]
    entry = result["metrics"]["top1"]
    assert float(top1["difference"]) == pytest.approx(entry["difference"])
    assert entry["difference"] > 0
    assert float(top1["a"]) - float(top1["b"]) == pytest.approx(float(top1["difference"]))
    assert [float(top1["lo"]), float(top1["hi"])] == pytest.approx(entry["ci95"])
    assert int(top1["n"]) == 400 and int(top1["mcnemar_a_only"]) > int(top1["mcnemar_b_only"])
    assert 0 <= float(top1["mcnemar_p"]) < 0.05
