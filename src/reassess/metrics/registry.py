"""Every key of ``metrics.json`` in one place: its title, which way is better, and what makes it.

Each metric is declared once, the way lm-evaluation-harness registers a metric with its function
and ``higher_is_better`` and scikit-learn's scorer table pairs a name with its score function and
``greater_is_better``. Keys that follow a pattern over label sets or k (``{set}_top{k}`` gives
``real_top1``, ``real_top5``, ``corrected_top1``, ...) come from one :class:`MetricFamily` each;
:data:`REGISTRY` holds every member for the label sets reassess knows (:data:`LABEL_SETS`), in
``metrics.json`` order.

:func:`walk` yields the metrics that apply to one run being scored (a :class:`Scoring`), label
sets the registry does not know included, and :func:`reassess.metrics.suite.compute_metrics`
evaluates them into ``metrics.json``. The CLI tables, the zoo leaderboard and the report read
titles (:func:`metric_title`), directions and the order (:func:`metric_order`) from here.

Kinds of entry:

- ``outcome``: a mean of per-image outcomes (:class:`~reassess.metrics.compare.Outcome`) with
  its 95% interval; ``reassess compare`` pairs these between runs.
- ``proportion``: ``{"value", "n", "ci95"}`` that is not a per-image mean of the model's
  answers (the share of images with 2+ labels, the expected calibration error).
- ``table``: a breakdown (variable top-k per number of labels, the reliability bins).
- ``record``: how the run was scored (image count, options, label files, notes, skips).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator

from reassess.metrics.catalog import STAGES
from reassess.metrics.metric import (
    EXPERT_SETS,
    LABEL_SETS,
    Kind,
    Metric,
    MetricFamily,
    Scoring,
    fallback_title,
)


def _registry() -> dict[str, Metric]:
    registry: dict[str, Metric] = {}
    for stage in STAGES:
        for name in LABEL_SETS if stage.per_label_set else (None,):
            expert_set = name if name in EXPERT_SETS else None
            for family in stage.families:
                if name is not None and not family.selects(name, expert_set):
                    continue
                for k in family.ks:
                    metric = family.member(name, k)
                    if metric.key in registry:
                        raise ValueError(f"metric key {metric.key!r} is declared twice")
                    registry[metric.key] = metric
    return registry


#: every metric for the label sets reassess knows, in metrics.json order
REGISTRY: dict[str, Metric] = _registry()


def walk(scoring: Scoring, kinds: Collection[Kind] | None = None) -> Iterator[Metric]:
    """The metrics that apply to a run being scored, in metrics.json order.

    Label sets come in the run's order; one the registry does not know gets its family's
    members with fallback titles. ``kinds`` keeps only those kinds (``outcome`` for compare).
    """
    for stage in STAGES:
        families = [f for f in stage.families if kinds is None or f.kind in kinds]
        if not stage.per_label_set:
            for family in families:
                for k in family.ks:
                    yield _registered(family, None, k)
            continue
        for name in scoring.sets:
            for family in families:
                if family.selects(name, scoring.expert_set):
                    for k in family.ks:
                        yield _registered(family, name, k)
        for name in scoring.absent_sets:
            for family in families:
                if family.reports_absence and family.selects(name, scoring.expert_set):
                    for k in family.ks:
                        yield _registered(family, name, k)


def _registered(family: MetricFamily, label_set: str | None, k: int | None) -> Metric:
    found = REGISTRY.get(family.key(label_set, k))
    return found if found is not None and found.family is family else family.member(label_set, k)


def metric(key: str) -> Metric:
    """The registered metric of a metrics.json key.

    Examples
    --------
    >>> m = metric("expert_top1")
    >>> m.title, m.direction, m.label_set, m.k
    ('Expert multi-label top-1 (per class)', 'higher', 'expert', 1)
    >>> metric("ece").direction
    'lower'
    """
    try:
        return REGISTRY[key]
    except KeyError:
        raise KeyError(
            f"{key!r} is not a registered metric (see reassess.metrics.registry.REGISTRY)"
        ) from None


def metrics_for(
    *,
    label_set: str | None = None,
    group: str | None = None,
    kind: Kind | None = None,
    family: MetricFamily | None = None,
    headline: bool | None = None,
) -> list[Metric]:
    """Registered metrics that match every given field, in metrics.json order.

    Examples
    --------
    >>> [m.key for m in metrics_for(label_set="real", kind="outcome")]
    ['real_top1', 'real_top5', 'real_vtopk', 'real_vtopk_soft', 'real_asma']
    >>> [m.key for m in metrics_for(headline=True)]
    ['top1', 'top5', 'real_top1', 'real_top5']
    """
    return [
        m
        for m in REGISTRY.values()
        if (label_set is None or m.label_set == label_set)
        and (group is None or m.group == group)
        and (kind is None or m.kind == kind)
        and (family is None or m.family is family)
        and (headline is None or m.headline == headline)
    ]


def metric_title(key: str) -> str:
    """Human-readable name of a metrics.json key; a key the registry does not know gets one too.

    Examples
    --------
    >>> metric_title("real_vtopk"), metric_title("mine_top1")
    ('ReaL variable top-k', 'mine top-1')
    """
    found = REGISTRY.get(key)
    return found.title if found is not None else fallback_title(key)


def metric_order(keys: Iterable[str]) -> list[str]:
    """``keys`` in registry (metrics.json) order; keys the registry does not know last, as given.

    Examples
    --------
    >>> metric_order(["mine_top1", "real_top1", "top5", "top1"])
    ['top1', 'top5', 'real_top1', 'mine_top1']
    """
    position = {key: i for i, key in enumerate(REGISTRY)}
    given = list(enumerate(keys))
    given.sort(key=lambda item: (position.get(item[1], len(position)), item[0]))
    return [key for _, key in given]
