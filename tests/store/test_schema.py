"""The run-folder schema: every file stamped with its version, read back checked, old ones read."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reassess.store.predictions import Predictions
from reassess.store.run import RunDir
from reassess.store.schema import SCHEMA_VERSION, RunFolderError
from tests.conftest import mistakes_table, store_run


@pytest.fixture
def run(tmp_path) -> RunDir:
    ids = np.array(["ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000002.JPEG"], dtype=object)
    labels = np.array([65, 970])
    predictions = Predictions(ids, labels, np.array([[65, 1], [3, 970]], dtype=np.int16))
    return RunDir(store_run(tmp_path / "run", "hand-made", "imagenet-val", predictions))


def test_an_imported_run_records_the_schema_and_the_software_versions(run):
    info = json.loads(run.run_json.read_text())
    assert info["schema_version"] == SCHEMA_VERSION
    assert info["status"] == "complete" and info["model"]["spec"] == "hand-made"
    assert {"reassess", "python", "numpy", "pyarrow"} <= set(info["environment"])
    assert json.loads(run.metrics_file.read_text())["schema_version"] == SCHEMA_VERSION
    assert run.read_metrics()["top1"]["value"] == 0.5  # the reader hands back the body only
    assert "schema_version" not in run.read_metrics()
    assert [(r["class"], r["support"], r["top1"]) for r in run.read_per_class()] == [
        (65, 1, 1.0),
        (970, 1, 0.0),
    ]


def test_files_of_reassess_0_1_without_a_version_are_read_as_they_are(run):
    info = json.loads(run.run_json.read_text())
    del info["schema_version"]
    run.run_json.write_text(json.dumps(info))
    assert run.read_run()["model"]["spec"] == "hand-made"


def test_a_file_from_a_newer_reassess_is_refused_in_one_line(run):
    metrics = json.loads(run.metrics_file.read_text())
    run.metrics_file.write_text(json.dumps({**metrics, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(RunFolderError, match="written by a newer reassess") as caught:
        run.read_metrics()
    assert str(run.metrics_file) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"model": {"spec": "m"}}', "no data spec recorded"),
        ('{"model": {"spec": "m"}, "data": {"spec": "d"}, "status": "done"}', "unknown status"),
        ('{"model": ', "not valid JSON"),
        ('{"schema_version": "3", "model": {"spec": "m"}, "data": {"spec": "d"}}', "whole number"),
    ],
)
def test_a_malformed_run_json_names_the_file_and_the_problem(run, text, message):
    run.run_json.write_text(text)
    with pytest.raises(RunFolderError, match=message) as caught:
        run.read_run()
    assert str(caught.value).startswith(str(run.run_json))


def test_mistakes_keep_their_version_and_must_have_the_schema_columns(run):
    table = mistakes_table(
        sample_id=["ILSVRC2012_val_00000002.JPEG"], label=[970], prediction=[3], category=["x"]
    )
    run.write_mistakes(table)
    stored = run.read_mistakes()
    assert stored.column("label_name").to_pylist() == ["alp"]
    assert stored.schema.metadata[b"reassess.schema_version"] == str(SCHEMA_VERSION).encode()
    with pytest.raises(RunFolderError, match="missing column.s. severity"):
        run.write_mistakes(table.drop_columns(["severity"]))
    with pytest.raises(RunFolderError, match="label is string"):
        run.write_mistakes(table.set_column(1, "label", table.column("label_name")))


def test_an_analysis_summary_missing_its_counts_is_refused(run):
    with pytest.raises(RunFolderError, match="missing num_labelled, num_mistakes"):
        run.write_analysis({"run": {}, "categories": [], "severity": {}})
    old = {"schema_version": 2, "run": {}, "num_labelled": 2, "num_mistakes": 1}
    run.analysis_file.write_text(json.dumps({**old, "categories": [], "severity": {}}))
    assert run.read_analysis()["num_mistakes"] == 1  # 0.1's analysis.json numbered itself 2
