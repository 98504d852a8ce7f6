"""Inference options shared by `reassess eval` and `reassess zoo`, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

BatchSize = Annotated[int, typer.Option(min=1)]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, ...")]
TopK = Annotated[int, typer.Option(min=1, help="Ranked predictions to store per image")]
KeepLogits = Annotated[bool, typer.Option(help="Also store full logits (float16)")]
UseCache = Annotated[bool, typer.Option(help="Reuse/fill the decoded-crop cache shared by models")]
Precision = Annotated[str, typer.Option(help="fp32, or bf16/fp16 autocast")]
