"""CLIP backbones: towers, logit scale and preprocessing of open_clip and transformers models.

``open_clip:ARCH@PRETRAINED`` loads through ``open_clip.create_model_and_transforms`` and
``hf-clip:REPO`` through transformers' ``CLIPModel``; both become a :class:`ClipBackbone`, whose
``data_config`` is a timm-style config equal to the model's own eval preprocessing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from reassess.labels.resources import file_sha256
from reassess.models.registry import ModelSpecError
from reassess.models.zeroshot.text_cache import TextEncoder


@dataclass
class ClipBackbone:
    """What a contrastive model family provides: towers, logit scale, preprocessing, identity."""

    image_encoder: Any
    encode_text: TextEncoder
    logit_scale: float
    data_config: dict[str, Any]
    fingerprint: str
    details: dict[str, Any]


def _file_identity(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


_INTERPOLATIONS = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}


def open_clip_data_config(preprocess_cfg: dict[str, Any]) -> dict[str, Any]:
    """timm-style data config equal to open_clip's eval preprocessing (resize, crop, normalise)."""
    size = preprocess_cfg["size"]
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    mode = preprocess_cfg.get("resize_mode", "shortest")
    crop_mode = {"shortest": "center", "squash": "squash", "longest": "border"}.get(mode)
    if crop_mode is None or (mode == "shortest" and height != width):
        raise ModelSpecError(f"open_clip resize mode {mode!r} at {size} is not supported")
    return {
        "input_size": (3, height, width),
        "interpolation": preprocess_cfg.get("interpolation", "bicubic"),
        "crop_pct": 1.0,
        "crop_mode": crop_mode,
        "mean": tuple(float(m) for m in preprocess_cfg["mean"]),
        "std": tuple(float(s) for s in preprocess_cfg["std"]),
    }


