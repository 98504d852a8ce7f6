"""One registry of model specs: ``family:argument`` -> a module and its own preprocessing.

Every adapter returns a :class:`LoadedModel`, whose ``data_config`` has timm's keys
(``input_size``, ``interpolation``, ``crop_pct``, ``crop_mode``, ``mean``, ``std``) so one transform
builder serves all families; :class:`PreprocessingOverrides` (timm validate.py's ``--img-size
--crop-pct --interpolation --mean --std``) replace fields of it. Torch is imported only when a model
is created. The family plugins register themselves when ``reassess.models`` is imported; this module
imports none of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from reassess.labels.imagenet import NUM_CLASSES


class ModelSpecError(ValueError):
    """A model spec reassess cannot resolve; the message lists what is accepted."""


@dataclass
class LoadedModel:
    """A classifier ready for inference: logits over ``num_classes`` ImageNet classes."""

    module: Any
    data_config: dict[str, Any]
    spec: str
    num_classes: int = NUM_CLASSES
    details: dict[str, Any] = field(default_factory=dict)
    # The only (height, width) the module accepts (a ViT's position embeddings), None if any size.
    fixed_input_size: tuple[int, int] | None = None

    def transform(self) -> Callable:
        """The eval transform (PIL image -> normalised tensor) from the model's own data config."""
        from timm.data import create_transform

        return create_transform(**self.data_config, is_training=False)

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "num_classes": self.num_classes, **self.details}


# The resize interpolations timm's eval transform accepts (timm.data.transforms.str_to_interp_mode).
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "box", "hamming", "lanczos")


@dataclass(frozen=True)
class PreprocessingOverrides:
    """User replacements for a model's own preprocessing, as timm validate.py's ``--img-size
    --crop-pct --interpolation --mean --std``; None keeps the model's value."""

    img_size: int | None = None
    crop_pct: float | None = None
    interpolation: str | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        """Check every set field; a bad one raises a one-line :class:`ModelSpecError`."""
        if self.img_size is not None and (
            isinstance(self.img_size, bool)
            or not isinstance(self.img_size, int)
            or self.img_size < 1
        ):
            raise ModelSpecError(
                f"image size must be a positive whole number, got {self.img_size!r}"
            )
        if self.crop_pct is not None:
            number = isinstance(self.crop_pct, int | float) and not isinstance(self.crop_pct, bool)
            if not number or not 0 < self.crop_pct <= 1:
                raise ModelSpecError(f"crop_pct must be in (0, 1], got {self.crop_pct!r}")
            object.__setattr__(self, "crop_pct", float(self.crop_pct))
        if self.interpolation is not None and self.interpolation not in INTERPOLATIONS:
            raise ModelSpecError(
                f"unknown interpolation {self.interpolation!r}; accepted: {', '.join(INTERPOLATIONS)}"
            )
        for name in ("mean", "std"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _channel_values(name, value))

    def describe(self) -> dict[str, Any]:
        """The fields that are set, by name, as JSON values (what run.json records)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in values.items() if v is not None
        }

    def apply(self, data_config: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``data_config`` with the set fields replacing the model's own values."""
        updated = dict(data_config)
        if self.img_size is not None:
            channels = data_config.get("input_size", (3,))[0]
            updated["input_size"] = (channels, self.img_size, self.img_size)
        for name in ("crop_pct", "interpolation", "mean", "std"):
            if getattr(self, name) is not None:
                updated[name] = getattr(self, name)
        return updated


def _channel_values(name: str, value: Any) -> tuple[float, float, float]:
    """``value`` as three finite floats (one per RGB channel); std must also be positive."""
    try:
        values = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ModelSpecError(f"{name} must be three numbers (R, G, B), got {value!r}") from None
    if len(values) != 3:
        raise ModelSpecError(f"{name} must be three numbers (R, G, B), got {len(values)} values")
    if not all(math.isfinite(v) for v in values) or (name == "std" and min(values) <= 0):
        kind = "positive numbers" if name == "std" else "finite numbers"
        raise ModelSpecError(f"{name} must be three {kind}, got {', '.join(map(str, values))}")
    return values


@dataclass(frozen=True)
class ModelFamily:
    name: str
    create: Callable[[str, str], LoadedModel]
    help: str
    examples: tuple[str, ...]
    takes_argument: bool = True
    options: tuple[str, ...] = ()


