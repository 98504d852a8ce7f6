"""Human-readable names of ``metrics.json`` keys: a view of :mod:`reassess.metrics.registry`.

The titles are declared with their metrics there; these names stay for the CLI tables and the
report that import them.
"""

from __future__ import annotations

from reassess.metrics.metric import LABEL_SETS
from reassess.metrics.registry import REGISTRY, metric_title

#: title of every registered key
METRIC_TITLES = {key: m.title for key, m in REGISTRY.items()}
#: titles of the label sets whose images can have several labels (``real_vtopk``, ``expert_asma``)
SET_TITLES = {name: s.title for name, s in LABEL_SETS.items() if s.multi_label}

__all__ = ["METRIC_TITLES", "SET_TITLES", "metric_title"]
