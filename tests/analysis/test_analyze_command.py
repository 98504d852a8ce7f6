"""`reassess analyze` end to end on the shipped real ResNet-50 predictions."""

import json

import pyarrow.parquet as pq
import pytest

from reassess.store.schema import SCHEMA_VERSION
from tests.cli.test_eval_import_metrics import reassess
from tests.conftest import FIXTURES

DUMMY_EXPERT = FIXTURES / "dummy_human_accuracy_fixed.json"


@pytest.fixture(scope="module")
def imported_run(tmp_path_factory, shipped_resnet50_predictions):
    run = tmp_path_factory.mktemp("analyze") / "r50"
    reassess("import", shipped_resnet50_predictions, "--data", "imagenet-val", "--out", run)
    return run


def test_analyze_writes_mistakes_and_summary(imported_run):
    out = reassess("analyze", imported_run).stdout
    assert "13,634 top-1 mistakes" in out
    for title in (
        "Not a mistake",
        "Known label error",
        "Fine-grained",
        "Unexplained",
        "borderline",
    ):
        assert title in out
    assert "undecidable" in out and "--oov-clip" in out  # how to decide out-of-vocabulary
    assert "identity holds" in out
    assert "Accuracy ladder" in out and "77.61%" in out and "72.73%" in out

    summary = json.loads((imported_run / "analysis.json").read_text())
    table = pq.read_table(imported_run / "mistakes.parquet")
    assert table.num_rows == summary["num_mistakes"] == 13_634
    assert table.column("category").null_count == 0
    counts = {c["key"]: c["count"] for c in summary["categories"]}
    assert sum(counts.values()) == 13_634
    categories = table.column("category").to_pylist()
    assert {k: categories.count(k) for k in counts} == counts
    assert summary["identities"]["real"]["holds"]
    assert summary["run"]["data"] == "imagenet-val"
    assert summary["sources"]["imagenet_x"]["license"].startswith("CC BY-NC 4.0")
    assert summary["files"]["mistakes"] == "mistakes.parquet"
    assert "corrected" not in summary["sources"]["label_sets"]
    # the --json output is analysis.json (its body: the file adds the schema_version)
    again = json.loads(reassess("analyze", imported_run, "--json").stdout)
    stored = json.loads((imported_run / "analysis.json").read_text())
    assert stored.pop("schema_version") == SCHEMA_VERSION and again == stored
    assert again["categories"] == summary["categories"]


def test_analyze_refuses_a_folder_that_is_not_a_run(tmp_path):
    result = reassess("analyze", tmp_path, check=False)
    assert result.returncode == 2
    assert "not a run folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_analyze_refuses_a_bad_expert_file(imported_run, tmp_path):
    bad = tmp_path / "labels.json"
    bad.write_text("{}")
    result = reassess("analyze", imported_run, "--multilabel-file", bad, check=False)
    assert result.returncode == 2
    assert str(bad) in result.stderr


def test_expert_multilabels_join_the_analysis(imported_run, tmp_path):
    """The tfds test fixture in the expert file's schema (not the published file: --no-verify)."""
    import warnings

    from reassess.labels.expert import load_expert_multilabels

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expert = load_expert_multilabels(DUMMY_EXPERT, verify=False)
    result = reassess(
        "analyze", imported_run, "--multilabel-file", DUMMY_EXPERT, "--no-verify", "--json"
    )
    summary = json.loads(result.stdout)
    assert summary["sources"]["expert"]["verified"] is False
    ladder = {step["key"]: step for step in summary["ladder"]}
    accepted = expert.accepted()
    assert ladder["expert_top1"]["n"] == int(accepted.evaluable.sum())
    table = pq.read_table(imported_run / "mistakes.parquet").to_pandas()
    covered = table.sample_id.isin(accepted.sample_ids.tolist()).to_numpy()
    assert covered.any()
    assert table.in_expert.notna().to_numpy().tolist() == covered.tolist()
    # every mistake whose prediction the experts accept is "not a mistake", by the experts
    in_expert = table.in_expert.fillna(False).to_numpy(dtype=bool)
    assert (table.category[in_expert] == "not_a_mistake").all()
    assert (table.evidence_source[in_expert] == "expert").all()
    # and none the experts rejected is forgiven, whatever ReaL or cleanlab say
    rejected = table.expert_decides.to_numpy() & ~in_expert
    assert rejected.any()
    assert not table.category[rejected].isin(["not_a_mistake", "known_label_error"]).any()
    decided = table.expert_decides.to_numpy() & table.in_real.fillna(False).to_numpy(dtype=bool)
    assert summary["identities"]["real"]["decided_by_experts"] == int(decided.sum())
    assert summary["identities"]["real"]["holds"]
