"""Inference options shared by `reassess eval` and `reassess zoo`, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

BatchSize = Annotated[int, typer.Option(min=1)]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, ...")]
TopK = Annotated[int, typer.Option(min=1, help="Ranked predictions to store per image")]
KeepLogits = Annotated[bool, typer.Option(help="Also store full logits (float16)")]
UseCache = Annotated[bool, typer.Option(help="Reuse/fill the decoded-crop cache shared by models")]
Precision = Annotated[str, typer.Option(help="fp32, or bf16/fp16 autocast")]
FlushSeconds = Annotated[
    float,
    typer.Option(
        min=0, help="Store finished batches at least this often (a killed run keeps them)"
    ),
]
Overwrite = Annotated[
    bool,
    typer.Option(help="Delete the run already in --out (predictions, reviews) and start again"),
]

# The expert multi-label file, accepted by metrics, compare and analyze.
MultilabelFile = Annotated[
    Path | None,
    typer.Option(
        "--multilabel-file",
        help="human_accuracy_v3.0.0.json, the expert multi-labels (sha256-checked): adds expert "
        "multi-label top-1 and ImageNet-M",
    ),
]
VerifyExpertFile = Annotated[
    bool,
    typer.Option(
        "--verify/--no-verify",
        help="Refuse a --multilabel-file whose sha256 is not the published one",
    ),
]
