"""Class weights from prompt embeddings: CLIP's prompt ensembling and ZPE prompt weighting.

Prompt weighting (``prompt_weighting``): the zero-shot prompt ensembling of Allingham et al. 2023,
"A Simple Zero-shot Prompt Weighting Technique to Improve Prompt Ensembling in Text-Image Models"
(ICML), as in the authors' code (google/uncertainty-baselines, experimental/multimodal): each
template is scored on the unlabelled test images by its mean (over images) maximum (over classes)
logit after subtracting each (template, class) logit's mean over the images; templates whose score
lies more than 0.5 median absolute deviations above the median are kept (the paper's ImageNet
threshold) and weighted by the softmax of the scores. The paper also subtracts the mean logit over
20k LAION images; reassess has only the test images, i.e. the paper's "test" debiasing ablation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ZPE_THRESHOLD = 0.5  # MAD units above the median; Allingham et al. 2023 use 0.5 on ImageNet sets


def _normalize_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("a text or class embedding has zero length; cannot normalise it")
    return x / norms


def ensemble_class_weights(
    embeddings: np.ndarray, offsets: np.ndarray, text_weights: np.ndarray | None = None
) -> np.ndarray:
    """Zero-shot class weights from prompt embeddings: normalise, (weighted) average, normalise.

    Parameters
    ----------
    embeddings : (M, D) array
        Text-tower outputs of every prompt, class by class (need not be normalised).
    offsets : (C + 1,) int array
        Class ``c``'s prompts are rows ``offsets[c]:offsets[c + 1]``.
    text_weights : (M,) array, optional
        Non-negative weight of each prompt (prompt weighting); equal weights if omitted.

    Returns
    -------
    (C, D) float32 array of unit class weights, as in CLIP's prompt ensembling (Radford et al.
    2021, section 3.1.4) and open_clip's ``build_zero_shot_classifier``.

    Examples
    --------
    >>> w = ensemble_class_weights(np.array([[1.0, 0], [0, 2.0], [0, 1.0]]), np.array([0, 2, 3]))
    >>> np.round(w.astype(float), 4).tolist()
    [[0.7071, 0.7071], [0.0, 1.0]]
    """
    unit = _normalize_rows(embeddings)
    offsets = np.asarray(offsets, dtype=np.int64)
    if np.any(np.diff(offsets) <= 0):
        raise ValueError("every class needs at least one prompt")
    weights = np.ones(len(unit)) if text_weights is None else np.asarray(text_weights, float)
    sums = np.add.reduceat(unit * weights[:, None], offsets[:-1], axis=0)
    totals = np.add.reduceat(weights, offsets[:-1])
    if np.any(totals <= 0):
        raise ValueError("a class has no prompt with positive weight")
    return _normalize_rows(sums / totals[:, None]).astype(np.float32)


@dataclass(frozen=True)
class PromptWeighting:
    """Scores, softmax weights and the kept templates of zero-shot prompt weighting (ZPE)."""

    scores: np.ndarray
    weights: np.ndarray
    kept: np.ndarray
    threshold: float
    num_images: int

    def describe(self, templates: Sequence[str]) -> dict[str, Any]:
        order = np.argsort(-self.scores, kind="stable")
        used = np.where(self.kept, self.weights, 0.0)
        used = used / used.sum()
        return {
            "method": "ZPE (Allingham et al. 2023), test-image debiasing, MAD selection",
            "threshold_mad": self.threshold,
            "num_images": self.num_images,
            "kept": [templates[i] for i in order if self.kept[i]],
            "dropped": [templates[i] for i in order if not self.kept[i]],
            "scores": {templates[i]: round(float(self.scores[i]), 4) for i in order},
            # The weights the classifier uses: softmax of the scores over the kept templates.
            "weights": {templates[i]: round(float(used[i]), 6) for i in order if self.kept[i]},
        }


def zpe_scores(
    image_embeddings: np.ndarray,
    template_embeddings: np.ndarray,
    logit_scale: float,
    *,
    chunk: int = 128,
    device: str = "cpu",
) -> np.ndarray:
    """Score each template on unlabelled images (Allingham et al. 2023, "test" debiasing).

    Parameters
    ----------
    image_embeddings : (N, D) array
        Image-tower outputs of the test images.
    template_embeddings : (T, C, D) array
        Text-tower output of template ``t`` filled with class ``c``.
    logit_scale : float
        The model's logit scale; scores are in logit units.

    Returns
    -------
    (T,) array: ``mean_x max_c [l(x, t, c) - mean_x' l(x', t, c)]`` with
    ``l = logit_scale * cos(image, prompt)``.
    """
    import torch

    images = torch.as_tensor(_normalize_rows(image_embeddings), dtype=torch.float32, device=device)
    t, c, d = np.shape(template_embeddings)
    prompts = _normalize_rows(np.reshape(template_embeddings, (t * c, d)))
    prompts = torch.as_tensor(prompts, dtype=torch.float32, device=device)
    # The mean logit over images is linear: logit_scale * <mean image, prompt>.
    mean_logits = logit_scale * (prompts @ images.mean(dim=0))
    total = torch.zeros(t, dtype=torch.float64, device=device)
    for start in range(0, len(images), chunk):
        logits = logit_scale * (images[start : start + chunk] @ prompts.T) - mean_logits
        total += logits.view(-1, t, c).amax(dim=2).sum(dim=0).double()
    return (total / len(images)).cpu().numpy()


def select_templates(scores: np.ndarray, threshold: float = ZPE_THRESHOLD) -> np.ndarray:
    """Templates kept by ZPE: score more than ``threshold`` median absolute deviations above the
    median (the authors' ``mad_method``). With no spread, those above the median; if none, all."""
    scores = np.asarray(scores, dtype=np.float64)
    median = np.median(scores)
    mad = np.median(np.abs(scores - median))
    kept = (scores - median) / mad > threshold if mad > 0 else scores > median
    return kept if kept.any() else np.ones(len(scores), dtype=bool)


def zpe_weighting(
    image_embeddings: np.ndarray,
    template_embeddings: np.ndarray,
    logit_scale: float,
    *,
    threshold: float = ZPE_THRESHOLD,
    device: str = "cpu",
) -> PromptWeighting:
    """Zero-shot prompt weighting: scores, kept templates and their softmax-of-score weights.

    Parameters
    ----------
    image_embeddings, template_embeddings, logit_scale
        As in :func:`zpe_scores`.
    threshold : float
        MAD units above the median a template must score to be kept (0.5: the paper's ImageNet
        setting).

    Returns
    -------
    PromptWeighting with ``weights`` = softmax(scores) over all templates (Allingham et al. 2023,
    "A Simple Zero-shot Prompt Weighting Technique to Improve Prompt Ensembling in Text-Image
    Models", ICML) and ``kept`` the selected templates.
    """
    scores = zpe_scores(image_embeddings, template_embeddings, logit_scale, device=device)
    shifted = np.exp(scores - scores.max())
    return PromptWeighting(
        scores=scores,
        weights=shifted / shifted.sum(),
        kept=select_templates(scores, threshold),
        threshold=threshold,
        num_images=len(image_embeddings),
    )
