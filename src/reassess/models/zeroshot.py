"""Zero-shot vision-language classifiers (CLIP and its successors) as ordinary reassess models.

``open_clip:ARCH@PRETRAINED`` and ``hf-clip:REPO`` build a 1000-way ImageNet classifier from a
contrastive image-text model (Radford et al. 2021, "Learning Transferable Visual Models From
Natural Language Supervision"), the way open_clip's ``build_zero_shot_classifier`` and
CLIP_benchmark's ``zero_shot_classifier`` do: for each class, every prompt (a template filled with
the class name) is encoded by the text tower and L2-normalised; the class weight is the mean of
those unit vectors, normalised again; an image's logits are ``logit_scale * <image unit vector,
class weight>``. The resulting module maps images to (N, 1000) logits, so stored predictions,
ReaL/multi-label metrics, mistakes and the report work unchanged.

Prompts. Class names and templates default to those of OpenAI's CLIP ImageNet evaluation (shipped
in ``clip_data/imagenet_zeroshot.json``, derived from ``open_clip.zero_shot_metadata`` by
``scripts/build_clip_data.py``): 1000 names keyed by class index (two names repeat: "missile" is
classes 657 and 744, "sunglasses" 836 and 837), 80 templates (``openai``) or the 7-template subset
(``simple``). A prompts file (CuPL style, Pratt et al. 2023: class -> sentences) replaces the
templates or, with ``templates`` given too, is pooled with them; a class-names file renames classes.

Prompt weighting (``prompt_weighting``): the zero-shot prompt ensembling of Allingham et al. 2023,
"A Simple Zero-shot Prompt Weighting Technique to Improve Prompt Ensembling in Text-Image Models"
(ICML), as in the authors' code (google/uncertainty-baselines, experimental/multimodal): each
template is scored on the unlabelled test images by its mean (over images) maximum (over classes)
logit after subtracting each (template, class) logit's mean over the images; templates whose score
lies more than 0.5 median absolute deviations above the median are kept (the paper's ImageNet
threshold) and weighted by the softmax of the scores. The paper also subtracts the mean logit over
20k LAION images; reassess has only the test images, i.e. the paper's "test" debiasing ablation.

Class subsets (ImageNet-A/-R, ObjectNet): the classifier is built on ``Dataset.class_subset`` only
and its logits are written back to those ImageNet indices, every other class scoring -inf.

Text embeddings are cached on disk (``cache_dir('text_embeddings')``) per model and exact prompt
texts, so the same model on ImageNet, ImageNetV2, ReaL... encodes its prompts once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from reassess.models.registry import LoadedModel, ModelSpecError, register_model_family

PLACEHOLDER = "{}"
TEMPLATE_SETS = ("openai", "simple", "none")
ZPE_THRESHOLD = 0.5  # MAD units above the median; Allingham et al. 2023 use 0.5 on ImageNet sets
CACHE_VERSION = 1
NUM_CLASSES = 1000
ZERO_SHOT_OPTIONS = (
    "templates",
    "prompts",
    "class_names",
    "prompt_weighting",
    "prompt_weighting_images",
    "class_subset",
    "text_batch_size",
)
_WNID = re.compile(r"^n\d{8}$")


# ----------------------------------------------------------------------------- prompts


@lru_cache(maxsize=1)
def clip_metadata() -> dict[str, Any]:
    """The shipped CLIP ImageNet class names and templates (see scripts/build_clip_data.py)."""
    path = Path(str(resources.files("reassess.models") / "clip_data" / "imagenet_zeroshot.json"))
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: shipped zero-shot data file is missing; reinstall reassess"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def clip_class_names() -> list[str]:
    """The 1000 class names used for CLIP's ImageNet evaluation, in class-index order."""
    return list(clip_metadata()["class_names"])


