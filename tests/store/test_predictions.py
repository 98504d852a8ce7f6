import numpy as np
import pytest

from reassess.store import Predictions, RunDir, read_predictions, write_predictions
from reassess.store.atomic import atomic_write_text


def _preds(n=6, k=3, logits=False):
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(n, 10)).astype(np.float32)
    return Predictions.from_scores(
        np.array([f"img{i}.jpg" for i in range(n)], dtype=object),
        np.arange(n) % 10,
        scores,
        k=k,
        keep_logits=logits,
    ), scores


def test_from_scores_ranks_and_softmaxes():
    preds, scores = _preds()
    assert (preds.topk == np.argsort(-scores, axis=1)[:, :3]).all()
    softmax = np.exp(scores) / np.exp(scores).sum(1, keepdims=True)
    assert np.allclose(
        preds.probs, np.take_along_axis(softmax, preds.topk.astype(int), 1), atol=1e-6
    )
    assert (np.diff(preds.probs, axis=1) <= 0).all()


def test_parquet_roundtrip_keeps_everything(tmp_path):
    preds, scores = _preds(logits=True)
    write_predictions(tmp_path / "p.parquet", preds)
    back = read_predictions(tmp_path / "p.parquet")
    assert back.sample_ids.tolist() == preds.sample_ids.tolist()
    assert (back.labels == preds.labels).all() and (back.topk == preds.topk).all()
    assert np.allclose(back.probs, preds.probs)
    assert np.allclose(back.logits, scores, atol=1e-2)


def test_reading_a_missing_or_foreign_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no stored predictions"):
        read_predictions(tmp_path / "nope.parquet")
    (tmp_path / "bad.parquet").write_text("hello")
    with pytest.raises(ValueError, match="bad.parquet: not a reassess predictions file"):
        read_predictions(tmp_path / "bad.parquet")


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")

    class Boom(Exception):
        pass

    from reassess.store.atomic import atomic_write

    def failing(tmp):
        tmp.write_text("half")
        raise Boom

    with pytest.raises(Boom):
        atomic_write(target, failing)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_run_parts_accumulate_in_order(tmp_path):
    run = RunDir(tmp_path / "run")
    preds, _ = _preds(n=6)
    run.append_part(preds.take(np.arange(3)))
    run.append_part(preds.take(np.arange(3, 6)))
    merged = run.read_parts()
    assert merged.sample_ids.tolist() == preds.sample_ids.tolist()
    run.clear_parts()
    assert run.read_parts() is None
