"""The report embeds thumbnails only of images inside --images: a symlink out of it is no image."""

from __future__ import annotations

import os
import re

from reassess.report import build_report, render_report
from reassess.report.images import thumbnail_uri


def test_a_symlink_out_of_the_images_folder_is_not_embedded(hostile_run, tmp_path):
    run, images = hostile_run
    outside = tmp_path / "outside" / "secret.jpg"
    outside.parent.mkdir()
    os.replace(images / "n07920052" / "coffee.jpg", outside)  # a photo no inside image matches
    (images / "n02123045" / "rotated.jpg").unlink()
    os.symlink(outside, images / "n02123045" / "rotated.jpg")  # a mistake's image, pointing out
    (images / "n02123045" / "gray.jpg").unlink()  # a mistake whose image is simply missing

    view = build_report([run], images=images)
    html = render_report(view)

    rows = {r.sample_id: r.thumbnail for r in view.runs[0].mistakes.rows}
    assert rows["n02123045/rotated.jpg"] is None and rows["n02123045/gray.jpg"] is None
    inside = [uri for uri in rows.values() if uri is not None]
    assert len(inside) == 1 and inside[0] in html  # the one real image is embedded
    assert re.findall(r'src="(data:image/jpeg;base64,[^"]+)"', html) == inside
    secret = thumbnail_uri(outside)
    assert secret is not None and secret not in html
    assert html.count("image not found") == 2  # the symlink shows as a missing image does
    assert "1 of 3 images found under" in html
