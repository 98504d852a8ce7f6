"""Metrics: pure functions from predictions and label sets to numbers with intervals. No I/O."""

from reassess.metrics.accuracy import (
    per_class_accuracy,
    set_accuracy,
    topk_accuracy,
)
from reassess.metrics.stats import Proportion, clopper_pearson

__all__ = [
    "Proportion",
    "clopper_pearson",
    "per_class_accuracy",
    "set_accuracy",
    "topk_accuracy",
]
