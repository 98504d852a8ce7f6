"""Build reassess's zero-shot class names and prompt templates from open_clip's shipped metadata.

Run from the repository root: ``python scripts/build_clip_data.py`` (needs ``open_clip_torch``).

Source: ``open_clip.zero_shot_metadata`` (open_clip_torch, MIT license): ``IMAGENET_CLASSNAMES``
(the 1000 class names OpenAI curated for CLIP's ImageNet evaluation, in class-index order),
``OPENAI_IMAGENET_TEMPLATES`` (the 80 templates of CLIP's prompt-engineering notebook) and
``SIMPLE_IMAGENET_TEMPLATES`` (the 7-template subset from the same notebook). open_clip stores the
templates as lambdas; each is called with the placeholder ``{}`` so the data file holds plain strings.
The license text is copied beside the data.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "reassess" / "models" / "clip_data"
PLACEHOLDER = "{}"


def _as_strings(templates) -> list[str]:
    strings = [t(PLACEHOLDER) if callable(t) else t.replace("{c}", PLACEHOLDER) for t in templates]
    for s in strings:
        if s.count(PLACEHOLDER) != 1:
            raise ValueError(f"template {s!r} does not hold exactly one class-name slot")
    return strings


def build() -> Path:
    from open_clip import zero_shot_metadata as meta

    version = metadata.version("open_clip_torch")
    names = list(meta.IMAGENET_CLASSNAMES)
    if len(names) != 1000:
        raise ValueError(f"open_clip ships {len(names)} ImageNet class names, expected 1000")
    data = {
        "source": (
            f"open_clip_torch {version}, open_clip/zero_shot_metadata.py (MIT); class names and "
            "templates from OpenAI's CLIP notebook Prompt_Engineering_for_ImageNet.ipynb"
        ),
        "open_clip_version": version,
        "class_names": names,
        "templates": {
            "openai": _as_strings(meta.OPENAI_IMAGENET_TEMPLATES),
            "simple": _as_strings(meta.SIMPLE_IMAGENET_TEMPLATES),
        },
    }
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "imagenet_zeroshot.json"
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    dist = metadata.distribution("open_clip_torch")
    license_file = next(
        (f for f in dist.files or [] if f.name == "LICENSE" and "dist-info" in str(f)), None
    )
    if license_file is None:
        raise FileNotFoundError("open_clip_torch's LICENSE is not in its installed distribution")
    (OUT / "open_clip.LICENSE").write_text(
        Path(dist.locate_file(license_file)).read_text(encoding="utf-8"), encoding="utf-8"
    )
    return path


if __name__ == "__main__":
    written = build()
    print(f"wrote {written}")