def clip_templates(name: str) -> list[str]:
    """A shipped template set: ``openai`` (80 templates), ``simple`` (7) or ``none`` (empty)."""
    if name == "none":
        return []
    sets = clip_metadata()["templates"]
    if name not in sets:
        raise ValueError(f"unknown template set {name!r}; choose openai, simple, none or a file")
    return list(sets[name])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc


def _class_index(key: str, names: Sequence[str], path: Path) -> list[int]:
    """Classes a file key names: an index ("657"), a WordNet id ("n03773504") or a class name."""
    from reassess.labels.imagenet import imagenet_classes

    if key.strip().isdigit():
        index = int(key)
        if not 0 <= index < NUM_CLASSES:
            raise ValueError(f"{path}: class index {key} is outside 0..{NUM_CLASSES - 1}")
        return [index]
    if _WNID.match(key):
        try:
            return [imagenet_classes().index_of(key)]
        except KeyError:
            raise ValueError(f"{path}: {key} is not an ImageNet-1k WordNet id") from None
    matches = [i for i, name in enumerate(names) if name == key]
    if not matches:
        raise ValueError(
            f"{path}: key {key!r} is neither a class index, a WordNet id nor a class name"
        )
    return matches


def load_class_names(path: Path | None) -> list[str]:
    """The 1000 class names to prompt with: CLIP's, with a file's renames applied.

    The file is a JSON object ``{class: name}`` (class = index, WordNet id or a CLIP class name
    that is not repeated), a JSON list of 1000 names, or a text file of 1000 lines.
    """
    names = clip_class_names()
    if path is None:
        return names
    path = Path(path)
    if path.suffix.lower() == ".json":
        data = _read_json(path)
    else:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: file not found")
        data = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        while data and not data[-1]:
            data.pop()
    if isinstance(data, list):
        if len(data) != NUM_CLASSES or not all(isinstance(n, str) and n.strip() for n in data):
            raise ValueError(
                f"{path}: expected {NUM_CLASSES} non-empty class names, one per class index, "
                f"got {len(data)}"
            )
        return [n.strip() for n in data]
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object {{class: name}} or a list of names")
    renamed = list(names)
    for key, name in data.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{path}: the name for {key!r} must be a non-empty string")
        targets = _class_index(str(key), names, path)
        if len(targets) > 1:
            raise ValueError(
                f"{path}: class name {key!r} is used by classes {targets}; key by index or "
                "WordNet id instead"
            )
        renamed[targets[0]] = name.strip()
    return renamed


