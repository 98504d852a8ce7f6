"""The report's accuracy ladder is the one `reassess analyze` prints: same rungs, titles, numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from reassess.analysis.summary import LADDER_TITLES, ladder_changes
from reassess.report.build import build_report, render_report
from reassess.report.cards import analysis_ladder, card_of, ladder
from reassess.report.view import Card
from tests.cli.test_eval_import_metrics import reassess
from tests.conftest import store_run


@pytest.fixture(scope="module")
def small_val_run(tmp_path_factory, shipped_resnet50_predictions, val_labels):
    """The shipped ResNet-50's top-1 on the first 2,000 val images, stored like `reassess import`."""
    from reassess.store.predictions import Predictions

    table = pq.read_table(shipped_resnet50_predictions).to_pydict()
    ids = np.array(sorted(table["file_name"])[:2000], dtype=object)
    by_name = dict(zip(table["file_name"], table["prediction"], strict=True))
    rows = [int(name[15:23]) - 1 for name in ids]  # ILSVRC2012_val_00000001.JPEG -> 0
    top1 = np.array([[by_name[name]] for name in ids], dtype=np.int16)
    out = tmp_path_factory.mktemp("runs") / "resnet50-2000"
    return store_run(out, "resnet50", "imagenet-val", Predictions(ids, val_labels[rows], top1))


def terminal_ladder(stdout: str) -> list[tuple[str, float, int, str]]:
    """(title, value %, n, change) of each row of the "Accuracy ladder" table rich printed."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Accuracy ladder"))
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("└"):
            break
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 5 and cells[1].endswith("%"):
            title, value, _, n, change = cells
            rows.append((title, float(value.rstrip("%")), int(n.replace(",", "")), change))
    return rows


def test_the_reports_ladder_is_the_terminals_for_an_analysed_run(small_val_run):
    printed = terminal_ladder(reassess("analyze", small_val_run).stdout)
    titles = [t for t, *_ in printed]
    assert titles[0] == LADDER_TITLES["top1"] and titles[1] == "ReaL top-1"
    assert titles[-2:] == [LADDER_TITLES["not_a_mistake_forgiven"], LADDER_TITLES["minor_forgiven"]]

    (run,) = build_report([small_val_run], max_mistakes=0).runs
    assert [s.title for s in run.ladder] == titles
    for step, (_, value, n, change) in zip(run.ladder, printed, strict=True):
        assert round(100 * step.card.value, 2) == value and step.card.n == n
        assert (f"{100 * step.delta:+.2f} pp" if step.delta is not None else "") == change
    # the analysis' numbers themselves, not a recomputation
    stored = json.loads((small_val_run / "analysis.json").read_text())["ladder"]
    assert [s.card.value for s in run.ladder] == [r["value"] for r in stored]
    assert [s.card.key for s in run.ladder] == [r["key"] for r in stored]
    assert run.ladder[2].card.value >= run.ladder[0].card.value  # "not a mistake" forgiven
    html = render_report(build_report([small_val_run], max_mistakes=0))
    start = html.index("data-ladder")
    block = html[start : html.index('class="ladder-axis"', start)]
    assert "Top-1, &#39;not a mistake&#39; forgiven" in block
    for _, value, n, change in printed:
        assert f"{value:.2f}%" in block and f"n {n:,}" in block and change in block


def test_analysis_ladder_takes_each_step_from_the_rung_before():
    analysis = {
        "ladder": [
            {
                "key": "top1",
                "title": "Top-1 (original labels)",
                "value": 0.5,
                "n": 8,
                "ci95": [0.2, 0.8],
            },
            {"key": "real_top1", "title": "ReaL top-1", "value": 0.75, "n": 4, "ci95": [0.2, 1.0]},
            {"key": "x", "title": "no value", "value": float("nan"), "n": 0, "ci95": [0, 1]},
            {"key": "minor_forgiven", "title": "minor", "value": 0.625, "n": 8, "ci95": [0.2, 0.9]},
        ]
    }
    steps = analysis_ladder(analysis)
    assert [s.title for s in steps] == ["Top-1 (original labels)", "ReaL top-1", "minor"]
    assert [s.delta for s in steps] == [None, 0.25, -0.125]
    assert [s.card.n for s in steps] == [8, 4, 8]
    assert ladder([], None, analysis) == steps  # an analysed run's ladder ignores the cards


def test_an_unanalysed_run_climbs_the_cards_it_has():
    top1 = card_of("top1", "Top-1", {"value": 0.6, "n": 10, "ci95": [0.3, 0.85]})
    real = card_of("real", "ReaL", {"value": 0.7, "n": 9, "ci95": [0.35, 0.9]})
    forgiven = Card("forgiven", "Minor errors forgiven", 0.9, 10, 0.55, 1.0)
    steps = ladder([top1, real], forgiven)
    assert [s.title for s in steps] == ["Single-label top-1", "ReaL top-1", "Minor errors forgiven"]
    assert steps[0].delta is None
    assert [s.delta for s in steps[1:]] == pytest.approx([0.1, 0.2])
    assert ladder_changes([]) == [] and not ladder([], None, {"ladder": []})


def test_card_of_refuses_an_entry_without_a_finite_value():
    assert card_of("k", "t", {"value": float("nan"), "n": 3, "ci95": [0, 1]}) is None
    assert card_of("k", "t", {"value": 0.5, "n": 3}) is None
    card = card_of("k", "t", {"value": "0.5", "n": 4, "ci95": [0.1, 0.9]})
    assert card is not None and math.isclose(card.value, 0.5) and card.count == 2
