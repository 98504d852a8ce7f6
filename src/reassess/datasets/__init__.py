"""Datasets: which images are evaluated, their single labels and the label sets that apply."""

from reassess.datasets.base import (
    Dataset,
    DataSpecError,
    dataset_families,
    parse_data_spec,
    register_dataset,
)

__all__ = ["DataSpecError", "Dataset", "dataset_families", "parse_data_spec", "register_dataset"]
