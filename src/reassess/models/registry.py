"""One registry of model specs: ``family:argument`` -> a module and its own preprocessing.

Every adapter returns a :class:`LoadedModel`, whose ``data_config`` has timm's keys
(``input_size``, ``interpolation``, ``crop_pct``, ``crop_mode``, ``mean``, ``std``) so one transform
builder serves all families. Torch is imported only when a model is created.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ModelSpecError(ValueError):
    """A model spec reassess cannot resolve; the message lists what is accepted."""


@dataclass
class LoadedModel:
    """A classifier ready for inference: logits over ``num_classes`` ImageNet classes."""

    module: Any
    data_config: dict[str, Any]
    spec: str
    num_classes: int = 1000
    details: dict[str, Any] = field(default_factory=dict)

    def transform(self) -> Callable:
        """The eval transform (PIL image -> normalised tensor) from the model's own data config."""
        from timm.data import create_transform

        return create_transform(**self.data_config, is_training=False)

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "num_classes": self.num_classes, **self.details}


@dataclass(frozen=True)
class ModelFamily:
    name: str
    create: Callable[[str, str], LoadedModel]
    help: str
    examples: tuple[str, ...]
    takes_argument: bool = True


_FAMILIES: dict[str, ModelFamily] = {}


def register_model_family(
    name: str, *, help: str, examples: tuple[str, ...], takes_argument: bool = True
):
    """Decorator registering ``create(argument, spec) -> LoadedModel`` under a spec prefix."""

    def decorate(create: Callable[[str, str], LoadedModel]):
        _FAMILIES[name] = ModelFamily(name, create, help, examples, takes_argument)
        return create

    return decorate


def model_families() -> dict[str, ModelFamily]:
    from reassess.models import builtin  # noqa: F401  (registers the built-in families)

    return dict(_FAMILIES)


def accepted_model_specs() -> str:
    return "; ".join(f"{', '.join(f.examples)} ({f.help})" for f in model_families().values())


def create_model(spec: str) -> LoadedModel:
    """Create the model a spec names, e.g. ``lite0``, ``timm:resnet50``, ``torchvision:resnet50``."""
    families = model_families()
    name, sep, argument = spec.partition(":")
    family = families.get(name)
    if family is None:
        raise ModelSpecError(f"unknown model spec {spec!r}; accepted: {accepted_model_specs()}")
    if family.takes_argument and not argument:
        raise ModelSpecError(f"model spec {spec!r} needs a name, e.g. {family.examples[0]}")
    if not family.takes_argument and sep:
        raise ModelSpecError(f"model spec {name!r} takes no argument, got {spec!r}")
    return family.create(argument, spec)
