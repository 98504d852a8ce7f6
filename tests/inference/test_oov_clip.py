"""The CLIP out-of-vocabulary check through its real open_clip code path (a tiny random CLIP)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from reassess.datasets.imagenet import val_file_name
from tests.cli.test_eval_import_metrics import reassess
from tests.conftest import skimage_photo

open_clip = pytest.importorskip("open_clip")
torch = pytest.importorskip("torch")

from reassess.inference import oov_clip  # noqa: E402
from reassess.inference.oov_clip import OOVQuery, clip_oov_verdicts  # noqa: E402
from reassess.labels.wordnet_proposals import oov_proposals  # noqa: E402

AIRLINER = 404
PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "camera", "cat")


@pytest.fixture
def spec(tiny_clip) -> str:
    config, weights = tiny_clip
    return f"open_clip:{config}@{weights}"


@pytest.fixture
def val_photos(tmp_path):
    """Real photos saved under the first six val file names (their labels: snakes, shark, ...)."""
    folder = tmp_path / "val"
    folder.mkdir()
    for i, name in enumerate(PHOTOS):
        skimage_photo(name).convert("RGB").save(folder / val_file_name(i), quality=90)
    return folder


@pytest.fixture
def airliner_run(tmp_path):
    """An imported run whose every prediction is 'airliner': far from each label, unexplained."""
    csv = tmp_path / "preds.csv"
    csv.write_text(
        "file_name,prediction\n"
        + "".join(f"{val_file_name(i)},{AIRLINER}\n" for i in range(len(PHOTOS)))
    )
    run = tmp_path / "run"
    reassess("import", csv, "--data", "imagenet-val", "--out", run, "--allow-missing")
    return run


def _by_hand(spec_path, image_path, prediction, valid):
    """The verdict computed directly with open_clip: most similar proposal prompt."""
    config, weights = spec_path
    model, _, preprocess = open_clip.create_model_and_transforms(
        config.stem, pretrained=str(weights)
    )
    tokenizer = open_clip.get_tokenizer(config.stem)
    from PIL import Image

    props = oov_proposals(prediction, valid)
    with torch.no_grad():
        img = model.encode_image(preprocess(Image.open(image_path).convert("RGB"))[None])
        txt = model.encode_text(tokenizer([p.text for p in props]))
    img = img / img.norm(dim=-1, keepdim=True)
    txt = txt / txt.norm(dim=-1, keepdim=True)
    return props[int((txt @ img[0]).argmax())]


def test_analyze_asks_clip_and_caches_its_verdicts(airliner_run, val_photos, spec, tiny_clip):
    out = reassess("analyze", airliner_run, "--images", val_photos, "--oov-clip", spec, "--json")
    summary = json.loads(out.stdout)
    info = summary["sources"]["oov_clip"]
    assert info["asked"] == info["computed"] == len(PHOTOS) and info["cached"] == 0
    assert summary["oov"]["undecidable"] == 0
    assert summary["oov"]["yes"] + summary["oov"]["no"] == len(PHOTOS)
    table = pq.read_table(airliner_run / "mistakes.parquet").to_pandas()
    assert (table.oov_source == "clip").all()
    oov_rows = table.oov == "yes"
    assert (table.category[oov_rows] == "fine_grained_oov").all()
    assert not (table.category[~oov_rows] == "fine_grained_oov").any()
    # the first image's verdict is what open_clip itself says
    first = table.iloc[0]
    valid = [int(c) for c in first.valid_labels if c != AIRLINER]
    best = _by_hand(tiny_clip, val_photos / first.sample_id, AIRLINER, valid)
    assert first.oov_best == best.lemma
    assert (first.oov == "yes") == (not best.in_vocabulary)
    # a second call reuses every verdict from RUNDIR/oov_clip.parquet
    again = json.loads(
        reassess(
            "analyze", airliner_run, "--images", val_photos, "--oov-clip", spec, "--json"
        ).stdout
    )
    assert again["sources"]["oov_clip"]["cached"] == len(PHOTOS)
    assert again["sources"]["oov_clip"]["computed"] == 0
    assert again["categories"] == summary["categories"]
    # and without --oov-clip the verdicts are not used: label data alone decides nothing
    plain = json.loads(reassess("analyze", airliner_run, "--json").stdout)
    assert plain["oov"]["undecidable"] == len(PHOTOS)


def test_an_interrupted_check_resumes_where_it_stopped(
    val_photos, spec, tiny_clip, tmp_path, monkeypatch
):
    queries = [
        OOVQuery(val_file_name(i), val_photos / val_file_name(i), AIRLINER, ()) for i in range(6)
    ]
    cache = tmp_path / "oov_clip.parquet"
    monkeypatch.setattr(oov_clip, "CHUNK", 2)
    calls = {"n": 0}
    real_verdict = oov_clip.oov_verdict

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_verdict(*args, **kwargs)

    monkeypatch.setattr(oov_clip, "oov_verdict", failing)
    with pytest.raises(KeyboardInterrupt):
        clip_oov_verdicts(queries, spec, cache_path=cache, progress=False, workers=0)
    assert pq.read_table(cache).num_rows == 2  # the first chunk was kept
    monkeypatch.setattr(oov_clip, "oov_verdict", real_verdict)
    verdicts, summary = clip_oov_verdicts(queries, spec, cache_path=cache, progress=False)
    assert summary["cached"] == 2 and summary["computed"] == 4
    assert sorted(verdicts) == [q.sample_id for q in queries]
    # another model's verdicts are not taken for this one's
    config, weights = tiny_clip
    copy = tmp_path / "other-weights.pt"
    copy.write_bytes(weights.read_bytes())
    _, other = clip_oov_verdicts(
        queries, f"open_clip:{config}@{copy}", cache_path=cache, progress=False
    )
    assert other["cached"] == 0 and other["computed"] == 6


def test_unreadable_and_missing_images_stay_undecidable(airliner_run, val_photos, spec):
    (val_photos / val_file_name(0)).write_bytes(b"not a JPEG")
    (val_photos / val_file_name(1)).unlink()
    summary = json.loads(
        reassess(
            "analyze", airliner_run, "--images", val_photos, "--oov-clip", spec, "--json"
        ).stdout
    )
    info = summary["sources"]["oov_clip"]
    assert info["images_not_found"] == 1
    assert len(info["unreadable"]) == 1 and val_file_name(0) in info["unreadable"][0]
    assert summary["oov"]["undecidable"] == 2


def test_images_and_clip_go_together(airliner_run, val_photos):
    result = reassess("analyze", airliner_run, "--images", val_photos, check=False)
    assert result.returncode == 2 and "--images and --oov-clip go together" in result.stderr
    result = reassess(
        "analyze", airliner_run, "--images", val_photos, "--oov-clip", "timm:resnet50", check=False
    )
    assert result.returncode == 2
    assert "open_clip:ARCH@PRETRAINED or hf-clip:REPO" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_that_holds_no_verdicts_is_named(tmp_path):
    import pyarrow as pa

    bad = tmp_path / "oov_clip.parquet"
    pq.write_table(pa.table({"sample_id": ["a"]}), bad)
    with pytest.raises(ValueError, match="not an oov_clip.parquet") as info:
        oov_clip.read_verdicts(bad)
    assert str(bad) in str(info.value)
    (tmp_path / "text.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match="not a readable oov_clip.parquet"):
        oov_clip.read_verdicts(tmp_path / "text.parquet")
