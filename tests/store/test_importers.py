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
        (
            lambda: np.where(np.arange(50_000)[:, None] == 7, np.nan, np.zeros((1, 1000))),
            r"NaN or infinite scores in 1 row; the first is row 7 \(array rows counted from 0\)",
        ),
        (lambda: np.float32(3), r"holds a single value \(3.0\), not one row per sample"),
        (lambda: np.zeros((50_000, 0)), r"rows are empty \(shape \(50000, 0\)\)"),
        (lambda: np.zeros((50_000, 0), dtype=np.int64), r"rows are empty \(shape \(50000, 0\)\)"),
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
    with pytest.raises(ImportError_, match="duplicate file name .* in rows 1 and 2"):
        import_predictions(tmp_path / "b.csv", val, allow_missing=True)
    pa.csv.write_csv(pa.table({"prediction": [3]}), tmp_path / "c.csv")
    with pytest.raises(ImportError_, match="no file-name column"):
        import_predictions(tmp_path / "c.csv", val)


def _write(path, columns):
    """Write ``columns`` as a CSV or Parquet file, by the suffix of ``path``."""
    table = pa.table(columns)
    if path.suffix == ".csv":
        pa.csv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return path


def test_duplicate_file_names_name_both_rows_in_file_order(tmp_path, val):
    """The second image's dataset position (10) is past the file's 3 rows: once an IndexError."""
    names = val_file_names()
    for suffix in (".csv", ".parquet"):
        path = _write(
            tmp_path / f"dup{suffix}",
            {"file": [names[3], f"val/x/{names[10]}", names[10]], "prediction": [1, 2, 3]},
        )
        with pytest.raises(ImportError_) as info:
            import_predictions(path, val, allow_missing=True)
        assert str(info.value) == (
            f"{path}: duplicate file name '{names[10]}' in rows 2 and 3 (data rows counted "
            "from 1); one row per image"
        )


LISTS = pa.list_(pa.int64())


@pytest.mark.parametrize(
    "file,column,make,message",
    [
        (
            "p.parquet",
            "topk",
            lambda: pa.array([[1, 2], None, [3, 4]], LISTS),
            r"column 'topk' is empty in row 2 \(data rows counted from 1\)$",
        ),
        (
            "p.parquet",
            "topk",
            lambda: pa.array([[1, 2], [3, 4], [None, 4]], LISTS),
            r"column 'topk' has an empty value inside the list in row 3 \(data rows counted",
        ),
        (
            "p.parquet",
            "topk",
            lambda: pa.array([[], [], []], LISTS),
            r"rows are empty \(shape \(3, 0\)\)",
        ),
        (
            "p.csv",
            "topk",
            lambda: ["1 2 3", "1 2 x", "4 5 6"],
            r"column 'topk' holds '1 2 x' in row 2 \(data rows counted from 1\); expected class "
            "indices separated by spaces or commas",
        ),
        ("p.csv", "topk", lambda: ["1|2|3"] * 3, r"column 'topk' holds '1\|2\|3' in row 1 "),
        (
            "p.parquet",
            "logits",
            lambda: [[0.0] * 1000, [0.0] * 999, [0.0] * 1000],
            r"column 'logits' has lists of different lengths: rows 1 and 2 \(data rows counted "
            r"from 1\) hold 1000 and 999 values",
        ),
        (
            "p.parquet",
            "logits",
            lambda: [[0.0] * 1000, [0.0] * 1000, None],
            r"column 'logits' is empty in row 3 \(data rows counted from 1\)",
        ),
        (
            "p.parquet",
            "logits",
            lambda: [["0"] * 1000, ["1"] * 999 + ["x"], ["2"] * 1000],
            r"column 'logits' holds 'x', not a number, in row 2 \(data rows counted from 1\)",
        ),
        (
            "p.csv",
            "logits",
            lambda: ["0.1 0.9"] * 3,
            r"column 'logits' must hold a list of numbers per row, got string",
        ),
        (
            "p.parquet",
            "logits",
            lambda: [[0.0] * 1000, [0.0] * 999 + [float("inf")], [0.0] * 1000],
            r"NaN or infinite scores in 1 row; the first is row 2 \(data rows counted from 1\)",
        ),
        (
            "p.parquet",
            "prediction",
            lambda: [5, 1000, 7],
            r"class indices must be in 0..999, found 5..1000; the first bad one is in row 2 ",
        ),
    ],
    ids=[
        "topk-null-row",
        "topk-null-inside-list",
        "topk-empty-lists",
        "topk-junk-token",
        "topk-unknown-separator",
        "logits-ragged",
        "logits-null-row",
        "logits-strings",
        "logits-csv-string",
        "logits-infinite",
        "class-out-of-range",
    ],
)
def test_bad_rows_are_named_in_file_order(tmp_path, val, file, column, make, message):
    """Rows are numbered as in the file, though the file lists images out of dataset order."""
    names = val_file_names()[[9, 0, 5]].tolist()
    path = _write(tmp_path / file, {"file_name": names, column: make()})
    with pytest.raises(ImportError_, match=message) as info:
        import_predictions(path, val, allow_missing=True)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_empty_file_names_and_header_only_tables(tmp_path, val):
    names = val_file_names()[:3].tolist()
    path = _write(
        tmp_path / "p.parquet", {"file_name": [names[0], None, None], "prediction": [1] * 3}
    )
    with pytest.raises(
        ImportError_,
        match=r"p.parquet: column 'file_name' is empty in row 2 \(data rows counted from 1\) "
        "and 1 other row$",
    ):
        import_predictions(path, val, allow_missing=True)
    (tmp_path / "h.csv").write_text("file_name,prediction\n")
    with pytest.raises(ImportError_, match="h.csv: has no data rows"):
        import_predictions(tmp_path / "h.csv", val, allow_missing=True)


