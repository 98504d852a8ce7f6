"""The reference testbed: timm's published accuracies of ~1,550 ImageNet models on six test sets.

``--shift real`` compares ReaL with ImageNet top-1 on the same val images (``real`` vs
``imagenet``); ObjectNet has no column, as timm publishes no ObjectNet results.

``labels/data/timm_testbed.csv.gz`` is built by ``scripts/build_testbed.py`` from the result CSVs
of huggingface/pytorch-image-models (``results/``, Apache-2.0): one row per (model, image size)
with top-1 (percent) on ImageNet val, ReaL, ImageNetV2 MatchedFrequency, ImageNet-Sketch,
ImageNet-A, ImageNet-R and the 200-class "clean" val subsets of A and R. It stores measurements
only; which models are "standard" is decided here, by :func:`standard_model_rule`, and every fit
is computed when it is asked for.

Which models are "standard". Effective robustness is measured against the trend of models
trained on ImageNet-1k alone, without robustness interventions (Taori et al. 2020, "Measuring
Robustness to Natural Distribution Shifts in Image Classification"). timm names every weight
``<architecture>.<tag>`` and the tag records how it was trained (``augreg_in21k_ft_in1k``,
``fb_swsl_ig1b_ft_in1k``, ``ra_in1k``...). A weight is standard when its tag, split at ``_``,
contains ``in1k`` and none of:

- extra training data: ``in21k in22k in12k`` (ImageNet-21k/22k/12k), ``laion2b laiona laion``,
  ``openai clip webli`` (image-text pretraining), ``m30m m38m`` (EVA's merged sets), ``ig1b
  swsl wsl swag seer`` (Instagram weakly / semi-supervised and SEER), ``ssl yfcc100m`` (YFCC
  semi-supervised), ``jft ns`` (JFT-300M, Noisy Student), ``ssld 6m`` (Baidu SSLD distillation
  on extra unlabeled images), ``indomain`` (BEiT-3's in-domain data), ``teacher`` and the
  ``goog_distilled`` BiT students (their teacher saw ImageNet-21k);
- robustness interventions: ``adv`` and ``ens`` (adversarial training), ``ap`` (AdvProp),
  ``am`` (AugMix).

On the shipped data 1,209 of the 1,557 rows are standard (checked by the tests). Knowledge
distillation from an ImageNet-1k teacher (DeiT's ``fb_dist``, ``snap_dist``, ``apple_dist``),
self-supervised pretraining on ImageNet-1k (``mae``, ``fcmae`` without ``in22k``) and every
resolution a weight was evaluated at count as standard (each (model, image size) row is one
point of the baseline).
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from reassess.labels.resources import data_file

TESTBED_FILE = "timm_testbed.csv.gz"

#: test sets in the testbed (column names), each top-1 in percent
COLUMNS = (
    "imagenet",
    "real",
    "imagenetv2",
    "sketch",
    "imagenet_a",
    "imagenet_a_clean",
    "imagenet_r",
    "imagenet_r_clean",
)

EXTRA_DATA_TAGS = frozenset(
    [
        "in21k",
        "in22k",
        "in12k",
        "laion2b",
        "laiona",
        "laion",
        "openai",
        "clip",
        "webli",
        "m30m",
        "m38m",
        "ig1b",
        "swsl",
        "wsl",
        "swag",
        "seer",
        "ssl",
        "yfcc100m",
        "jft",
        "ns",
        "ssld",
        "6m",
        "indomain",
        "teacher",
    ]
)
INTERVENTION_TAGS = frozenset({"adv", "ens", "ap", "am"})


@dataclass(frozen=True)
class Shift:
    """A test set robustness is measured on: where acc_in and acc_shift come from.

    ``in_column``/``shift_column`` name the testbed columns of the baseline (None: the testbed has
    no results for it). ``family`` is the reassess data spec family of the user's shift run;
    ``val_metric`` is set instead when the shift accuracy is a metric of the imagenet-val run
    itself (ReaL). ``fit`` is the default baseline: ``linear`` or ``piecewise`` (ImageNet-A).
    """

    name: str
    title: str
    in_column: str | None
    shift_column: str | None
    in_title: str
    family: str | None = None
    val_metric: str | None = None
    fit: str = "linear"

    @property
    def dataset_family(self) -> str:
        """The reassess data spec family of the shifted test set."""
        if self.val_metric is not None:
            return "imagenet-val"
        return self.family or self.name

    @property
    def in_testbed(self) -> bool:
        """Whether the testbed has both accuracies, i.e. whether a baseline can be fitted."""
        return self.in_column is not None and self.shift_column is not None


SHIFTS = {
    s.name: s
    for s in (
        Shift("imagenetv2", "ImageNetV2 MatchedFrequency", "imagenet", "imagenetv2", "ImageNet"),
        Shift("imagenet-sketch", "ImageNet-Sketch", "imagenet", "sketch", "ImageNet"),
        Shift(
            "imagenet-a",
            "ImageNet-A",
            "imagenet_a_clean",
            "imagenet_a",
            "ImageNet (ImageNet-A's 200 classes)",
            fit="piecewise",
        ),
        Shift(
            "imagenet-r",
            "ImageNet-R",
            "imagenet_r_clean",
            "imagenet_r",
            "ImageNet (ImageNet-R's 200 classes)",
        ),
        Shift("real", "ImageNet ReaL", "imagenet", "real", "ImageNet", val_metric="real_top1"),
        # timm publishes no ObjectNet results: runs are paired and scored, without a baseline
        Shift("objectnet", "ObjectNet", None, None, "ImageNet (ObjectNet's 113 classes)"),
    )
}


def standard_model_rule(model: str) -> str | None:
    """Why a timm weight is not a standard ImageNet-1k model, or None when it is one.

    Examples
    --------
    >>> standard_model_rule("resnet50.a1_in1k") is None
    True
    >>> standard_model_rule("vit_base_patch16_224.augreg_in21k_ft_in1k")
    'extra data: in21k'
    """
    _, _, tag = model.partition(".")
    tokens = tag.split("_")
    if "in1k" not in tokens:
        return "not trained for ImageNet-1k"
    if "goog" in tokens and "distilled" in tokens:
        return "extra data: distilled from an ImageNet-21k teacher"
    extra = [t for t in tokens if t in EXTRA_DATA_TAGS]
    if extra:
        return "extra data: " + ", ".join(extra)
    intervention = [t for t in tokens if t in INTERVENTION_TAGS]
    if intervention:
        return "robustness intervention: " + ", ".join(intervention)
    return None


@dataclass(frozen=True)
class Testbed:
    """Rows of the reference testbed: model names, image sizes and top-1 accuracies (fractions)."""

    models: np.ndarray
    img_size: np.ndarray
    param_count: np.ndarray
    accuracy: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.models)

    @property
    def excluded_because(self) -> list[str | None]:
        """Per row: why it is not a standard model (None for standard models)."""
        return [standard_model_rule(m) for m in self.models.tolist()]

    @property
    def standard(self) -> np.ndarray:
        """Boolean mask of the standard ImageNet-1k models (see :func:`standard_model_rule`)."""
        return np.array([r is None for r in self.excluded_because], dtype=bool)

    def pairs(self, shift: str, *, selection: str = "standard") -> tuple[np.ndarray, ...]:
        """(names, acc_in, acc_shift) of the selected rows for ``shift``, as fractions.

        ``selection`` is ``standard`` (the baseline population) or ``all``.
        """
        if shift not in SHIFTS:
            raise ValueError(f"unknown shift {shift!r}; the testbed has {', '.join(SHIFTS)}")
        if selection not in ("standard", "all"):
            raise ValueError(f"selection must be 'standard' or 'all', got {selection!r}")
        s = SHIFTS[shift]
        if s.in_column is None or s.shift_column is None:
            raise ValueError(f"the testbed (timm's results) has no {s.title} results")
        x, y = self.accuracy[s.in_column], self.accuracy[s.shift_column]
        keep = np.isfinite(x) & np.isfinite(y)
        if selection == "standard":
            keep &= self.standard
        names = np.array(
            [f"{m}@{size}" for m, size in zip(self.models, self.img_size, strict=True)],
            dtype=object,
        )
        return names[keep], x[keep], y[keep]


def _number(text: str) -> float:
    return float(text.replace(",", "")) if text.strip() else float("nan")


def parse_testbed(text: str, source: str = TESTBED_FILE) -> Testbed:
    """Read the testbed CSV (header ``model,img_size,param_count,<COLUMNS>``)."""
    reader = csv.DictReader(io.StringIO(text))
    needed = {"model", "img_size", "param_count", *COLUMNS}
    missing = needed - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"{source}: missing columns {sorted(missing)}")
    rows = list(reader)
    if not rows:
        raise ValueError(f"{source}: no rows")
    return Testbed(
        models=np.array([r["model"] for r in rows], dtype=object),
        img_size=np.array([int(r["img_size"]) for r in rows], dtype=np.int64),
        param_count=np.array([_number(r["param_count"]) for r in rows]),
        accuracy={c: np.array([_number(r[c]) for r in rows]) / 100.0 for c in COLUMNS},
    )


@lru_cache(maxsize=1)
def load_testbed() -> Testbed:
    """The shipped reference testbed (timm results, joined on model and image size)."""
    path = data_file(TESTBED_FILE)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return parse_testbed(f.read(), str(path))
