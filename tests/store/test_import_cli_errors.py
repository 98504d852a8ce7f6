"""Bad prediction files through the real `reassess import`: one `error:` line naming the file."""

import os
import subprocess
import sys

import numpy as np
import pytest

from reassess.datasets.imagenet import val_file_names


def _zero_d_npy(path):
    np.save(path, np.float32(3))


def _duplicate_csv(path):
    first, other = val_file_names()[:2]
    path.write_text(f"file_name,prediction\n{first},1\n{other},2\n{first},3\n")


def _latin1_csv(path):
    rows = "".join(f"{n},1\n" for n in val_file_names()[:2])
    path.write_bytes(f"file_name,prediction\n{rows}café.JPEG,1\n".encode("latin-1"))


@pytest.mark.parametrize(
    "file,write,message",
    [
        ("zero_d.npy", _zero_d_npy, "holds a single value (3.0), not one row per sample"),
        ("dup.csv", _duplicate_csv, "in rows 1 and 3 (data rows counted from 1)"),
        (
            "latin1.csv",
            _latin1_csv,
            "not UTF-8 text (byte 0xE9 on line 4, at offset 86 of the file",
        ),
    ],
)
def test_bad_predictions_file_is_one_error_line_not_a_traceback(tmp_path, file, write, message):
    path = tmp_path / file
    write(path)
    result = subprocess.run(
        [sys.executable, "-m", "reassess.cli.main", "import", str(path), "--data", "imagenet-val"]
        + ["--out", str(tmp_path / "run"), "--allow-missing"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},  # rich wraps at 80 columns when not on a terminal
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {path}: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "run").exists()
