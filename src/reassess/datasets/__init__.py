"""Datasets: which images are evaluated, their single labels and the label sets that apply.

The registry (``base``) is imported first; the family modules after it register themselves, so
importing anything from ``reassess.datasets`` registers every family once.
"""

from reassess.datasets.base import (
    Dataset,
    DataSpecError,
    dataset_families,
    parse_data_spec,
    register_dataset,
)

# isort: split
from reassess.datasets import imagenet, samples_dataset, shifts  # noqa: F401  (register families)

__all__ = ["DataSpecError", "Dataset", "dataset_families", "parse_data_spec", "register_dataset"]
