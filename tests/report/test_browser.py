"""The report in a real browser: headless Chromium (Debian's package) opens it offline.

Checks that the cards, the figures and the gallery render, that filters and sorting work, that
names with HTML stay text, and that the page requests nothing but itself; every figure is
screenshotted on its own and its SVG and PNG downloads decoded. Screenshots go to the test's folder
and to test-output/ in the repository.
"""

from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reassess.report import write_report
from reassess.store.run import RunDir
from tests.conftest import REPO, store_run
from tests.report.conftest import HOSTILE_FILE, HOSTILE_LABEL, HOSTILE_MODEL, v2_predictions


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
    # reliability (lite0: its superclasses have 1 or 2 images, too few), superclasses + worst
    # classes (ResNet-50)
    loaded = visit.images_loaded("figure.plot img")
    assert len(loaded) == 4 and all(loaded)
    assert "no model has runs on both" in page.locator("[data-omitted=v2_vs_val]").inner_text()
    assert "fewer than 5 images" in page.locator("#run-1 [data-omitted=superclasses]").inner_text()
    sizes = page.eval_on_selector_all("figure.plot img", "els => els.map(e => e.clientWidth)")
    assert min(sizes) > 250
    # the gallery of lite0's mistakes, with thumbnails; the ResNet-50's mistakes as a table
    assert all(visit.images_loaded("#run-1-mistakes .tile img"))
    predictions = RunDir(lite0_run).read_predictions()
    wrong = int((predictions.top1 != predictions.labels).sum())
    assert page.locator("#run-1-mistakes .tile").count() == wrong > 0
    assert page.locator("#run-2-mistakes tbody tr").count() == 240
    # the leaderboard keeps the two test sets apart: one group of rows each
    groups = page.locator("#leaderboard-table tr.group").all_inner_texts()
    assert groups == ["samples (8 images)", "imagenet-val (50,000 images)"]
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


@pytest.fixture
def analysed_resnet(resnet_run, tmp_path) -> Path:
    """A copy of the ResNet-50 run after `reassess analyze`: categories and ImageNet-X figures."""
    from reassess.runs import analyze_run

    run = tmp_path / "resnet50-analysed"
    shutil.copytree(resnet_run, run)
    analyze_run(RunDir(run))
    return run


def _data(uri: str, kind: str) -> bytes:
    prefix = f"data:image/{kind};base64,"
    assert uri.startswith(prefix), uri[:40]
    return base64.b64decode(uri.removeprefix(prefix))


def _not_blank(png: bytes) -> Image.Image:
    """The image, after checking it has real content: many colours, not one flat page."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = np.asarray(image).reshape(-1, 3)
    assert image.width > 200 and image.height > 120
    assert len(np.unique(pixels, axis=0)) > 20 and pixels.std() > 10
    return image


@pytest.mark.slow
def test_every_figure_renders_is_screenshotted_and_downloads(
    chromium, lite0_run, analysed_resnet, tmp_path
):
    """All seven kinds of figure in one report: each drawn, sized, non-blank, with SVG and PNG."""
    v2_a = store_run(tmp_path / "v2-resnet", "resnet50", "imagenetv2", v2_predictions(0.37, 1))
    v2_b = store_run(tmp_path / "v2-other", "other-model", "imagenetv2", v2_predictions(0.45, 2))
    html = tmp_path / "figures.html"
    write_report([lite0_run, analysed_resnet, v2_a, v2_b], html, max_mistakes=20)
    visit = Visit(chromium, html)
    page = visit.page
    assert visit.offline() and visit.errors == []

    kinds = set(page.eval_on_selector_all("figure.plot", "els => els.map(e => e.dataset.figure)"))
    assert kinds == {
        "vs_top1",
        "v2_vs_val",
        "categories",
        "superclasses",
        "imagenet_x",
        "reliability",
        "worst_classes",
    }
    figures = page.locator("figure.plot")
    kept = REPO / "test-output" / "report" / "figures"
    kept.mkdir(parents=True, exist_ok=True)
    for i in range(figures.count()):
        figure = figures.nth(i)
        key = figure.get_attribute("data-figure")
        img = figure.locator("img")
        assert img.evaluate("e => e.complete && e.naturalWidth > 0")
        box = img.bounding_box()
        assert box["width"] > 250 and box["height"] > 100
        name = f"{i + 1:02d}-{key}.png"
        _not_blank(img.screenshot(path=str(tmp_path / name)))
        shutil.copy(tmp_path / name, kept / name)
        # the downloads are the same plot: an SVG (as shown) and a 200 dpi PNG of it
        svg_link, png_link = (
            figure.locator("a[data-download=svg]"),
            figure.locator("a[data-download=png]"),
        )
        assert svg_link.get_attribute("href") == img.get_attribute("src")
        svg = _data(svg_link.get_attribute("href"), "svg+xml")
        assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
        png = _not_blank(_data(png_link.get_attribute("href"), "png"))
        natural = img.evaluate("e => e.naturalWidth")  # CSS pixels: 96 per inch
        assert png.width == pytest.approx(natural * 200 / 96, rel=0.05)
        for link, suffix in ((svg_link, ".svg"), (png_link, ".png")):
            assert link.get_attribute("download").endswith(f"-{key}{suffix}")

    # a click downloads the file under its name
    link = page.locator("#run-1 figure[data-figure=reliability] a[data-download=png]")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "lite0-samples-reliability.png"
    assert Path(download.value.path()).read_bytes().startswith(b"\x89PNG")
    caption = page.locator("#run-1 figure[data-figure=reliability] .caption").inner_text()
    assert "bootstrap 95% interval" in caption
    v2_caption = page.locator("figure[data-figure=v2_vs_val] .caption").inner_text()
    assert "solid line is the top-1 trend of timm's standard ImageNet-1k models" in v2_caption

    # the leaderboard sorts inside each test set: the two V2 runs swap, the group rows stay first
    rows = "#leaderboard-table tbody[data-group^=imagenetv2] tr:not(.group) td:first-child"
    page.click("#leaderboard-table th:has-text('Top-1')")
    assert page.locator(rows).all_inner_texts() == ["resnet50", "other-model"]
    page.click("#leaderboard-table th:has-text('Top-1')")
    assert page.locator(rows).all_inner_texts() == ["other-model", "resnet50"]
    groups = page.locator("#leaderboard-table tbody")
    assert [groups.nth(i).locator("tr").first.get_attribute("class") for i in range(3)] == [
        "group"
    ] * 3
    _screenshot(page, tmp_path, "figures.png")
