"""Analyses computed from stored predictions and label data: pure functions, no model needed."""
