"""Every text in the report is escaped: names with HTML in them show as text, never as markup."""

from __future__ import annotations

import base64
import re

from reassess.report import build_report, render_report
from tests.report.conftest import HOSTILE_FILE, HOSTILE_LABEL, HOSTILE_MODEL


def test_html_in_names_is_escaped(hostile_run):
    run, images = hostile_run
    html = render_report(build_report([run], images=images))
    assert html.count("<script") == 1  # the report's own filter/sort script
    assert "<img src=x" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;.jpg" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "&lt;/span&gt;&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in html
    assert "same superclass: &lt;b&gt;domestic cat&lt;/b&gt;" in html
    # figures are SVG inside <img>: no scripts run there, and matplotlib escaped their text too
    for uri in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html):
        assert "<script" not in base64.b64decode(uri).decode()


def test_analysed_mistakes_are_read_from_mistakes_parquet(hostile_run):
    run, images = hostile_run
    (view,) = build_report([run], images=images).runs
    mistakes = view.mistakes
    assert mistakes.analysed and mistakes.total == 3
    assert mistakes.categories == [("Fine-grained", 2), ("Unexplained", 1)]
    first = mistakes.rows[0]
    assert first.sample_id == f"n02123045/{HOSTILE_FILE}" and first.label == HOSTILE_LABEL
    assert first.prediction == "tiger cat" and first.severity == "minor"
    assert [r.factors for r in mistakes.rows] == ["pose", "color, partial view", ""]
    assert all(
        r.thumbnail and r.thumbnail.startswith("data:image/jpeg;base64,") for r in mistakes.rows
    )
    figures = {f.key: f for f in view.figures}
    assert figures["categories"].src
    # "minor errors forgiven": only the one major mistake still counts, of 4 images
    assert view.forgiven.value == 3 / 4 and view.forgiven.n == 4
    assert [s.title for s in view.ladder] == ["Single-label top-1", "Minor errors forgiven"]
    assert view.model == HOSTILE_MODEL
