"""Models: a registry of spec adapters that each return a module and its own preprocessing.

The registry is imported first; the plugin modules after it register their families, so importing
anything from ``reassess.models`` registers every family once (torch loads only when one is created).
"""

from reassess.models.registry import (
    LoadedModel,
    ModelSpecError,
    PreprocessingOverrides,
    create_model,
    model_families,
    register_model_family,
)

# isort: split
from reassess.models import builtin, zeroshot  # noqa: F401  (each registers its families)

__all__ = [
    "LoadedModel",
    "ModelSpecError",
    "PreprocessingOverrides",
    "create_model",
    "model_families",
    "register_model_family",
]