def _need(package: str, spec: str):
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise ModelSpecError(
            f"{spec} needs the package {package}: pip install 'reassess[clip]'"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _resolve_device(name: str | None) -> str:
    import torch

    if not name or name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def open_clip_weights(arch: str, pretrained: str, spec: str):
    """Where open_clip takes ``arch@pretrained``'s weights from, as its ``download_pretrained``
    resolves them (hub repo first, else the URL into ~/.cache/clip); None for a local file."""
    import open_clip
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    from reassess.models.hub import Weights

    hint = f"or pass a weights file: open_clip:{arch}@/path/to/weights.bin"
    if arch.startswith("hf-hub:"):
        repo = arch[len("hf-hub:") :].split("@")[0]
        names = (HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME)
        return Weights(spec, repo, names, required=("open_clip_config.json",), hint=hint)
    cfg = open_clip.get_pretrained_cfg(arch, pretrained) if pretrained else {}
    if not cfg or "file" in cfg:
        return None
    if cfg.get("hf_hub"):
        repo, filename = os.path.split(cfg["hf_hub"])
        names = (filename,) if filename else (HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME)
        return Weights(spec, repo, names, hint=hint)
    if cfg.get("url"):
        cache = Path("~/.cache/clip").expanduser() / os.path.basename(cfg["url"])
        return Weights(spec, url=cfg["url"], url_cache=cache, hint=hint)
    return None


def load_open_clip(argument: str, spec: str, device: str) -> ClipBackbone:
    """``ARCH@PRETRAINED`` through ``open_clip.create_model_and_transforms`` (tag or local file).

    ARCH is a built-in open_clip architecture, the path of an open_clip model-config JSON (added
    with ``open_clip.add_model_config``), ``hf-hub:ORG/REPO`` or ``local-dir:/folder``.
    """
    open_clip = _need("open_clip", spec)
    import pickle

    arch, _, pretrained = argument.partition("@")
    identity: list[str] = []
    schema = arch.split(":", 1)[0] if arch.startswith(("hf-hub:", "local-dir:")) else None
    if schema:
        if pretrained:
            raise ModelSpecError(f"{spec}: {schema}: names its own weights; drop @{pretrained}")
        if schema == "local-dir":
            folder = Path(arch.split(":", 1)[1]).expanduser()
            if not folder.is_dir():
                raise ModelSpecError(f"{folder}: no such folder (from model spec {spec!r})")
            identity += [_file_identity(f) for f in sorted(folder.iterdir()) if f.is_file()]
        name = arch
        weights = arch
    else:
        if arch.lower().endswith(".json"):
            config = Path(arch).expanduser()
            if not config.is_file():
                raise ModelSpecError(f"{config}: model config not found (from model spec {spec!r})")
            open_clip.add_model_config(config)
            name = config.stem
            if open_clip.get_model_config(name) is None:
                raise ModelSpecError(
                    f"{config}: not an open_clip model config (needs embed_dim, vision_cfg, "
                    "text_cfg)"
                )
            identity.append(file_sha256(config))
        else:
            name = arch
            if name not in open_clip.list_models():
                import difflib

                close = difflib.get_close_matches(name, open_clip.list_models(), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise ModelSpecError(f"open_clip has no architecture {name!r}{hint}")
        tags = open_clip.list_pretrained_tags_by_model(name)
        if not pretrained:
            shown = f" (tags: {', '.join(tags[:6])})" if tags else ""
            raise ModelSpecError(
                f"{spec} needs weights: open_clip:{arch}@TAG{shown} or @/path/to/weights.pt"
            )
        if pretrained in tags:
            weights = pretrained
        else:
            path = Path(pretrained).expanduser()
            if not path.is_file():
                hint = f"; tags for {name}: {', '.join(tags)}" if tags else ""
                raise ModelSpecError(
                    f"{pretrained}: neither an open_clip pretrained tag nor a file{hint}"
                )
            pretrained = str(path)
            weights = str(path)
            identity.append(_file_identity(path))
    from reassess.models.hub import WeightsUnavailable, hub_weights

    try:
        with hub_weights(open_clip_weights(arch, pretrained, spec)):
            model, _, _ = open_clip.create_model_and_transforms(
                name, pretrained=pretrained or None, device=device
            )
    except WeightsUnavailable:
        raise
    except (RuntimeError, OSError, ValueError, KeyError, pickle.UnpicklingError) as exc:
        message = _first_line(exc)
        if "download" in message.lower() or "hf hub" in message.lower():
            raise ModelSpecError(
                f"could not fetch open_clip weights for {spec} ({message}); offline, download "
                f"them elsewhere and pass the file: open_clip:{arch}@/path/to/weights.bin"
            ) from exc
        raise ModelSpecError(
            f"{weights}: could not load into open_clip {name} ({message})"
        ) from exc
    model.eval()
    tokenizer = open_clip.get_tokenizer(name)

    def encode_text(texts: list[str]):
        return model.encode_text(tokenizer(texts).to(device))

    image_features, _ = _image_feature_modules()
    version = getattr(open_clip, "__version__", "?")
    return ClipBackbone(
        image_encoder=image_features(model),
        encode_text=encode_text,
        logit_scale=float(model.logit_scale.exp().item()),
        data_config=open_clip_data_config(model.visual.preprocess_cfg),
        fingerprint="|".join(["open_clip", name, weights, *identity]),
        details={
            "family": "open_clip",
            "architecture": name,
            "weights": weights,
            "open_clip": version,
        },
    )


def hf_clip_data_config(processor: Any) -> dict[str, Any]:
    """timm-style data config equal to a transformers CLIP image processor's resize/crop/normalise."""

    def get(obj: Any, key: str) -> Any:
        return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)

    size, crop = processor.size, getattr(processor, "crop_size", None)
    rescale = getattr(processor, "rescale_factor", 1 / 255)
    if not getattr(processor, "do_rescale", True) or abs(rescale - 1 / 255) > 1e-9:
        raise ModelSpecError("image processors that do not rescale pixels by 1/255 are unsupported")
    resample = getattr(processor, "resample", 3)
    interpolation = _INTERPOLATIONS.get(int(resample) if resample is not None else 3, "bicubic")
    mean, std = tuple(processor.image_mean), tuple(processor.image_std)
    shortest = get(size, "shortest_edge")
    if shortest and getattr(processor, "do_center_crop", False) and crop is not None:
        height, width = int(get(crop, "height")), int(get(crop, "width"))
        if height != width:
            raise ModelSpecError(f"non-square crop {height}x{width} is not supported")
        return {
            "input_size": (3, height, width),
            "interpolation": interpolation,
            "crop_pct": height / int(shortest),
            "crop_mode": "center",
            "mean": mean,
            "std": std,
        }
    height, width = get(size, "height"), get(size, "width")
    if height and width:
        return {
            "input_size": (3, int(height), int(width)),
            "interpolation": interpolation,
            "crop_pct": 1.0,
            "crop_mode": "squash",
            "mean": mean,
            "std": std,
        }
    raise ModelSpecError(f"unsupported image processor size {size} / crop {crop}")


def load_hf_clip(argument: str, spec: str, device: str) -> ClipBackbone:
    """A transformers ``CLIPModel`` (hub repo or a folder saved with ``save_pretrained``)."""
    transformers = _need("transformers", spec)
    repo = argument
    local = Path(repo).expanduser()
    identity: list[str] = []
    if local.is_dir():
        repo = str(local)
        identity = [_file_identity(f) for f in sorted(local.iterdir()) if f.is_file()]
    from reassess.models.hub import Weights, WeightsUnavailable, hub_weights

    weights = None
    if not local.is_dir() and "/" in repo:
        names = (
            "model.safetensors",
            "model.safetensors.index.json",
            "pytorch_model.bin",
            "pytorch_model.bin.index.json",
        )
        hint = "or pass a folder saved with save_pretrained"
        weights = Weights(spec, repo, names, required=("config.json",), hint=hint)
    try:
        with hub_weights(weights):
            model = transformers.CLIPModel.from_pretrained(repo)
            tokenizer = transformers.AutoTokenizer.from_pretrained(repo)
            processor = transformers.AutoImageProcessor.from_pretrained(repo)
    except WeightsUnavailable:
        raise
    except (OSError, ValueError) as exc:
        raise ModelSpecError(
            f"could not load hf-clip model {repo!r} ({_first_line(exc)}); offline, pass a local "
            "folder saved with save_pretrained (model, tokenizer and image processor)"
        ) from exc
    model = model.to(device).eval()
    max_length = int(model.config.text_config.max_position_embeddings)

    def encode_text(texts: list[str]):
        batch = tokenizer(
            texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ).to(device)
        return _features(model.get_text_features(**batch))

    commit = getattr(model.config, "_commit_hash", None)
    _, image_features = _image_feature_modules()
    return ClipBackbone(
        image_encoder=image_features(model),
        encode_text=encode_text,
        logit_scale=float(model.logit_scale.exp().item()),
        data_config=hf_clip_data_config(processor),
        fingerprint="|".join(["hf-clip", repo, str(commit), *identity]),
        details={
            "family": "hf-clip",
            "repo": repo,
            "revision": commit,
            "transformers": transformers.__version__,
        },
    )


CLIP_FAMILIES = ("open_clip", "hf-clip")


def load_clip_backbone(spec: str, device: str | None = None) -> ClipBackbone:
    """The two towers of ``open_clip:ARCH@PRETRAINED`` or ``hf-clip:REPO``, for uses beyond the
    1000-way classifier (the out-of-vocabulary check of ``reassess analyze --oov-clip``)."""
    family, _, argument = spec.partition(":")
    if family not in CLIP_FAMILIES or not argument:
        raise ModelSpecError(
            f"{spec!r}: a CLIP model spec is open_clip:ARCH@PRETRAINED or hf-clip:REPO"
        )
    load = load_open_clip if family == "open_clip" else load_hf_clip
    return load(argument, spec, _resolve_device(device))


@lru_cache(maxsize=1)
def _image_feature_modules():
    """The image-tower nn.Modules, defined on first use so importing this does not import torch."""
    import torch

    class OpenClipImageFeatures(torch.nn.Module):
        """An open_clip model's ``encode_image``."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            out = self.model.encode_image(images)
            return out[0] if isinstance(out, tuple) else out

    class HFClipImageFeatures(torch.nn.Module):
        """A transformers CLIPModel's ``get_image_features`` (a tensor or, in v5, its pooler)."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return _features(self.model.get_image_features(pixel_values=pixel_values))

    return OpenClipImageFeatures, HFClipImageFeatures


def _features(out):
    import torch

    return out if isinstance(out, torch.Tensor) else out.pooler_output
