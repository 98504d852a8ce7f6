"""`reassess report` through the real command: writes the page, refuses bad input in one line."""

from __future__ import annotations

from tests.cli.test_eval_import_metrics import reassess


def test_report_command_writes_one_html_file(resnet_run, tmp_path):
    out = tmp_path / "nested" / "report.html"
    result = reassess("report", resnet_run, "--out", out, "--no-progress", "--max-mistakes", "20")
    assert "report of 1 run(s)" in result.stdout and str(out) in result.stdout.replace("\n", "")
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "72.73%" in html
    assert "showing 20" in html and "13,634 top-1 mistakes" in html
    assert not list(out.parent.glob(".*.tmp"))  # written atomically


def test_a_bad_run_folder_is_one_clear_line(tmp_path):
    result = reassess("report", tmp_path / "nothing", "--out", tmp_path / "r.html", check=False)
    assert result.returncode == 2, result.stdout
    assert "not a run folder" in result.stderr and str(tmp_path / "nothing") in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "r.html").exists()


def test_a_mistakes_file_without_a_required_column_is_one_line(hostile_run, tmp_path):
    import pyarrow.parquet as pq

    from reassess.store.run import RunDir

    run, _ = hostile_run
    path = RunDir(run).mistakes_file
    pq.write_table(pq.read_table(path).drop_columns(["category", "evidence"]), path)
    result = reassess("report", run, "--out", tmp_path / "r.html", "--no-progress", check=False)
    assert result.returncode == 2, result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert str(path) in result.stderr and "missing column(s) category, evidence" in result.stderr
    assert not (tmp_path / "r.html").exists()
