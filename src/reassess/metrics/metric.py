"""What a metric is: its key, title, direction and computation (:class:`Metric`), the pattern
that declares a family of them (:class:`MetricFamily`), and the run being scored (:class:`Scoring`).

The metrics themselves are declared in :mod:`reassess.metrics.catalog`; :mod:`reassess.metrics.registry`
looks them up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from reassess.labels.label_sets import LabelSets
from reassess.metrics.compare import Outcome

if TYPE_CHECKING:
    from reassess.metrics.suite import MetricOptions
    from reassess.store.predictions import Predictions

#: which way is better; "neither" for what describes the data or the scoring, not the model
Direction = Literal["higher", "lower", "neither"]
Kind = Literal["outcome", "proportion", "table", "record"]
#: the label sets a per-set family applies to: every set but the expert ones and ImageNet-M
#: ("labels"), the run's expert set, ImageNet-M, or the sets whose images can have 2+ labels
SetSelector = Literal["labels", "expert", "imagenet_m", "multi_label"]
Compute = Callable[["Scoring", "Metric"], Any]

NO_EXPERT_FILE = "no --multilabel-file given (the expert human_accuracy_v3.0.0.json)"


@dataclass(frozen=True)
class LabelSetInfo:
    """A label set reassess knows: its name in metric titles, and whether images have 2+ labels."""

    name: str
    title: str
    #: title of its top-k accuracy, with ``{k}``
    topk_title: str
    #: variable top-k, ASMA and the share of images with 2+ labels apply
    multi_label: bool
    description: str
    #: its top-k is one of the headline figures (leaderboard table)
    headline: bool = False


LABEL_SETS: dict[str, LabelSetInfo] = {
    s.name: s
    for s in (
        LabelSetInfo(
            "real",
            "ReaL",
            "ReaL top-{k}",
            True,
            'ReaL labels of ImageNet val (Beyer et al. 2020, "Are we done with ImageNet?")',
            headline=True,
        ),
        LabelSetInfo(
            "multilabel",
            "ImageNetV2 multi-label",
            "ImageNetV2 multi-label top-{k}",
            True,
            "ImageNetV2 MatchedFrequency multi-labels "
            '(Anzaku et al. 2024, "Re-assessing ImageNet")',
        ),
        LabelSetInfo(
            "valid_labels",
            "Valid labels (samples)",
            "Top-{k}, any valid label (samples)",
            False,
            "every class that fits a built-in sample photo",
        ),
        LabelSetInfo(
            "corrected",
            "Corrected labels",
            "Top-{k}, known label errors corrected",
            False,
            "original labels with cleanlab's crowd-validated label errors corrected or left out "
            "(Northcutt et al. 2021)",
        ),
        LabelSetInfo(
            "cleaned",
            "Cleaned labels",
            "Top-{k}, known label errors excluded",
            False,
            "original labels, images with a crowd-validated label error left out "
            "(Northcutt et al. 2021)",
        ),
        LabelSetInfo(
            "expert",
            "Expert",
            "Expert multi-label top-{k}",
            True,
            "expert multi-labels, 'correct' and 'unclear' classes accepted, problematic images "
            "left out (Shankar et al. 2020; v3.0.0, Vasudevan et al. 2022)",
        ),
        LabelSetInfo(
            "expert_strict",
            "Expert strict",
            "Expert multi-label top-{k}, strict",
            True,
            "expert multi-labels, only 'correct' classes accepted (Shankar et al. 2020)",
        ),
        LabelSetInfo(
            "imagenet_m",
            "ImageNet-M",
            "ImageNet-M top-{k}",
            False,
            "the 68 val images whose mistakes the experts call major (Vasudevan et al. 2022), "
            "'correct' and 'unclear' classes accepted",
        ),
    )
}
#: label sets whose images can have several valid labels (variable top-k, ASMA, 2+ share)
MULTI_LABEL_SETS = tuple(name for name, s in LABEL_SETS.items() if s.multi_label)
EXPERT_SETS = ("expert", "expert_strict")


def expert_set_name(strict: bool) -> str:
    """The name the expert label set is scored under: ``expert``, or ``expert_strict``."""
    return "expert_strict" if strict else "expert"


def fallback_title(key: str) -> str:
    """A readable name for a key the registry does not know (``mine_top1`` -> ``mine top-1``)."""
    return key.replace("_", " ").replace("top", "top-")


@dataclass(frozen=True)
class Skipped:
    """A metric that applies to the run but cannot be computed, and why."""

    reason: str


@dataclass(frozen=True)
class Metric:
    """One ``metrics.json`` key: its title, which way is better, and the function that makes it.

    ``compute(scoring, metric)`` returns the value (an :class:`Outcome` for ``outcome`` metrics),
    :class:`Skipped` with the reason, or None where the metric does not apply to the run.
    """

    key: str
    title: str
    direction: Direction
    group: str
    kind: Kind
    description: str
    compute: Compute = field(repr=False)
    label_set: str | None = None
    k: int | None = None
    headline: bool = False
    family: MetricFamily | None = field(default=None, repr=False, compare=False)

    def entry(self, scoring: Scoring, value: Any) -> Any:
        """The ``metrics.json`` entry of a computed value: an outcome's mean and 95% interval."""
        if not isinstance(value, Outcome):
            return value
        entry = value.proportion().to_dict()
        if self.family is not None and self.family.extras is not None:
            entry.update(self.family.extras(scoring, value))
        return entry

    def best_first(self, value: float) -> float:
        """A sort key that puts the best value first (ascending sort)."""
        return -value if self.direction == "higher" else value


