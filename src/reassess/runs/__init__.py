"""The service layer: every pipeline over run folders, called by the CLI, the zoo, the demo,
the report and the tests alike.

In the data flow (labels/datasets -> models -> inference -> store -> metrics/analysis -> runs ->
report/review -> cli) this package reads and writes run folders through :mod:`reassess.store` and
calls the pure metric and analysis functions. It prints nothing: errors are one-line
:class:`~reassess.runs.errors.RunError` s and notes go to a ``notify`` callback.

- :mod:`~reassess.runs.evaluate`: ``evaluate`` (eval), ``import_run``/``store_predictions``
  (import), ``finish_run`` (metrics.json and per_class.csv of a stored run).
- :mod:`~reassess.runs.folder`: resuming, replacing or refusing an existing run folder.
- :mod:`~reassess.runs.labels`: the label sets and expert label file a run is scored with.
- :mod:`~reassess.runs.compare`: two runs on the same images, paired.
- :mod:`~reassess.runs.analyze`: ``analyze_run`` (mistakes.parquet and analysis.json).
- :mod:`~reassess.runs.robustness` and :mod:`~reassess.runs.scaling`: effective robustness of
  paired runs, and reading results tables for scaling-law fits.
"""

from reassess.runs.analyze import OOVCheck, analyze_run, classify_run
from reassess.runs.compare import aligned_pair, compare_runs
from reassess.runs.errors import IncomparableRunsError, Interrupted, RunError
from reassess.runs.evaluate import evaluate, finish_run, import_run, store_predictions
from reassess.runs.labels import (
    dataset_index,
    recorded_expert_file,
    run_label_sets,
    shared_expert_file,
)

__all__ = [
    "IncomparableRunsError",
    "Interrupted",
    "OOVCheck",
    "RunError",
    "aligned_pair",
    "analyze_run",
    "classify_run",
    "compare_runs",
    "dataset_index",
    "evaluate",
    "finish_run",
    "import_run",
    "recorded_expert_file",
    "run_label_sets",
    "shared_expert_file",
    "store_predictions",
]
