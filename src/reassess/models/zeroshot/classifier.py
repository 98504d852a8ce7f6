"""The zero-shot head: a 1000-way ImageNet classifier from a CLIP backbone, and its two families.

Class subsets (ImageNet-A/-R, ObjectNet): the classifier is built on ``Dataset.class_subset`` only
and its logits are written back to those ImageNet indices, every other class scoring -inf.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from reassess.models.registry import LoadedModel, register_model_family
from reassess.models.zeroshot.backbones import (
    ClipBackbone,
    _resolve_device,
    load_hf_clip,
    load_open_clip,
)
from reassess.models.zeroshot.prompts import NUM_CLASSES, build_prompt_set
from reassess.models.zeroshot.text_cache import _progress_bar, text_embeddings, zero_shot_weights
from reassess.models.zeroshot.weighting import (
    _normalize_rows,
    ensemble_class_weights,
    zpe_weighting,
)

ZERO_SHOT_OPTIONS = (
    "templates",
    "prompts",
    "class_names",
    "prompt_weighting",
    "prompt_weighting_images",
    "class_subset",
    "text_batch_size",
)


@lru_cache(maxsize=1)
def _classifier_module():
    """The head nn.Module, defined on first use so importing this module does not import torch."""
    import torch
    import torch.nn.functional as F

    class ZeroShotClassifier(torch.nn.Module):
        """Images -> (N, num_outputs) logits: ``logit_scale * <unit image embedding, class weight>``.

        Classes outside ``class_indices`` (a class subset) score -inf.
        """

        def __init__(
            self,
            image_encoder: torch.nn.Module,
            class_weights: np.ndarray,
            logit_scale: float,
            class_indices: np.ndarray,
            num_outputs: int = NUM_CLASSES,
        ) -> None:
            super().__init__()
            self.image_encoder = image_encoder
            self.register_buffer("class_weights", torch.as_tensor(class_weights).float().T.clone())
            self.register_buffer("class_indices", torch.as_tensor(class_indices, dtype=torch.long))
            self.logit_scale = float(logit_scale)
            self.num_outputs = num_outputs
            self.full = len(class_indices) == num_outputs and bool(
                np.array_equal(class_indices, np.arange(num_outputs))
            )

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            features = F.normalize(self.image_encoder(images).float(), dim=-1)
            logits = self.logit_scale * features @ self.class_weights
            if self.full:
                return logits
            out = logits.new_full((len(logits), self.num_outputs), float("-inf"))
            out[:, self.class_indices] = logits
            return out

    return ZeroShotClassifier


def _embed_images(
    backbone: ClipBackbone, dataset: Any, options: dict[str, Any], device: str
) -> np.ndarray:
    """Unit image embeddings of the (unlabelled) test images, for prompt weighting."""
    import torch
    from timm.data import create_transform
    from torch.utils.data import DataLoader, Subset

    from reassess.datasets.decoding import ImageFiles, collate_skipping_failures

    positions = np.arange(len(dataset))
    limit = options.get("prompt_weighting_images")
    if limit and limit < len(positions):
        positions = np.sort(np.random.default_rng(0).choice(positions, int(limit), replace=False))
    workers = options.get("workers")
    workers = max(1, min(8, os.cpu_count() or 2)) if workers is None else int(workers)
    transform = create_transform(**backbone.data_config, is_training=False)
    loader = DataLoader(
        Subset(ImageFiles(dataset.paths, transform), positions.tolist()),
        batch_size=int(options.get("batch_size", 64)),
        num_workers=workers,
        collate_fn=collate_skipping_failures,
    )
    encoder = backbone.image_encoder.to(device).eval()
    chunks = []
    with (
        _progress_bar(options.get("progress", True), "prompt weighting: images") as bar,
        torch.inference_mode(),
    ):
        task = bar.add_task("images", total=len(positions))
        for images, good, failed in loader:
            if images is not None:
                chunks.append(encoder(images.to(device)).float().cpu().numpy())
            bar.update(task, advance=len(good) + len(failed))
    if not chunks:
        raise ValueError(f"{dataset.spec}: no readable image to score prompt templates on")
    return _normalize_rows(np.concatenate(chunks)).astype(np.float32)


def create_zero_shot(
    load: Callable[[str, str, str], ClipBackbone],
    argument: str,
    spec: str,
    options: dict[str, Any] | None = None,
) -> LoadedModel:
    """Build the zero-shot ImageNet classifier of a contrastive model (see the package docstring).

    ``options``: templates (openai|simple|none|file), prompts (JSON file), class_names (file),
    prompt_weighting (bool), prompt_weighting_images (int: score on a seeded sample), class_subset
    (ImageNet indices), plus the run's context: dataset (its ``class_subset`` and, for prompt
    weighting, its images), device, batch_size, workers, progress.
    """
    options = dict(options or {})
    prompt_set = build_prompt_set(
        options.get("templates"), options.get("prompts"), options.get("class_names")
    )
    dataset = options.get("dataset")
    subset = options.get("class_subset")
    if subset is None and dataset is not None:
        subset = getattr(dataset, "class_subset", None)
    classes = np.arange(NUM_CLASSES) if subset is None else np.asarray(subset, dtype=np.int64)
    if classes.ndim != 1 or len(classes) == 0 or len(np.unique(classes)) != len(classes):
        raise ValueError("class subset must be a non-empty list of distinct ImageNet indices")
    if classes.min() < 0 or classes.max() >= NUM_CLASSES:
        raise ValueError(f"class subset indices must lie in 0..{NUM_CLASSES - 1}")
    class_texts = [prompt_set.texts(int(c)) for c in classes]
    missing = [int(c) for c, texts in zip(classes, class_texts, strict=True) if not texts]
    if missing:
        shown = ", ".join(f"{c} ({prompt_set.class_names[c]})" for c in missing[:3])
        raise ValueError(
            f"{prompt_set.sources.get('prompts_file')}: no prompt for {len(missing)} of the "
            f"{len(classes)} classes in use, e.g. {shown}; add them or pool with --templates openai"
        )
    weighting = bool(options.get("prompt_weighting"))
    if weighting:
        if prompt_set.extra is not None or len(prompt_set.templates) < 2:
            raise ValueError(
                "--prompt-weighting scores shared templates: use it with a template set of two "
                "or more templates and without --prompts"
            )
        if dataset is None or not getattr(dataset, "has_images", False):
            raise ValueError("--prompt-weighting needs the test images (a data spec with a folder)")

    device = _resolve_device(options.get("device"))
    backbone = load(argument, spec, device)
    progress = bool(options.get("progress", True))
    batch_size = int(options.get("text_batch_size", 256))
    summary: list[str] = []
    if weighting:
        unit, offsets, cache = text_embeddings(
            backbone.encode_text,
            backbone.fingerprint,
            class_texts,
            batch_size=batch_size,
            progress=progress,
        )
        num_templates = len(prompt_set.templates)
        per_template = unit.reshape(len(classes), num_templates, -1).transpose(1, 0, 2)
        images = _embed_images(backbone, dataset, options, device)
        result = zpe_weighting(images, per_template, backbone.logit_scale, device=device)
        text_weights = np.tile(np.where(result.kept, result.weights, 0.0), len(classes))
        class_weights = ensemble_class_weights(unit, offsets, text_weights)
        weighting_info = result.describe(prompt_set.templates)
        kept = weighting_info["kept"]
        summary.append(
            f"prompt weighting kept {len(kept)} of {num_templates} templates "
            f"(scored on {result.num_images} images): " + "; ".join(kept)
        )
    else:
        class_weights, cache = zero_shot_weights(
            backbone.encode_text,
            backbone.fingerprint,
            class_texts,
            batch_size=batch_size,
            progress=progress,
        )
        weighting_info = None

    classifier_cls = _classifier_module()
    module = classifier_cls(backbone.image_encoder, class_weights, backbone.logit_scale, classes)
    zero_shot = {
        "templates": prompt_set.template_label,
        "num_templates": len(prompt_set.templates),
        **prompt_set.sources,
        "num_classes": len(classes),
        "class_subset": None if subset is None else classes.tolist(),
        "prompts_encoded": int(sum(len(t) for t in class_texts)),
        "logit_scale": round(backbone.logit_scale, 6),
        "text_cache": cache,
        "prompt_weighting": weighting_info,
    }
    return LoadedModel(
        module=module.eval(),
        data_config=backbone.data_config,
        spec=spec,
        num_classes=NUM_CLASSES,
        details={**backbone.details, "zero_shot": zero_shot, "summary": summary},
    )


@register_model_family(
    "open_clip",
    help="zero-shot CLIP-style model from open_clip: ARCH@TAG, ARCH@/weights file, or a config JSON",
    examples=(
        "open_clip:ViT-B-32@openai",
        "open_clip:ViT-L-14@datacomp_xl_s13b_b90k",
        "open_clip:ViT-B-32@/ckpt/open_clip_pytorch_model.bin",
        "open_clip:/cfg/my-clip.json@/ckpt/my-clip.pt",
    ),
    options=ZERO_SHOT_OPTIONS,
)
def create_open_clip(
    argument: str, spec: str, options: dict[str, Any] | None = None
) -> LoadedModel:
    """``open_clip:ARCH@PRETRAINED`` as a zero-shot ImageNet classifier."""
    return create_zero_shot(load_open_clip, argument, spec, options)


@register_model_family(
    "hf-clip",
    help="zero-shot transformers CLIPModel: a hub repo or a save_pretrained folder",
    examples=("hf-clip:openai/clip-vit-base-patch32", "hf-clip:/models/my-clip"),
    options=ZERO_SHOT_OPTIONS,
)
def create_hf_clip(argument: str, spec: str, options: dict[str, Any] | None = None) -> LoadedModel:
    """``hf-clip:REPO`` (transformers CLIPModel) as a zero-shot ImageNet classifier."""
    return create_zero_shot(load_hf_clip, argument, spec, options)