@dataclass(frozen=True)
class MetricFamily:
    """One declaration for every metric of a key pattern, e.g. ``{set}_top{k}``.

    ``pattern`` and ``title`` are templates: ``{set}`` is the label set's name in the key and
    its title in the title, ``{topk}`` its top-k title and ``{k}`` the k. A family without
    ``sets`` is computed once per run (for each of its ``ks``).
    """

    pattern: str
    title: str
    direction: Direction
    group: str
    kind: Kind
    description: str
    compute: Compute = field(repr=False)
    sets: SetSelector | None = None
    ks: tuple[int | None, ...] = (None,)
    headline: bool = False
    #: keys added to an outcome's entry (ImageNet-M's hits, the expert top-1's classes)
    extras: Callable[[Scoring, Outcome], dict[str, Any]] | None = field(default=None, repr=False)
    #: also evaluated for a label set the run's data has but was not given, to say why it is
    #: missing (the expert labels of an ImageNet val run without --multilabel-file)
    reports_absence: bool = False
    #: the labels a once-per-run family scores against (``original``)
    label_set: str | None = None

    def key(self, label_set: str | None = None, k: int | None = None) -> str:
        """The metrics.json key of one member (``real_top1`` for ``{set}_top{k}``, real, 1)."""
        return self.pattern.format(set=label_set, k=k)

    def selects(self, name: str, expert_set: str | None) -> bool:
        """Whether this family applies to label set ``name`` (``expert_set``: the run's own)."""
        if self.sets == "labels":
            return name != expert_set and name != "imagenet_m"
        if self.sets == "expert":
            return name == expert_set
        if self.sets == "imagenet_m":
            return name == "imagenet_m"
        return self.sets == "multi_label" and name in MULTI_LABEL_SETS

    def member(self, label_set: str | None = None, k: int | None = None) -> Metric:
        """The metric for one label set and k; an unknown label set gets a fallback title."""
        key = self.key(label_set, k)
        info = LABEL_SETS.get(label_set) if label_set is not None else None
        if label_set is not None and info is None:
            title = fallback_title(key)
            labels = f"the {label_set!r} label set"
        else:
            title = self.title.format(
                set=info.title if info else "",
                topk=info.topk_title.format(k=k) if info else "",
                k=k,
            )
            labels = info.description if info else f"the {self.label_set} labels"
        return Metric(
            key=key,
            title=title,
            direction=self.direction,
            group=self.group,
            kind=self.kind,
            description=self.description.format(labels=labels, k=k),
            compute=self.compute,
            label_set=label_set if label_set is not None else self.label_set,
            k=k,
            headline=self.headline and (label_set is None or (info is not None and info.headline)),
            family=self,
        )


@dataclass
class Scoring:
    """One run being scored: what the compute functions read, and the notes and skips they leave.

    ``predictions`` are restricted to the scored classes where the dataset has a class subset;
    ``num_samples`` and ``scored_classes`` describe the run before that.
    """

    predictions: Predictions
    sets: dict[str, LabelSets]
    options: MetricOptions
    num_samples: int
    scored_classes: int | None = None
    restriction_note: str | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def expert_set(self) -> str:
        return expert_set_name(self.options.strict)

    @property
    def absent_sets(self) -> tuple[str, ...]:
        """Label sets the run's data has but that were not given: expert ones without the file."""
        if self.options.expert is None and "real" in self.sets:  # ImageNet val
            return (self.expert_set, "imagenet_m")
        return ()

    def cached(self, what: Any, make: Callable[[], Any]) -> Any:
        """``make()``, once per run: several metrics share one computation (hits, calibration)."""
        if what not in self._cache:
            self._cache[what] = make()
        return self._cache[what]

    def evaluate(self, metric: Metric) -> Any:
        """The metric's value, or None where it does not apply; records a skip with its reason."""
        value = metric.compute(self, metric)
        if isinstance(value, Skipped):
            self.skipped[metric.key] = value.reason
            return None
        if isinstance(value, Outcome):
            self.outcomes[metric.key] = value
        return value

    @property
    def known_rows(self) -> np.ndarray:
        """Rows of the images with an original single label."""
        return self.cached("known rows", lambda: np.flatnonzero(self.predictions.labels >= 0))


# --- compute functions, in the order of the declarations below ---------------------------------


@dataclass(frozen=True)
class Stage:
    """Families evaluated together: once per run, or for each label set of the run in turn."""

    families: tuple[MetricFamily, ...]
    per_label_set: bool = False
