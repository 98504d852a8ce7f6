"""Device-side speed: normalisation on the device, autocast precision, channels_last, torch.compile.

Workers hand over uint8 crops (4x fewer bytes than float32 through shared memory and over PCIe);
:class:`Normalizer` turns them into the model's normalised float input on the device, with the
same operations and order as torchvision's ``ToTensor`` + ``Normalize`` (so fp32 inputs are
bit-identical to the classic CPU transform).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

PRECISIONS = ("fp32", "bf16", "fp16")


class PrecisionError(ValueError):
    """A precision that this device cannot run."""


class DeviceError(ValueError):
    """A ``--device`` that names no device this machine has (printed as one line)."""


DEVICE_HELP = "auto, cpu, cuda, cuda:N or mps"


def check_device(name: str) -> str:
    """``name`` resolved ("auto" -> cuda if available, else cpu) after checking this machine has it.

    A CUDA or MPS device that torch cannot use raises a one-line :class:`DeviceError` up front,
    instead of a traceback from the first tensor moved there.
    """
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise DeviceError(f"unknown device {name!r}; use {DEVICE_HELP}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "no CUDA (a CPU build)"
            raise DeviceError(
                f"--device {name}: CUDA is not available here (torch {torch.__version__} with "
                f"{build}, no usable GPU or driver); use --device cpu or auto"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceError(
                f"--device {name}: this machine has {count} CUDA device(s), cuda:0..cuda:{count - 1}"
            )
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceError(
                f"--device {name}: MPS (Apple GPU) is not available here; use --device cpu or auto"
            )
    elif device.type != "cpu":
        backend = getattr(torch, device.type, None)
        if backend is None or not getattr(backend, "is_available", lambda: False)():
            raise DeviceError(f"--device {name}: {device.type} is not available here")
    return name


def amp_precision(amp_dtype: str | None = None, *, cuda: bool) -> str:
    """The precision timm validate.py's ``--amp`` means: ``amp_dtype`` if given (float16, bfloat16,
    fp16 or bf16), else fp16 autocast on CUDA and bf16 on CPU (where autocast takes bf16)."""
    if amp_dtype is not None:
        names = {"float16": "fp16", "fp16": "fp16", "bfloat16": "bf16", "bf16": "bf16"}
        if amp_dtype.lower() not in names:
            raise PrecisionError(f"--amp-dtype takes float16 or bfloat16, got {amp_dtype!r}")
        return names[amp_dtype.lower()]
    return "fp16" if cuda else "bf16"


def autocast_dtype(precision: str):
    """torch dtype for an autocast precision name, None for fp32 (no autocast)."""
    import torch

    if precision not in PRECISIONS:
        raise PrecisionError(
            f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}"
        )
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def precision_notes(device: str, precision: str) -> list[str]:
    """Warnings about running ``precision`` on ``device`` (e.g. emulated bf16 on an old CPU)."""
    import torch

    autocast_dtype(precision)
    check_device(device)
    notes = []
    if device.startswith("cuda"):
        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            raise PrecisionError(f"{torch.cuda.get_device_name(device)} does not support bf16")
    elif precision == "bf16" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        notes.append(
            "this CPU has no native bf16 (needs AVX512-BF16 or AMX); bf16 is emulated and slower "
            "than fp32"
        )
    elif precision == "fp16" and not torch.ops.mkldnn._is_mkldnn_fp16_supported():
        notes.append("this CPU has no native fp16 (needs AVX512-FP16 or AMX-FP16); it is emulated")
    return notes


def autocast(device: str, precision: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for bf16/fp16 on this device type; a no-op context for fp32."""
    import torch

    dtype = autocast_dtype(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.split(":")[0], dtype=dtype)


def configure_threads(device: str, threads: int | None) -> int:
    """Set torch's intra-op threads: ``threads`` if given, else one per available core on CPU.

    ``torch.get_num_threads()`` defaults to the machine's physical cores even when the process
    may use fewer (a container's CPU set, a Ray task's ``OMP_NUM_THREADS``); using more threads
    than cores slows every op. Returns the number set.
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    elif not device.startswith("cuda"):
        available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        limit = int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or available
        if limit and limit < torch.get_num_threads():
            torch.set_num_threads(limit)
    return torch.get_num_threads()


def prepare_module(module: Any, device: str, *, channels_last: bool, compile: bool) -> Any:
    """Move a model to ``device`` in eval mode, channels_last if asked, compiled if asked."""
    import torch

    module = module.to(device).eval()
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # fixed input size: pick the fastest kernels once
    if compile:
        module = torch.compile(module)
    return module


class Normalizer:
    """uint8 (B, H, W, 3) crops on the device -> normalised float (B, 3, H, W) model input."""

    def __init__(self, mean: Any, std: Any, device: str, *, channels_last: bool) -> None:
        import torch

        self.mean = torch.as_tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.std = torch.as_tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.channels_last = channels_last

    def __call__(self, crops: Any) -> Any:
        import torch

        # (B, H, W, 3) -> (B, 3, H, W) as a view: already channels_last in memory
        x = crops.permute(0, 3, 1, 2).float().div_(255).sub_(self.mean).div_(self.std)
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        return x.contiguous(memory_format=memory_format)
