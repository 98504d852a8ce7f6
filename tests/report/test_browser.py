"""The report in a real browser: headless Chromium (Debian's package) opens it offline.

Checks that the cards, the figures and the gallery render, that filters and sorting work, that
names with HTML stay text, and that the page requests nothing but itself. Screenshots go to the
test's folder and to test-output/ in the repository.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reassess.report import write_report
from reassess.store.run import RunDir
from tests.conftest import REPO
from tests.report.conftest import HOSTILE_FILE, HOSTILE_LABEL, HOSTILE_MODEL


class Visit:
    """A page opened from a file, with every request and script error recorded."""

    def __init__(self, browser, html: Path) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": 1366, "height": 900})
        self.page.route("**/*", self._route)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.goto(html.as_uri(), wait_until="load")

    def _route(self, route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            route.abort()

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def offline(self) -> bool:
        return all(u.startswith(("file:", "data:")) for u in self.requests)

    def images_loaded(self, selector: str) -> list[bool]:
        return self.page.eval_on_selector_all(
            selector, "els => els.map(e => e.complete && e.naturalWidth > 0)"
        )

    def visible(self, selector: str) -> int:
        return self.page.eval_on_selector_all(
            selector, "els => els.filter(e => e.offsetParent !== null).length"
        )


def _screenshot(page, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    kept = REPO / "test-output" / "report"
    kept.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, kept / name)
    return shot


@pytest.mark.slow
def test_report_renders_offline_in_chromium(chromium, resnet_run, lite0_run, tmp_path):
    images = RunDir(lite0_run).read_run()["data"]["root"]
    html = tmp_path / "report.html"
    write_report([lite0_run, resnet_run], html, images=Path(images))
    visit = Visit(chromium, html)
    page = visit.page

    assert visit.requests == [html.as_uri()] and visit.offline()
    assert visit.errors == [] and visit.dialogs == []
    # headline cards: lite0 has top-1, top-5, multi-label; the ResNet-50 has top-1 and ReaL
    cards = page.locator(".card[data-metric]")
    assert cards.count() == 5
    top1 = page.locator("#run-2 .card[data-metric=top1] .value").inner_text()
    assert top1 == f"{100 * RunDir(resnet_run).read_metrics()['top1']['value']:.2f}%"
    assert page.locator("#run-2 .card.missing").count() == 3
    # figures: ReaL/multi-label vs top-1 across runs (no ImageNetV2 run, so no V2 plot: said so),
    # superclasses + reliability (lite0), superclasses + worst classes (ResNet-50)
    loaded = visit.images_loaded("figure.plot img")
    assert len(loaded) == 5 and all(loaded)
    assert "no model has runs on both" in page.locator("[data-omitted=v2_vs_val]").inner_text()
    sizes = page.eval_on_selector_all("figure.plot img", "els => els.map(e => e.clientWidth)")
    assert min(sizes) > 250
    # the gallery of lite0's mistakes, with thumbnails; the ResNet-50's mistakes as a table
    assert all(visit.images_loaded("#run-1-mistakes .tile img"))
    predictions = RunDir(lite0_run).read_predictions()
    wrong = int((predictions.top1 != predictions.labels).sum())
    assert page.locator("#run-1-mistakes .tile").count() == wrong > 0
    assert page.locator("#run-2-mistakes tbody tr").count() == 240
    # the leaderboard sorts by a column: Top-1 descending puts the ResNet-50 first
    page.click("#leaderboard-table th:has-text('Top-1')")
    first = page.locator("#leaderboard-table tbody tr").first.locator("td").first.inner_text()
    assert first == "resnet50"
    page.click("#leaderboard-table th:has-text('Top-1')")
    first = page.locator("#leaderboard-table tbody tr").first.locator("td").first.inner_text()
    assert first == "lite0"
    shot = _screenshot(page, tmp_path, "report.png")
    assert shot.stat().st_size > 50_000


@pytest.mark.slow
def test_names_with_html_stay_text_and_filters_work(chromium, hostile_run, tmp_path):
    run, images = hostile_run
    html = tmp_path / "hostile.html"
    write_report([run], html, images=images)
    visit = Visit(chromium, html)
    page = visit.page
    assert visit.offline() and visit.errors == [] and visit.dialogs == []
    assert page.title().startswith(HOSTILE_MODEL) and "pwned" not in page.title()
    assert page.locator("img[src=x]").count() == 0
    text = page.locator("body").inner_text()
    assert (
        HOSTILE_FILE.removesuffix(".jpg") in text
        and HOSTILE_LABEL in text
        and HOSTILE_MODEL in text
    )
    assert visit.visible(".tile") == 3
    page.click("[data-filter-for] button[data-category='Unexplained']")
    assert visit.visible(".tile") == 1
    assert "lawn mower" in page.locator(".tile:visible").inner_text()
    page.click("[data-filter-for] button[data-category='*']")
    assert visit.visible(".tile") == 3
    _screenshot(page, tmp_path, "hostile.png")