def load_templates(value: str | Path | None) -> tuple[str, list[str]]:
    """``(label, templates)`` for a template-set name or a file (JSON list or one per line)."""
    if value is None:
        value = "openai"
    if isinstance(value, str) and value in TEMPLATE_SETS:
        return value, clip_templates(value)
    path = Path(value)
    if not path.is_file():
        raise ValueError(
            f"--templates {value}: not a template set (openai, simple, none) nor an existing file"
        )
    if path.suffix.lower() == ".json":
        templates = _read_json(path)
        if not isinstance(templates, list) or not all(isinstance(t, str) for t in templates):
            raise ValueError(f"{path}: expected a JSON list of template strings")
    else:
        templates = [t.strip() for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
    if not templates:
        raise ValueError(f"{path}: no templates")
    bad = [t for t in templates if PLACEHOLDER not in t]
    if bad:
        raise ValueError(f"{path}: template {bad[0]!r} has no {PLACEHOLDER} for the class name")
    return str(path), templates


def load_prompts(path: Path, class_names: Sequence[str]) -> list[list[str]]:
    """Per-class sentences from a CuPL-style JSON file ``{class: [sentence, ...]}``.

    A key is a class index, a WordNet id or a class name (in ``class_names``; a repeated name such
    as "sunglasses" applies to every class that has it). Classes the file does not name get [].
    """
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object {{class: [sentences]}}")
    prompts: list[list[str]] = [[] for _ in range(NUM_CLASSES)]
    for key, sentences in data.items():
        if isinstance(sentences, str):
            sentences = [sentences]
        if not isinstance(sentences, list) or not all(
            isinstance(s, str) and s.strip() for s in sentences
        ):
            raise ValueError(f"{path}: the value for {key!r} must be a list of non-empty strings")
        for index in _class_index(str(key), class_names, path):
            prompts[index].extend(s.strip() for s in sentences)
    return prompts


@dataclass(frozen=True)
class PromptSet:
    """What a zero-shot classifier is built from: class names, shared templates, extra sentences."""

    class_names: tuple[str, ...]
    templates: tuple[str, ...]
    extra: tuple[tuple[str, ...], ...] | None
    template_label: str
    sources: dict[str, Any] = field(default_factory=dict)

    def texts(self, index: int) -> list[str]:
        """Every prompt of class ``index``: templates filled with its name, then its sentences."""
        filled = [t.replace(PLACEHOLDER, self.class_names[index]) for t in self.templates]
        return filled + (list(self.extra[index]) if self.extra is not None else [])


def build_prompt_set(
    templates: str | Path | None = None,
    prompts: Path | None = None,
    class_names: Path | None = None,
) -> PromptSet:
    """Resolve the prompt options: templates default to ``openai``, or ``none`` with a prompts file."""
    names = load_class_names(class_names)
    sources: dict[str, Any] = {}
    if class_names is not None:
        sources["class_names_file"] = str(class_names)
        sources["class_names_sha256"] = _sha256(Path(class_names))
    extra = None
    if prompts is not None:
        extra = tuple(tuple(p) for p in load_prompts(Path(prompts), names))
        sources["prompts_file"] = str(prompts)
        sources["prompts_sha256"] = _sha256(Path(prompts))
        if templates is None:
            templates = "none"
    label, template_list = load_templates(templates)
    if extra is None and not template_list:
        raise ValueError("--templates none needs a --prompts file: every class needs a prompt")
    if label not in TEMPLATE_SETS:
        sources["templates_sha256"] = _sha256(Path(label))
    return PromptSet(tuple(names), tuple(template_list), extra, label, sources)


# ----------------------------------------------------------------------------- maths


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


# ----------------------------------------------------------------------------- text cache


def _cache_key(kind: str, fingerprint: str, class_texts: Sequence[Sequence[str]]) -> str:
    digest = hashlib.sha256(
        json.dumps({"version": CACHE_VERSION, "kind": kind, "model": fingerprint}).encode()
    )
    for texts in class_texts:
        digest.update(json.dumps(list(texts), ensure_ascii=False).encode())
        digest.update(b"\n")
    return f"{kind}-{digest.hexdigest()[:40]}"


def _cache_path(key: str) -> Path:
    from reassess.cache import cache_dir

    return cache_dir("text_embeddings") / f"{key}.npz"


def _cache_load(key: str, expected: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray] | None:
    try:
        path = _cache_path(key)
    except OSError:  # no usable cache folder: _cache_save says so once
        return None
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in expected}
    except (OSError, ValueError, KeyError, EOFError):
        return None  # unreadable or from another version: recompute and overwrite
    for name, shape in expected.items():
        array = arrays[name]
        if array.ndim != len(shape) or any(
            want >= 0 and want != got for want, got in zip(shape, array.shape, strict=True)
        ):
            return None
    return arrays


def _cache_save(key: str, arrays: dict[str, np.ndarray], info: dict[str, Any]) -> None:
    from reassess.store.atomic import atomic_write, describe_os_error

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, info=np.array(json.dumps(info)), **arrays)

    try:
        atomic_write(_cache_path(key), write)
    except OSError as exc:  # a read-only or full cache: the embeddings are used, not kept
        warnings.warn(
            f"text embeddings not cached ({describe_os_error(exc)}); they are computed again "
            "next time",
            stacklevel=2,
        )


TextEncoder = Callable[[list[str]], Any]


