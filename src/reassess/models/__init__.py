"""Models: a registry of spec adapters that each return a module and its own preprocessing."""

from reassess.models.registry import (
    LoadedModel,
    ModelSpecError,
    create_model,
    model_families,
    register_model_family,
)

__all__ = [
    "LoadedModel",
    "ModelSpecError",
    "create_model",
    "model_families",
    "register_model_family",
]
