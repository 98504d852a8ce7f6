"""Human-readable names of ``metrics.json`` keys, shared by the CLI tables and the report."""

from __future__ import annotations

METRIC_TITLES = {
    "top1": "Top-1 (original labels)",
    "top5": "Top-5 (original labels)",
    "real_top1": "ReaL top-1",
    "real_top5": "ReaL top-5",
    "valid_labels_top1": "Top-1, any valid label (samples)",
    "valid_labels_top5": "Top-5, any valid label (samples)",
}
METRIC_TITLES.update(
    {
        "top1_equiv": "Top-1, equivalent classes merged",
        "top5_equiv": "Top-5, equivalent classes merged",
        "multilabel_top1": "ImageNetV2 multi-label top-1",
        "multilabel_top5": "ImageNetV2 multi-label top-5",
        "corrected_top1": "Top-1, known label errors corrected",
        "corrected_top5": "Top-5, known label errors corrected",
        "cleaned_top1": "Top-1, known label errors excluded",
        "cleaned_top5": "Top-5, known label errors excluded",
        "expert_top1": "Expert multi-label top-1 (per class)",
        "expert_top1_images": "Expert multi-label top-1 (per image)",
        "expert_strict_top1": "Expert multi-label top-1, strict (per class)",
        "expert_strict_top1_images": "Expert multi-label top-1, strict (per image)",
        "imagenet_m": "ImageNet-M",
        "ece": "Expected calibration error",
    }
)
# Label-set names as metric keys start with them (``real_vtopk``, ``expert_asma``, ...).
SET_TITLES = {
    "real": "ReaL",
    "multilabel": "ImageNetV2 multi-label",
    "expert": "Expert",
    "expert_strict": "Expert strict",
}
_SUFFIX_TITLES = {
    "_vtopk": "variable top-k",
    "_vtopk_soft": "variable top-k, soft",
    "_asma": "ASMA",
    "_share_2plus": "images with 2+ labels",
}


def metric_title(key: str) -> str:
    """Human-readable name of a metrics.json key."""
    if key in METRIC_TITLES:
        return METRIC_TITLES[key]
    for suffix, title in _SUFFIX_TITLES.items():
        name = key[: -len(suffix)]
        if key.endswith(suffix) and name in SET_TITLES:
            return f"{SET_TITLES[name]} {title}"
    return key.replace("_", " ").replace("top", "top-")
