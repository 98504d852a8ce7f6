import numpy as np
import pyarrow as pa
import pyarrow.csv  # noqa: F401  (pa.csv)
import pyarrow.parquet as pq
import pytest

from reassess.datasets import parse_data_spec
from reassess.datasets.imagenet import val_file_names
from reassess.store.importers import ImportError_, import_predictions


@pytest.fixture(scope="module")
def val():
    return parse_data_spec("imagenet-val")


def test_shipped_resnet50_joined_on_file_names_gives_published_top1(
    val, shipped_resnet50_predictions
):
    """cleanlab's file is in wnid-folder order; joining on names must give 72.732% top-1."""
    preds = import_predictions(shipped_resnet50_predictions, val)
    assert len(preds) == 50_000
    assert preds.sample_ids.tolist() == val_file_names().tolist()
    assert (preds.top1 == preds.labels).mean() == pytest.approx(0.72732, abs=1e-12)


def test_npy_forms(tmp_path, val, val_labels):
    np.save(tmp_path / "top1.npy", val_labels.astype(np.int64))
    assert (import_predictions(tmp_path / "top1.npy", val).top1 == val_labels).all()
    topk = np.stack([(val_labels + 1) % 1000, val_labels], axis=1)
    np.save(tmp_path / "top2.npy", topk)
    preds = import_predictions(tmp_path / "top2.npy", val)
    assert preds.k == 2 and (preds.top1 == topk[:, 0]).all()
    logits = np.zeros((50_000, 1000), dtype=np.float16)
    logits[np.arange(50_000), val_labels] = 5.0
    np.save(tmp_path / "logits.npy", logits)
    preds = import_predictions(tmp_path / "logits.npy", val, k=5)
    assert (preds.top1 == val_labels).all() and preds.logits is not None
    assert preds.probs[:, 0] == pytest.approx(np.exp(5) / (np.exp(5) + 999), rel=1e-3)


def test_csv_rows_are_joined_on_names_not_position(tmp_path, val):
    names = val_file_names().tolist()
    rng = np.random.default_rng(0)
    order = rng.permutation(50_000)
    preds = rng.integers(0, 1000, 50_000)
    table = pa.table(
        {"file_name": [f"val/x/{names[i]}" for i in order], "prediction": preds[order]}
    )
    pa.csv.write_csv(table, tmp_path / "p.csv")
    got = import_predictions(tmp_path / "p.csv", val)
    assert (got.top1 == preds).all()


def test_parquet_topk_string_and_partial_coverage(tmp_path, val):
    names = val_file_names()[:10].tolist()
    pq.write_table(pa.table({"filename": names, "topk": ["1 2 3"] * 10}), tmp_path / "p.parquet")
    with pytest.raises(ImportError_, match="covers 10 of 50000 samples"):
        import_predictions(tmp_path / "p.parquet", val)
    got = import_predictions(tmp_path / "p.parquet", val, allow_missing=True)
    assert got.k == 3 and len(got) == 10 and got.topk[0].tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: np.zeros(49_999, dtype=np.int64), "has 49999 rows but imagenet-val has 50000"),
        (lambda: np.full((50_000, 1001), 0.1, dtype=np.float32), "1001 classes"),
        (lambda: np.full(50_000, 1000, dtype=np.int64), r"must be in 0..999"),
        (lambda: np.where(np.arange(50_000)[:, None] == 7, np.nan, np.zeros((1, 1000))), "NaN"),
    ],
)
def test_bad_npy_files_get_one_line_errors(tmp_path, val, make, message):
    path = tmp_path / "bad.npy"
    np.save(path, make())
    with pytest.raises(ImportError_, match=message) as info:
        import_predictions(path, val)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_unknown_file_names_and_duplicates(tmp_path, val):
    pa.csv.write_csv(pa.table({"file": ["cat.jpg"], "prediction": [3]}), tmp_path / "a.csv")
    with pytest.raises(
        ImportError_, match="1 file names are not in imagenet-val .first: 'cat.jpg'"
    ):
        import_predictions(tmp_path / "a.csv", val)
    name = val_file_names()[0]
    pa.csv.write_csv(pa.table({"file": [name, name], "prediction": [3, 4]}), tmp_path / "b.csv")
    with pytest.raises(ImportError_, match="repeat"):
        import_predictions(tmp_path / "b.csv", val, allow_missing=True)
    pa.csv.write_csv(pa.table({"prediction": [3]}), tmp_path / "c.csv")
    with pytest.raises(ImportError_, match="no file-name column"):
        import_predictions(tmp_path / "c.csv", val)