# Facts about the run that `reassess eval` passes with every model's options (the dataset, the
# device, ...): a family that takes no options ignores them, one that does may use them.
CONTEXT_OPTIONS = frozenset({"dataset", "device", "batch_size", "workers", "progress"})

_FAMILIES: dict[str, ModelFamily] = {}


def register_model_family(
    name: str,
    *,
    help: str,
    examples: tuple[str, ...],
    takes_argument: bool = True,
    options: tuple[str, ...] = (),
):
    """Decorator registering ``create(argument, spec) -> LoadedModel`` under a spec prefix.

    A family that names ``options`` is called as ``create(argument, spec, options=dict)``.
    """

    def decorate(create: Callable[..., LoadedModel]):
        _FAMILIES[name] = ModelFamily(name, create, help, examples, takes_argument, options)
        return create

    return decorate


def model_families() -> dict[str, ModelFamily]:
    """Every registered family by spec prefix (importing ``reassess.models`` registers them)."""
    return dict(_FAMILIES)


def accepted_model_specs() -> str:
    """One example per family, comma-separated and short enough for a one-line error."""
    from reassess.suggest import short_list

    examples = [f.examples[0] for f in model_families().values()]
    return f"{short_list(examples, more='see `reassess models`')} (list: reassess models)"


def unknown_model_spec_message(spec: str) -> str:
    """One line for a spec whose prefix names no family: the closest families, then a short list."""
    from reassess.suggest import unknown_name_message

    families = model_families()
    message = unknown_name_message(
        "model spec",
        spec.partition(":")[0],
        families,
        shown=[f.examples[0] for f in families.values()],
        more="see `reassess models`",
        quoted=repr(spec),
    )
    return f"{message} (list: reassess models)"


def create_model(
    spec: str,
    options: dict[str, Any] | None = None,
    *,
    preprocessing: PreprocessingOverrides | None = None,
) -> LoadedModel:
    """Create the model a spec names, e.g. ``lite0``, ``timm:resnet50``, ``open_clip:ViT-B-32@openai``.

    ``options`` (e.g. ``{"templates": "simple"}`` for a zero-shot model) go to families that take
    options; keys in :data:`CONTEXT_OPTIONS` are facts about the run that other families ignore.
    ``preprocessing`` replaces fields of the model's own data config (recorded in its details).
    """
    loaded = _create_family_model(spec, options)
    overrides = preprocessing.describe() if preprocessing is not None else {}
    if not overrides:
        return loaded
    size = preprocessing.img_size
    if size is not None and loaded.fixed_input_size not in (None, (size, size)):
        height, width = loaded.fixed_input_size
        raise ModelSpecError(
            f"{spec} takes only {height}x{width} input; image size {size} does not fit it"
        )
    loaded.data_config = preprocessing.apply(loaded.data_config)
    loaded.details["preprocessing_overrides"] = overrides
    return loaded


def _create_family_model(spec: str, options: dict[str, Any] | None) -> LoadedModel:
    """The family's own model for ``spec``, after checking the spec and the options it takes."""
    families = model_families()
    name, sep, argument = spec.partition(":")
    family = families.get(name)
    if family is None:
        raise ModelSpecError(unknown_model_spec_message(spec))
    if family.takes_argument and not argument:
        raise ModelSpecError(f"model spec {spec!r} needs a name, e.g. {family.examples[0]}")
    if not family.takes_argument and sep:
        raise ModelSpecError(f"model spec {name!r} takes no argument, got {spec!r}")
    options = {k: v for k, v in (options or {}).items() if v is not None}
    if family.options:
        unknown = sorted(set(options) - set(family.options) - CONTEXT_OPTIONS)
        if unknown:
            raise ModelSpecError(f"model spec {spec!r} takes no option {', '.join(unknown)}")
        return family.create(argument, spec, options=options)
    given = sorted(k for k, v in options.items() if k not in CONTEXT_OPTIONS and v is not False)
    if given:
        takers = ", ".join(f"{f.name}:" for f in families.values() if f.options)
        raise ModelSpecError(
            f"option {', '.join(given)} applies to zero-shot models ({takers}), not {spec!r}"
        )
    return family.create(argument, spec)
