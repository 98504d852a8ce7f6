"""Inference options shared by `reassess eval` and `reassess zoo`, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reassess.cli.app import UserError
from reassess.inference.accel import DEVICE_HELP, amp_precision, check_device
from reassess.models.registry import ModelSpecError, PreprocessingOverrides

# timm validate.py's short names: -b for --batch-size, -j for --workers, --amp for autocast.
BatchSize = Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Images per batch")]
Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        "-j",
        min=0,
        help="Decoding worker processes (default: CPU count, max 8; zoo on Ray: its CPUs - 1)",
    ),
]
Device = Annotated[str, typer.Option(help=DEVICE_HELP)]
Amp = Annotated[
    bool,
    typer.Option(
        "--amp",
        help="Mixed precision as timm validate.py's --amp: fp16 autocast on CUDA, bf16 on CPU",
    ),
]
AmpDtype = Annotated[
    str | None,
    typer.Option("--amp-dtype", help="The --amp precision: float16 or bfloat16"),
]
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

# Preprocessing overrides, as timm validate.py's --img-size --crop-pct --interpolation --mean --std:
# each replaces that field of the model's own data config (None keeps it).

ImgSize = Annotated[
    int | None,
    typer.Option(
        "--img-size", min=1, help="Input image size in pixels (square crop); model's own if unset"
    ),
]
CropPct = Annotated[
    float | None,
    typer.Option(
        "--crop-pct",
        help="Center-crop fraction in (0, 1]: short side resized to size/crop_pct, then cropped",
    ),
]
Interpolation = Annotated[
    str | None,
    typer.Option(
        "--interpolation",
        help="Resize interpolation: nearest, bilinear, bicubic, box, hamming, lanczos",
    ),
]
Mean = Annotated[
    str | None,
    typer.Option("--mean", help='Normalisation mean per RGB channel, e.g. "0.485,0.456,0.406"'),
]
Std = Annotated[
    str | None,
    typer.Option("--std", help='Normalisation std per RGB channel, e.g. "0.229,0.224,0.225"'),
]


def preprocessing_overrides(
    img_size: int | None,
    crop_pct: float | None,
    interpolation: str | None,
    mean: str | None,
    std: str | None,
) -> PreprocessingOverrides:
    """The overrides the options above give, checked; a bad value is a one-line ModelSpecError."""
    return PreprocessingOverrides(
        img_size=img_size,
        crop_pct=crop_pct,
        interpolation=interpolation.strip().lower() if interpolation is not None else None,
        mean=_rgb_values("--mean", mean),
        std=_rgb_values("--std", std),
    )


def _rgb_values(option: str, text: str | None) -> tuple[float, ...] | None:
    """``"0.485,0.456,0.406"`` as floats (their count is checked by PreprocessingOverrides)."""
    if text is None:
        return None
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ModelSpecError(
            f'{option} takes three comma-separated numbers, e.g. "0.485,0.456,0.406"; got {text!r}'
        ) from None


def inference_precision(
    precision: str,
    amp: bool,
    amp_dtype: str | None,
    device: str,
    *,
    cuda: bool | None = None,
) -> str:
    """The autocast precision the options ask for, after checking ``device`` exists here.

    ``--amp`` (with ``--amp-dtype``) stands for ``--precision fp16`` on CUDA and ``bf16`` on CPU;
    with another ``--precision`` it is refused in one line. ``cuda`` given (zoo on a Ray cluster)
    says where the models run instead of checking this machine.
    """
    if cuda is None:
        cuda = check_device(device).startswith("cuda")
    if amp_dtype is not None and not amp:
        raise UserError("--amp-dtype applies with --amp")
    if not amp:
        return precision
    chosen = amp_precision(amp_dtype, cuda=cuda)
    if precision not in ("fp32", chosen):
        raise UserError(f"--amp means --precision {chosen} here; drop --precision {precision}")
    return chosen
