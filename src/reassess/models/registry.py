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
    from reassess.models import builtin, zeroshot  # noqa: F401  (registers the built-in families)

    return dict(_FAMILIES)


def accepted_model_specs() -> str:
    return "; ".join(f"{', '.join(f.examples)} ({f.help})" for f in model_families().values())


def create_model(spec: str, options: dict[str, Any] | None = None) -> LoadedModel:
    """Create the model a spec names, e.g. ``lite0``, ``timm:resnet50``, ``open_clip:ViT-B-32@openai``.

    ``options`` (e.g. ``{"templates": "simple"}`` for a zero-shot model) go to families that take
    options; keys in :data:`CONTEXT_OPTIONS` are facts about the run that other families ignore.
    """
    families = model_families()
    name, sep, argument = spec.partition(":")
    family = families.get(name)
    if family is None:
        raise ModelSpecError(f"unknown model spec {spec!r}; accepted: {accepted_model_specs()}")
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
