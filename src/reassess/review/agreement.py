"""Agreement between reviewers: how often their verdicts on the same image match, and kappas.

Only images with two or more reviews count. Reported: the share of those images whose verdicts are
unanimous (with a 95% Clopper-Pearson interval), the share of agreeing reviewer pairs, Fleiss'
kappa (Fleiss 1971, "Measuring nominal scale agreement among many raters", in the usual form for a
varying number of raters per item: per-item agreement
``P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1))``, chance agreement from the pooled verdict
shares), the same on the binary question "is it a mistake at all?", and Cohen's kappa
(Cohen 1960) for every pair of reviewers over the images both reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from reassess.metrics.stats import Proportion, cohen_kappa


@dataclass(frozen=True)
class PairAgreement:
    """Agreement of two reviewers over the images both reviewed."""

    a: str
    b: str
    n: int
    agreement: float
    kappa: float | None

    def to_dict(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "n": self.n,
            "agreement": self.agreement,
            "kappa": self.kappa,
        }


@dataclass(frozen=True)
class Agreement:
    """Verdict agreement over images with at least two reviews."""

    items: int
    unanimous: Proportion
    pairwise: float | None
    fleiss_kappa: float | None
    mistake_unanimous: Proportion
    mistake_fleiss_kappa: float | None
    pairs: list[PairAgreement] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "items": self.items,
            "unanimous": _proportion(self.unanimous),
            "pairwise": self.pairwise,
            "fleiss_kappa": self.fleiss_kappa,
            "mistake_unanimous": _proportion(self.mistake_unanimous),
            "mistake_fleiss_kappa": self.mistake_fleiss_kappa,
            "pairs": [p.to_dict() for p in self.pairs],
        }


def _proportion(p: Proportion) -> dict:
    """A Proportion as JSON, with ``value`` None (not NaN) when there is nothing to count."""
    out = p.to_dict()
    if not p.n:
        out["value"], out["ci95"] = None, None
    return out


def fleiss_kappa(counts: np.ndarray) -> float | None:
    """Fleiss' kappa from an (items, categories) matrix of rating counts (>= 2 raters per item).

    Parameters
    ----------
    counts : ``counts[i, j]`` raters who put item ``i`` in category ``j``; rows may sum to
        different numbers of raters (each at least 2).

    Returns
    -------
    ``(P - P_e) / (1 - P_e)``: mean per-item agreement ``P`` against chance agreement ``P_e`` from
    the pooled category shares (Fleiss 1971); None when ``P_e`` is 1 (one category used).

    Examples
    --------
    >>> fleiss_kappa(np.array([[2, 0], [0, 2]]))
    1.0
    """
    counts = np.asarray(counts, dtype=np.float64)
    raters = counts.sum(axis=1)
    if counts.ndim != 2 or len(counts) == 0 or (raters < 2).any():
        raise ValueError("fleiss_kappa needs at least one item and >= 2 ratings per item")
    per_item = (counts * (counts - 1)).sum(axis=1) / (raters * (raters - 1))
    shares = counts.sum(axis=0) / raters.sum()
    chance = float((shares**2).sum())
    if chance >= 1.0 - 1e-12:
        return None
    return float((per_item.mean() - chance) / (1.0 - chance))


def _vote_matrix(groups: list[list[str]]) -> np.ndarray:
    categories = sorted({v for g in groups for v in g})
    column = {c: j for j, c in enumerate(categories)}
    counts = np.zeros((len(groups), len(categories)), dtype=np.int64)
    for i, group in enumerate(groups):
        for verdict in group:
            counts[i, column[verdict]] += 1
    return counts


def verdict_agreement(
    verdicts: dict[str, dict[str, str]], *, is_mistake: dict[str, bool] | None = None
) -> Agreement:
    """Agreement of reviewers' verdicts.

    Parameters
    ----------
    verdicts : ``{sample_id: {reviewer: verdict}}``; samples with fewer than two reviews are
        ignored.
    is_mistake : maps each verdict to True if it says the prediction is a mistake; verdicts
        missing from it count as "not a mistake" for the binary agreement.

    Returns
    -------
    Agreement with unanimity shares, pairwise agreement, Fleiss' kappas and per-pair Cohen's kappa.
    """
    is_mistake = is_mistake or {}
    multi = {s: v for s, v in verdicts.items() if len(v) >= 2}
    groups = [list(v.values()) for v in multi.values()]
    binary = [["mistake" if is_mistake.get(x, False) else "correct" for x in g] for g in groups]
    unanimous = Proportion.from_hits(np.array([len(set(g)) == 1 for g in groups], dtype=bool))
    mistake_unanimous = Proportion.from_hits(
        np.array([len(set(g)) == 1 for g in binary], dtype=bool)
    )
    pairs_total = sum(len(g) * (len(g) - 1) // 2 for g in groups)
    pairs_agree = sum(x == y for g in groups for x, y in combinations(g, 2))
    reviewers = sorted({r for v in multi.values() for r in v})
    pairs = []
    for a, b in combinations(reviewers, 2):
        shared = [s for s, v in multi.items() if a in v and b in v]
        if not shared:
            continue
        va, vb = [multi[s][a] for s in shared], [multi[s][b] for s in shared]
        agree = sum(x == y for x, y in zip(va, vb, strict=True)) / len(shared)
        pairs.append(PairAgreement(a, b, len(shared), agree, cohen_kappa(va, vb)))
    return Agreement(
        items=len(groups),
        unanimous=unanimous,
        pairwise=pairs_agree / pairs_total if pairs_total else None,
        fleiss_kappa=fleiss_kappa(_vote_matrix(groups)) if groups else None,
        mistake_unanimous=mistake_unanimous,
        mistake_fleiss_kappa=fleiss_kappa(_vote_matrix(binary)) if binary else None,
        pairs=pairs,
    )
