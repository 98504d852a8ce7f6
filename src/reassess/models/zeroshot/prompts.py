"""Prompts of a zero-shot classifier: CLIP's class names and templates, prompt and name files.

Class names and templates default to those of OpenAI's CLIP ImageNet evaluation (shipped in
``clip_data/imagenet_zeroshot.json``, derived from ``open_clip.zero_shot_metadata`` by
``scripts/build_clip_data.py``): 1000 names keyed by class index (two names repeat: "missile" is
classes 657 and 744, "sunglasses" 836 and 837), 80 templates (``openai``) or the 7-template subset
(``simple``). A prompts file (CuPL style, Pratt et al. 2023: class -> sentences) replaces the
templates or, with ``templates`` given too, is pooled with them; a class-names file renames classes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from reassess.labels.imagenet import NUM_CLASSES
from reassess.labels.resources import file_sha256

PLACEHOLDER = "{}"
TEMPLATE_SETS = ("openai", "simple", "none")
_WNID = re.compile(r"^n\d{8}$")


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
        sources["class_names_sha256"] = file_sha256(Path(class_names))
    extra = None
    if prompts is not None:
        extra = tuple(tuple(p) for p in load_prompts(Path(prompts), names))
        sources["prompts_file"] = str(prompts)
        sources["prompts_sha256"] = file_sha256(Path(prompts))
        if templates is None:
            templates = "none"
    label, template_list = load_templates(templates)
    if extra is None and not template_list:
        raise ValueError("--templates none needs a --prompts file: every class needs a prompt")
    if label not in TEMPLATE_SETS:
        sources["templates_sha256"] = file_sha256(Path(label))
    return PromptSet(tuple(names), tuple(template_list), extra, label, sources)
