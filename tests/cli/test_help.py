"""What a user reads first: every command's --help has an example, flags look like flags, and
timm validate.py's short names (-b, -j, --amp) mean what they mean there."""

from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

from reassess.cli.main import app
from reassess.cli.options import inference_precision


def _commands(command=None, path=()):
    command = command or typer.main.get_command(app)
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


COMMANDS = list(_commands())
NAMES = [" ".join(path) for path, _ in COMMANDS]


def test_every_command_is_walked():
    assert {"eval", "zoo", "models", "report", "demo", "review serve", "review stats"} <= set(NAMES)


def test_the_top_level_help_shows_a_whole_pipeline():
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Example: reassess eval" in result.output and "reassess report" in result.output


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=NAMES)
def test_every_help_shows_an_example(path):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    examples = [line for line in result.output.splitlines() if "Example: reassess " in line]
    assert examples, result.output
    assert f"reassess {path[0]}" in examples[0]


@pytest.mark.parametrize("path,command", COMMANDS, ids=NAMES)
def test_json_is_a_plain_flag(path, command):
    for param in command.params:
        if "--json" in param.opts:
            assert param.is_flag and param.secondary_opts == []
            assert command.make_context(path[-1], [*_required(command), "--json"]).params[
                param.name
            ]


def _required(command) -> list[str]:
    """Dummy values for a command's required arguments and options."""
    args = []
    for param in command.params:
        if param.required:
            args += ["x"] if param.param_type_name == "argument" else [param.opts[0], "x"]
    return args


def test_results_commands_take_json():
    with_json = {
        name
        for (path, c), name in zip(COMMANDS, NAMES, strict=True)
        if any("--json" in p.opts for p in c.params)
    }
    assert {
        "eval",
        "import",
        "metrics",
        "compare",
        "analyze",
        "zoo",
        "models",
        "review stats",
    } <= with_json


def test_help_shows_flags_without_a_value_type():
    result = CliRunner().invoke(app, ["eval", "--help"], env={"COLUMNS": "200"})
    json_line = next(line for line in result.output.splitlines() if "--json" in line)
    assert "<bool>" not in json_line
    batch_line = next(line for line in result.output.splitlines() if "--batch-size" in line)
    assert "-b" in batch_line and "<int" in batch_line


@pytest.mark.parametrize("name", ["eval", "zoo"])
def test_timm_short_names_parse_to_the_same_options(name):
    command = dict(COMMANDS)[(name,)]
    required = (
        ["--model", "lite0", "--data", "samples", "--out", "x"]
        if name == "eval"
        else ["models.txt", "--data", "samples", "--out", "x"]
    )
    short = command.make_context(name, [*required, "-b", "16", "-j", "3", "--amp"]).params
    long = command.make_context(
        name, [*required, "--batch-size", "16", "--workers", "3", "--amp"]
    ).params
    assert short == long
    assert (short["batch_size"], short["workers"], short["amp"]) == (16, 3, True)


def test_amp_is_fp16_on_cuda_and_bf16_on_cpu(monkeypatch):
    import torch

    assert inference_precision("fp32", True, None, "cpu") == "bf16"
    assert inference_precision("fp32", True, "float16", "cpu") == "fp16"
    assert inference_precision("fp32", False, None, "cpu") == "fp32"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert inference_precision("fp32", True, None, "auto") == "fp16"
    assert inference_precision("fp32", True, "bfloat16", "auto") == "bf16"
    # zoo on a Ray cluster: its GPUs, not this machine's, decide
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert inference_precision("fp32", True, None, "auto", cuda=True) == "fp16"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--amp", "--precision", "fp16"], "--amp means --precision bf16 here"),
        (["--amp-dtype", "bfloat16"], "--amp-dtype applies with --amp"),
        (["--amp", "--amp-dtype", "int8"], "--amp-dtype takes float16 or bfloat16"),
    ],
)
def test_amp_conflicts_are_one_line(args, message, tmp_path, monkeypatch, capsys):
    from tests.cli.test_faults import _main

    status, stderr = _main(
        ["eval", "--model", "lite0", "--data", "samples", "--out", tmp_path / "r", *args],
        monkeypatch,
        capsys,
    )
    assert status == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], stderr
    assert not (tmp_path / "r").exists()
