"""Metrics: pure functions from predictions and label sets to numbers with intervals. No I/O.

Every ``metrics.json`` key, with its title and direction, is declared in
:mod:`reassess.metrics.registry`.
"""

from reassess.metrics.accuracy import (
    per_class_accuracy,
    set_accuracy,
    topk_accuracy,
)
from reassess.metrics.registry import Metric, metric, metric_title, metrics_for
from reassess.metrics.stats import Proportion, clopper_pearson

__all__ = [
    "Metric",
    "Proportion",
    "clopper_pearson",
    "metric",
    "metric_title",
    "metrics_for",
    "per_class_accuracy",
    "set_accuracy",
    "topk_accuracy",
]
