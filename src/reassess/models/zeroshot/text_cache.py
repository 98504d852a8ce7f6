"""Text embeddings of prompts, cached on disk per model and exact prompt texts.

The cache (``cache_dir('text_embeddings')``) means the same model on ImageNet, ImageNetV2, ReaL...
encodes its prompts once; an unreadable entry is recomputed, an unwritable cache only warns.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reassess.models.zeroshot.weighting import _normalize_rows, ensemble_class_weights

CACHE_VERSION = 1


def _cache_key(kind: str, fingerprint: str, class_texts: Sequence[Sequence[str]]) -> str:
    digest = hashlib.sha256(
        json.dumps({"version": CACHE_VERSION, "kind": kind, "model": fingerprint}).encode()
    )
    for texts in class_texts:
        digest.update(json.dumps(list(texts), ensure_ascii=False).encode())
        digest.update(b"\n")
    return f"{kind}-{digest.hexdigest()[:40]}"


def _cache_path(key: str) -> Path:
    from reassess.cache import cache_dir

    return cache_dir("text_embeddings") / f"{key}.npz"


def _cache_load(key: str, expected: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray] | None:
    try:
        path = _cache_path(key)
    except OSError:  # no usable cache folder: _cache_save says so once
        return None
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in expected}
    except (OSError, ValueError, KeyError, EOFError):
        return None  # unreadable or from another version: recompute and overwrite
    for name, shape in expected.items():
        array = arrays[name]
        if array.ndim != len(shape) or any(
            want >= 0 and want != got for want, got in zip(shape, array.shape, strict=True)
        ):
            return None
    return arrays


def _cache_save(key: str, arrays: dict[str, np.ndarray], info: dict[str, Any]) -> None:
    from reassess.store.atomic import atomic_write, describe_os_error

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, info=np.array(json.dumps(info)), **arrays)

    try:
        atomic_write(_cache_path(key), write)
    except OSError as exc:  # a read-only or full cache: the embeddings are used, not kept
        warnings.warn(
            f"text embeddings not cached ({describe_os_error(exc)}); they are computed again "
            "next time",
            stacklevel=2,
        )


TextEncoder = Callable[[list[str]], Any]


def _encode_all(
    encode: TextEncoder, texts: list[str], *, batch_size: int, progress: bool, label: str
) -> np.ndarray:
    import torch

    out = []
    with _progress_bar(progress, label) as bar, torch.inference_mode():
        task = bar.add_task("texts", total=len(texts))
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            out.append(torch.as_tensor(encode(batch)).float().cpu().numpy())
            bar.update(task, advance=len(batch))
    return np.concatenate(out).astype(np.float32)


def _offsets(class_texts: Sequence[Sequence[str]]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([len(t) for t in class_texts])]).astype(np.int64)


def text_embeddings(
    encode: TextEncoder,
    fingerprint: str,
    class_texts: Sequence[Sequence[str]],
    *,
    batch_size: int = 256,
    progress: bool = True,
    save: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Unit embeddings of every prompt, class by class: ``(M, D)``, offsets, cache info.

    Read from the cache when there; else encoded and, with ``save``, cached (M rows can be large:
    80 templates x 1000 classes).
    """
    key = _cache_key("texts", fingerprint, class_texts)
    offsets = _offsets(class_texts)
    cached = _cache_load(key, {"embeddings": (int(offsets[-1]), -1)})
    if cached is not None:
        return cached["embeddings"], offsets, {"key": key, "hit": True}
    flat = [t for texts in class_texts for t in texts]
    unit = _normalize_rows(
        _encode_all(encode, flat, batch_size=batch_size, progress=progress, label="prompts")
    ).astype(np.float32)
    if save:
        _cache_save(key, {"embeddings": unit}, {"model": fingerprint, "classes": len(class_texts)})
    return unit, offsets, {"key": key, "hit": False}


def zero_shot_weights(
    encode: TextEncoder,
    fingerprint: str,
    class_texts: Sequence[Sequence[str]],
    *,
    batch_size: int = 256,
    progress: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """(C, D) ensembled class weights for ``class_texts`` (cached per model and exact texts)."""
    key = _cache_key("classifier", fingerprint, class_texts)
    cached = _cache_load(key, {"weights": (len(class_texts), -1)})
    if cached is not None:
        return cached["weights"], {"key": key, "hit": True}
    unit, offsets, texts_cache = text_embeddings(
        encode, fingerprint, class_texts, batch_size=batch_size, progress=progress, save=False
    )
    weights = ensemble_class_weights(unit, offsets)
    _cache_save(key, {"weights": weights}, {"model": fingerprint, "classes": len(class_texts)})
    return weights, {"key": key, "hit": texts_cache["hit"]}


def _progress_bar(enabled: bool, label: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
    )
