"""The prediction store: run folders holding predictions, run info and metrics on disk."""

from reassess.store.predictions import Predictions, read_predictions, write_predictions
from reassess.store.run import RunDir

__all__ = ["Predictions", "RunDir", "read_predictions", "write_predictions"]