def _encode_all(
    encode: TextEncoder, texts: list[str], *, batch_size: int, progress: bool, label: str
) -> np.ndarray:
    import torch

    out = []
    with _progress_bar(progress, label) as bar, torch.inference_mode():
        task = bar.add_task("texts", total=len(texts))
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            out.append(torch.as_tensor(encode(batch)).float().cpu().numpy())
            bar.update(task, advance=len(batch))
    return np.concatenate(out).astype(np.float32)


def _offsets(class_texts: Sequence[Sequence[str]]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([len(t) for t in class_texts])]).astype(np.int64)


def text_embeddings(
    encode: TextEncoder,
    fingerprint: str,
    class_texts: Sequence[Sequence[str]],
    *,
    batch_size: int = 256,
    progress: bool = True,
    save: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Unit embeddings of every prompt, class by class: ``(M, D)``, offsets, cache info.

    Read from the cache when there; else encoded and, with ``save``, cached (M rows can be large:
    80 templates x 1000 classes).
    """
    key = _cache_key("texts", fingerprint, class_texts)
    offsets = _offsets(class_texts)
    cached = _cache_load(key, {"embeddings": (int(offsets[-1]), -1)})
    if cached is not None:
        return cached["embeddings"], offsets, {"key": key, "hit": True}
    flat = [t for texts in class_texts for t in texts]
    unit = _normalize_rows(
        _encode_all(encode, flat, batch_size=batch_size, progress=progress, label="prompts")
    ).astype(np.float32)
    if save:
        _cache_save(key, {"embeddings": unit}, {"model": fingerprint, "classes": len(class_texts)})
    return unit, offsets, {"key": key, "hit": False}


def zero_shot_weights(
    encode: TextEncoder,
    fingerprint: str,
    class_texts: Sequence[Sequence[str]],
    *,
    batch_size: int = 256,
    progress: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """(C, D) ensembled class weights for ``class_texts`` (cached per model and exact texts)."""
    key = _cache_key("classifier", fingerprint, class_texts)
    cached = _cache_load(key, {"weights": (len(class_texts), -1)})
    if cached is not None:
        return cached["weights"], {"key": key, "hit": True}
    unit, offsets, texts_cache = text_embeddings(
        encode, fingerprint, class_texts, batch_size=batch_size, progress=progress, save=False
    )
    weights = ensemble_class_weights(unit, offsets)
    _cache_save(key, {"weights": weights}, {"model": fingerprint, "classes": len(class_texts)})
    return weights, {"key": key, "hit": texts_cache["hit"]}


# ----------------------------------------------------------------------------- torch modules


@lru_cache(maxsize=1)
def _torch_modules():
    """nn.Module classes, defined on first use so importing this module does not import torch."""
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

    return ZeroShotClassifier, OpenClipImageFeatures, HFClipImageFeatures


def _features(out):
    import torch

    return out if isinstance(out, torch.Tensor) else out.pooler_output


def _progress_bar(enabled: bool, label: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
    )


# ----------------------------------------------------------------------------- backbones


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
            identity.append(hashlib.sha256(config.read_bytes()).hexdigest())
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
    try:
        model, _, _ = open_clip.create_model_and_transforms(
            name, pretrained=pretrained or None, device=device
        )
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

    _, image_features, _ = _torch_modules()
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
    try:
        model = transformers.CLIPModel.from_pretrained(repo)
        tokenizer = transformers.AutoTokenizer.from_pretrained(repo)
        processor = transformers.AutoImageProcessor.from_pretrained(repo)
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
    _, _, image_features = _torch_modules()
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


# ----------------------------------------------------------------------------- building


def _embed_images(
    backbone: ClipBackbone, dataset: Any, options: dict[str, Any], device: str
) -> np.ndarray:
    """Unit image embeddings of the (unlabelled) test images, for prompt weighting."""
    import torch
    from timm.data import create_transform
    from torch.utils.data import DataLoader, Subset

    from reassess.inference.loader import ImageFiles, collate_skipping_failures

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
    """Build the zero-shot ImageNet classifier of a contrastive model (see the module docstring).

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

    classifier_cls, _, _ = _torch_modules()
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
