"""Zero-shot vision-language classifiers (CLIP and its successors) as ordinary reassess models.

``open_clip:ARCH@PRETRAINED`` and ``hf-clip:REPO`` build a 1000-way ImageNet classifier from a
contrastive image-text model (Radford et al. 2021, "Learning Transferable Visual Models From
Natural Language Supervision"), the way open_clip's ``build_zero_shot_classifier`` and
CLIP_benchmark's ``zero_shot_classifier`` do: for each class, every prompt (a template filled with
the class name) is encoded by the text tower and L2-normalised; the class weight is the mean of
those unit vectors, normalised again; an image's logits are ``logit_scale * <image unit vector,
class weight>``. The resulting module maps images to (N, 1000) logits, so stored predictions,
ReaL/multi-label metrics, mistakes and the report work unchanged.

What lives where:

- :mod:`~reassess.models.zeroshot.prompts`: CLIP's class names and templates, prompt and
  class-name files, :class:`PromptSet`.
- :mod:`~reassess.models.zeroshot.weighting`: prompt ensembling into class weights and zero-shot
  prompt weighting (ZPE, Allingham et al. 2023).
- :mod:`~reassess.models.zeroshot.text_cache`: prompt embeddings, encoded once per model and exact
  texts and cached on disk.
- :mod:`~reassess.models.zeroshot.backbones`: the open_clip and transformers loaders, their
  preprocessing as timm data configs, :func:`load_clip_backbone`.
- :mod:`~reassess.models.zeroshot.classifier`: the zero-shot head, :func:`create_zero_shot` and the
  ``open_clip`` / ``hf-clip`` model families (importing this package registers them).

Every public name is also importable from ``reassess.models.zeroshot`` itself.
"""

from reassess.models.zeroshot.backbones import (
    CLIP_FAMILIES,
    ClipBackbone,
    hf_clip_data_config,
    load_clip_backbone,
    load_hf_clip,
    load_open_clip,
    open_clip_data_config,
)
from reassess.models.zeroshot.classifier import (  # registers the open_clip and hf-clip families
    ZERO_SHOT_OPTIONS,
    create_hf_clip,
    create_open_clip,
    create_zero_shot,
)
from reassess.models.zeroshot.prompts import (
    NUM_CLASSES,
    PLACEHOLDER,
    TEMPLATE_SETS,
    PromptSet,
    build_prompt_set,
    clip_class_names,
    clip_metadata,
    clip_templates,
    load_class_names,
    load_prompts,
    load_templates,
)
from reassess.models.zeroshot.text_cache import (
    CACHE_VERSION,
    TextEncoder,
    text_embeddings,
    zero_shot_weights,
)
from reassess.models.zeroshot.weighting import (
    ZPE_THRESHOLD,
    PromptWeighting,
    ensemble_class_weights,
    select_templates,
    zpe_scores,
    zpe_weighting,
)

__all__ = [
    "CACHE_VERSION",
    "CLIP_FAMILIES",
    "NUM_CLASSES",
    "PLACEHOLDER",
    "TEMPLATE_SETS",
    "ZERO_SHOT_OPTIONS",
    "ZPE_THRESHOLD",
    "ClipBackbone",
    "PromptSet",
    "PromptWeighting",
    "TextEncoder",
    "build_prompt_set",
    "clip_class_names",
    "clip_metadata",
    "clip_templates",
    "create_hf_clip",
    "create_open_clip",
    "create_zero_shot",
    "ensemble_class_weights",
    "hf_clip_data_config",
    "load_class_names",
    "load_clip_backbone",
    "load_hf_clip",
    "load_open_clip",
    "load_prompts",
    "load_templates",
    "open_clip_data_config",
    "select_templates",
    "text_embeddings",
    "zero_shot_weights",
    "zpe_scores",
    "zpe_weighting",
]
