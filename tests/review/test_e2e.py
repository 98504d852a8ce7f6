"""End to end in headless Chromium: a real lite0 run, reviewed with the keyboard only; the server
restarts and the reviews are still there; the export recomputes the run's metrics.

Chromium is Debian's package (`make browser`), driven by Playwright without its own browsers.
Screenshots go to the test's folder and to test-output/review/ in the repository.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect
from typer.testing import CliRunner

from reassess.cli.main import app
from reassess.labels.expert import load_expert_multilabels
from reassess.labels.imagenet import imagenet_classes
from reassess.review.server import ReviewServer, open_review
from reassess.runs import classify_run
from reassess.store.run import RunDir
from tests.conftest import REPO
from tests.review.conftest import HOSTILE, val_name

CLASSES = imagenet_classes()


def wnid(name: str) -> str:
    return CLASSES.wnids[CLASSES.names.index(name)]


class Session:
    """A page on a running review server, recording script errors, dialogs and requests."""

    def __init__(self, browser, url: str, name: str) -> None:
        self.url = url
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.context = browser.new_context(viewport={"width": 1400, "height": 860})
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        self.page.fill("#name-input", name)  # asked once, then kept in localStorage
        self.page.keyboard.press("Enter")
        self.page.wait_for_selector("#models .row")

    def current(self) -> str:
        return self.page.inner_text("#sample-id")

    def wait_for(self, sample_id: str) -> None:
        from playwright.sync_api import expect

        expect(self.page.locator("#sample-id")).to_have_text(sample_id)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)

    def valid(self) -> set[str]:
        texts = self.page.locator("#valid .chip").all_inner_texts()
        return {t.replace("×", "").strip() for t in texts}

    def selected_verdict(self) -> str | None:
        selected = self.page.locator("#verdicts button.selected")
        return selected.get_attribute("data-verdict") if selected.count() else None

    def shot(self, tmp_path: Path, name: str) -> Path:
        path = tmp_path / name
        self.page.screenshot(path=str(path))
        kept = REPO / "test-output" / "review"
        kept.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, kept / name)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.mark.slow
def test_review_with_the_keyboard_restart_export_and_recompute(chromium, lite0_val_run, tmp_path):
    run_dir, images = lite0_val_run
    predictions = RunDir(run_dir).read_predictions()
    mistakes = [
        sid
        for sid, top1, label in zip(
            predictions.sample_ids, predictions.top1, predictions.labels, strict=True
        )
        if top1 != label
    ]
    # the photos lite0 gets wrong: a cat labelled goldfish, an espresso labelled tench, the
    # astronaut (space shuttle) and chelsea the tabby (taken for a tiger cat)
    assert mistakes == [val_name(i) for i in (236, 293, 559, 1341)]
    top = dict(zip(predictions.sample_ids, predictions.topk.tolist(), strict=True))
    assert CLASSES.name(top[val_name(236)][0]) == "tiger cat"
    assert CLASSES.name(top[val_name(293)][0]) == "espresso"
    db = tmp_path / "review.sqlite"
    analysed, _, _ = classify_run(RunDir(run_dir))
    severity_if_mistake = dict(
        zip(analysed["sample_id"].tolist(), analysed["severity_if_mistake"].tolist(), strict=True)
    )

    with ReviewServer(open_review([run_dir], images=images, db=db), port=0) as server:
        s = Session(chromium, server.url, "alice")
        page = s.page
        expect(page.locator("#progress-text")).to_have_text("0 / 4 reviewed")
        assert s.current() == val_name(236)
        page.wait_for_function(  # the photo loads (not instantly on a busy machine)
            "() => { const img = document.querySelector('#photo');"
            " return img.complete && img.naturalWidth > 0; }",
            timeout=15_000,
        )
        # cat labelled goldfish: the model is right (n), the label is not (0), tabby and Egyptian
        # cat are valid too (their top-5 number keys)
        s.keys("n", "0")
        top5 = [CLASSES.name(c) for c in top[val_name(236)]]
        s.keys(str(top5.index("tabby") + 1), str(top5.index("Egyptian cat") + 1))
        assert s.valid() == {"tiger cat", "tabby", "Egyptian cat"}
        assert s.selected_verdict() == "not_a_mistake"
        s.shot(tmp_path, "1-first-item.png")
        s.keys("Enter")
        s.wait_for(val_name(293))  # the next item shows at once (prefetched)
        # espresso labelled tench: not a mistake; drop tench; add "coffee mug" with the search box
        s.keys("n", "0", "/")
        page.keyboard.type("coffee mu")
        page.wait_for_selector("#suggestions li.active")
        assert page.inner_text("#suggestions li.active").startswith("coffee mug")
        s.shot(tmp_path, "2-search.png")
        s.keys("Enter", "Escape")
        assert s.valid() == {"espresso", "coffee mug"}
        s.keys("Enter")
        s.wait_for(val_name(559))
        # the astronaut: a major mistake, with a note that tries to be markup
        s.keys("m", "t")
        page.keyboard.type(f"{HOSTILE} no helmet here")
        s.keys("Escape")
        assert page.locator("#severity button.selected").inner_text() == "major"
        s.keys("Enter")
        s.wait_for(val_name(1341))
        # chelsea the tabby taken for a tiger cat: fine-grained, starting at analyze's severity
        # score for it (one severity rule); v steps through minor, borderline, major
        s.keys("f")
        suggested = severity_if_mistake[val_name(1341)]
        assert page.locator("#severity button.selected").inner_text() == suggested
        s.keys("v", "v", "v")
        assert page.locator("#severity button.selected").inner_text() == suggested
        order = ["minor", "borderline", "major"]
        s.keys("v")
        after = order[(order.index(suggested) + 1) % 3]
        assert page.locator("#severity button.selected").inner_text() == after
        assert "tiger cat" not in s.valid()
        s.keys("Enter")
        expect(page.locator("#progress-text")).to_have_text("4 / 4 reviewed")
        s.keys("a")
        assert page.locator("#stats-dialog").is_visible()
        s.shot(tmp_path, "3-stats.png")
        assert s.errors == [] and s.dialogs == []
        assert all(r.startswith(server.url) for r in s.requests)
        s.close()

    # a new server on the same database: everything is still there
    with ReviewServer(open_review([run_dir], images=images, db=db), port=0) as server:
        s = Session(chromium, server.url, "alice")
        page = s.page
        expect(page.locator("#progress-text")).to_have_text("4 / 4 reviewed")
        assert s.current() == val_name(236)
        assert s.selected_verdict() == "not_a_mistake"
        assert s.valid() == {"tiger cat", "tabby", "Egyptian cat"}
        assert "saved" in page.inner_text("#save-state")
        s.keys("j")
        s.wait_for(val_name(293))
        assert s.valid() == {"espresso", "coffee mug"}
        s.keys("j")
        s.wait_for(val_name(559))
        assert s.selected_verdict() == "major"
        assert page.input_value("#note") == f"{HOSTILE} no helmet here"
        # filters: by class (the tench-labelled espresso) and by review status
        page.select_option("#f-class", str(CLASSES.names.index("tench")))
        s.wait_for(val_name(293))
        assert page.inner_text("#position") == "1 / 1"
        page.select_option("#f-class", "")
        page.select_option("#f-status", "unreviewed")
        page.wait_for_selector("#empty-list:not([hidden])")
        page.select_option("#f-status", "all")
        page.wait_for_selector("#models .row")
        s.shot(tmp_path, "4-after-restart.png")
        assert s.errors == [] and s.dialogs == []
        s.close()

    # export and recompute the run's metrics with the reviewed labels
    out = tmp_path / "labels.json"
    runner = CliRunner()
    result = runner.invoke(
        app, ["review", "export", str(run_dir), "--db", str(db), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    labels = load_expert_multilabels(out)  # a reviewed file: no checksum, no warning
    assert labels.reviewed
    annots = json.loads(out.read_text())["initial_annots"]
    assert set(annots[val_name(236)]["correct"]) == {
        wnid("tiger cat"),
        wnid("tabby"),
        wnid("Egyptian cat"),
    }
    assert wnid("goldfish") in annots[val_name(236)]["wrong"]
    assert set(annots[val_name(293)]["correct"]) == {wnid("espresso"), wnid("coffee mug")}
    assert labels.imagenet_m == (val_name(559),)
    result = runner.invoke(app, ["metrics", str(run_dir), "--multilabel-file", str(out), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout[result.stdout.index("{") :])
    # 4 reviewed images: the tiger cat and the espresso are now right, the other two still wrong
    assert metrics["expert_top1_images"]["value"] == 0.5 and metrics["expert_top1_images"]["n"] == 4
    assert metrics["imagenet_m"]["hits"] == 0 and metrics["imagenet_m"]["of"] == 1
    assert metrics["top1"]["value"] == pytest.approx(3 / 7)
