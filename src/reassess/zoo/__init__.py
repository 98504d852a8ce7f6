"""Model zoos: many (model, dataset) pairs, each into its own run folder, locally or on Ray."""

from reassess.zoo.engines import ENGINES, PairResult, run_pairs
from reassess.zoo.leaderboard import leaderboard_rows, write_leaderboard
from reassess.zoo.plan import Pair, plan_pairs, read_models_file

__all__ = [
    "ENGINES",
    "Pair",
    "PairResult",
    "leaderboard_rows",
    "plan_pairs",
    "read_models_file",
    "run_pairs",
    "write_leaderboard",
]