def _latin1_csv(path, names, header="file_name"):
    lines = [f"{header},prediction", *(f"{n},{i}" for i, n in enumerate(names))]
    path.write_bytes("\n".join(lines).encode("latin-1") + b"\n")
    return path


def test_csv_that_is_not_utf8_is_named_with_its_first_bad_byte(tmp_path, val):
    """pyarrow reads a Latin-1 column as bytes; that once read as 50001 unknown file names."""
    names = val_file_names().tolist()
    path = _latin1_csv(tmp_path / "latin1.csv", [*names, "café.JPEG"])
    offset = path.read_bytes().index(b"\xe9")
    with pytest.raises(ImportError_) as info:
        import_predictions(path, val)
    assert str(info.value) == (
        f"{path}: not UTF-8 text (byte 0xE9 on line 50002, at offset {offset} of the file); "
        "save it as UTF-8"
    )
    header = _latin1_csv(tmp_path / "header.csv", names[:2], header="fichier_é")
    with pytest.raises(ImportError_, match=r"header.csv: not UTF-8 text \(byte 0xE9 on line 1, "):
        import_predictions(header, val, allow_missing=True)


def test_parquet_file_names_stored_as_bytes(tmp_path, val):
    """UTF-8 bytes join like text; other bytes and U+FFFD (a lost byte) are named by row."""
    names = val_file_names()[:3].tolist()
    raw = [n.encode() for n in names]
    path = _write(tmp_path / "ok.parquet", {"file": pa.array(raw, pa.binary()), "pred": [1, 2, 3]})
    assert import_predictions(path, val, allow_missing=True).sample_ids.tolist() == names
    raw[1] = b"caf\xe9.JPEG"
    path = _write(tmp_path / "bad.parquet", {"file": pa.array(raw, pa.binary()), "pred": [1, 2, 3]})
    with pytest.raises(
        ImportError_,
        match=r"bad.parquet: not UTF-8 text \(byte 0xE9 at offset 3 of column 'file' in row 2 "
        r"\(data rows counted from 1\)\); save it as UTF-8",
    ):
        import_predictions(path, val, allow_missing=True)
    path = _write(tmp_path / "lost.parquet", {"file": [names[0], "caf\ufffd.JPEG"], "pred": [1, 2]})
    with pytest.raises(
        ImportError_,
        match=r"lost.parquet: file name 'caf\ufffd.JPEG' in row 2 .* "
        r"holds U\+FFFD",
    ):
        import_predictions(path, val, allow_missing=True)


def test_parquet_logits_and_topk_lists_are_joined_on_names(tmp_path, val, val_labels):
    """Valid list columns import as before: rows land in dataset order, logits kept as float16."""
    rows = np.array([9, 0, 5])
    names = val_file_names()[rows].tolist()
    logits = np.random.default_rng(0).normal(size=(3, 1000)).astype(np.float32)
    path = _write(tmp_path / "l.parquet", {"file_name": names, "logits": logits.tolist()})
    got = import_predictions(path, val, allow_missing=True, k=3)
    order = np.argsort(rows)
    assert got.sample_ids.tolist() == val_file_names()[rows[order]].tolist()
    assert (got.labels == val_labels[rows[order]]).all()
    assert (got.topk == np.argsort(-logits[order], axis=1)[:, :3]).all()
    assert (got.logits == logits[order].astype(np.float16)).all()
    topk = pa.array([[1, 2], [3, 4], [5, 6]], pa.list_(pa.int32()))
    path = _write(tmp_path / "t.parquet", {"file_name": names, "topk": topk})
    got = import_predictions(path, val, allow_missing=True)
    assert got.topk.tolist() == [[3, 4], [5, 6], [1, 2]] and got.probs is None
