"""Inference: decode images in worker processes and run a model over them, resumably."""

from reassess.inference.runner import InferenceOptions, InferenceResult, run_inference

__all__ = ["InferenceOptions", "InferenceResult", "run_inference"]
