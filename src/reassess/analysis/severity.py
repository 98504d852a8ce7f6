"""How severe a top-1 mistake is: a per-mistake score, not a property of its category.

Vasudevan et al. 2022 ("When does dough become a bagel?") rated every remaining mistake of two
models *minor*, *borderline* or *major*, independently of its kind: a third of their fine-grained
mistakes are major (a dog breed no person would confuse) and a quarter of their spurious ones
minor. reassess scores each mistake with a logistic model over evidence that does not depend on
the analysed model,

    P(major) = sigmoid(b + w . x),  x = (log WordNet distance, ReaL rater score, log(1 + confusions))

* ``log_distance``: log of the WordNet tree distance from the prediction to the nearest valid label;
* ``rater_score``: the ReaL raters' Dawid-Skene score for the predicted class *on this image*
  (0 when they never judged it): plausible-looking predictions are rarely major;
* ``log_confusability``: ``log(1 + k)`` with ``k`` the val images on which another model (the
  cross-validated ResNet-50 of cleanlab) confuses the two classes, this image left out.

A mistake is ``major`` when ``P(major) >= major_from``, ``borderline`` when it is at least
``borderline_from`` (the band just under the cut, sized to hold the experts' share of borderline
ratings), else ``minor``. Vasudevan et al. count borderline as minor, and so do reassess's
"minor forgiven" figures. Images without ReaL scores (anything but ImageNet val) use a model fit
without that feature.

The shipped coefficients (``analysis/data/severity_model.json``) are fit by
``scripts/build_severity_model.py`` on the expert ratings of the ViT-3B mistakes only;
``benchmarks/bench_taxonomy.py`` scores them on the held-out Greedy Soups mistakes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from reassess.metrics.stats import cohen_kappa

SEVERITIES: tuple[str, ...] = ("minor", "borderline", "major")
#: Severity of a "mistake" that is none: the prediction is valid, or the label was wrong.
NO_SEVERITY = "none"
#: Severities that "minor forgiven" accuracy forgives (Vasudevan et al. count borderline as minor).
FORGIVEN_SEVERITIES: tuple[str, ...] = (NO_SEVERITY, "minor", "borderline")
FEATURES: tuple[str, ...] = ("log_distance", "rater_score", "log_confusability")
#: L2 penalty of the logistic fit (per coefficient, on standardised features).
L2_PENALTY = 1.0
MODEL_FILE = "severity_model.json"


def severity_features(
    distance: np.ndarray, rater_score: np.ndarray, confusability: np.ndarray
) -> dict[str, np.ndarray]:
    """The model's inputs from per-mistake evidence (NaN rater scores count as 0: never judged)."""
    distance = np.maximum(np.asarray(distance, dtype=np.float64), 1.0)
    score = np.nan_to_num(np.asarray(rater_score, dtype=np.float64), nan=0.0)
    return {
        "log_distance": np.log(distance),
        "rater_score": score,
        "log_confusability": np.log1p(np.maximum(np.asarray(confusability, np.float64), 0)),
    }


@dataclass(frozen=True)
class SeverityModel:
    """Logistic P(major) over named features, with the two cuts that make it a label."""

    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    major_from: float
    borderline_from: float
    fit: dict[str, Any] = field(default_factory=dict)

    def probability(self, features: dict[str, np.ndarray]) -> np.ndarray:
        """P(major) of each mistake; ``features`` must hold every name in :attr:`features`."""
        z = np.full(len(features[self.features[0]]), self.intercept, dtype=np.float64)
        for name, w in zip(self.features, self.coefficients, strict=True):
            z += w * np.asarray(features[name], dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-z))

    def label(self, probability: np.ndarray) -> np.ndarray:
        """``minor`` / ``borderline`` / ``major`` of each probability."""
        p = np.asarray(probability, dtype=np.float64)
        out = np.full(len(p), "minor", dtype=object)
        out[p >= self.borderline_from] = "borderline"
        out[p >= self.major_from] = "major"
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> SeverityModel:
        return cls(
            features=tuple(payload["features"]),
            coefficients=tuple(float(w) for w in payload["coefficients"]),
            intercept=float(payload["intercept"]),
            major_from=float(payload["major_from"]),
            borderline_from=float(payload["borderline_from"]),
            fit=dict(payload.get("fit", {})),
        )

    def describe(self) -> str:
        terms = " ".join(
            f"{w:+.3f}*{n}" for n, w in zip(self.features, self.coefficients, strict=True)
        )
        return (
            f"P(major) = sigmoid({self.intercept:+.3f} {terms}); major if >= {self.major_from:.3f}, "
            f"borderline if >= {self.borderline_from:.3f}"
        )


#: Scores every mistake 0.5: lets the rules run before any severity model is fit (kinds do not
#: depend on severity), as the fitting scripts need.
UNFITTED = SeverityModel(FEATURES, (0.0,) * len(FEATURES), 0.0, 0.5, 0.5)


def fit_severity_model(
    features: dict[str, np.ndarray],
    is_major: np.ndarray,
    *,
    is_borderline: np.ndarray | None = None,
    names: tuple[str, ...] = FEATURES,
    provenance: dict[str, Any] | None = None,
) -> SeverityModel:
    """Fit P(major) by L2-penalised logistic regression and place the two cuts.

    ``major_from`` maximises Cohen's kappa between predicted and given major/not-major on the fit
    data; ``borderline_from`` is the quantile of P(major) among predicted non-major mistakes that
    gives them the share of borderline ratings the fit data has among its non-major ones (no band
    when ``is_borderline`` is None).
    """
    from scipy.optimize import minimize

    y = np.asarray(is_major, dtype=np.float64)
    x = np.column_stack([np.asarray(features[n], dtype=np.float64) for n in names])
    if len(y) < 10 or y.min() == y.max():
        raise ValueError("fitting a severity model needs at least 10 mistakes of both severities")
    mean, scale = x.mean(0), x.std(0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        logits = theta[0] + z @ theta[1:]
        p = 1.0 / (1.0 + np.exp(-logits))
        nll = np.sum(np.logaddexp(0.0, logits) - y * logits)
        grad = np.concatenate([[np.sum(p - y)], z.T @ (p - y)])
        penalty = 0.5 * L2_PENALTY * np.sum(theta[1:] ** 2)
        grad[1:] += L2_PENALTY * theta[1:]
        return float(nll + penalty), grad

    theta = minimize(loss, np.zeros(len(names) + 1), jac=True, method="L-BFGS-B").x
    weights = theta[1:] / scale
    intercept = float(theta[0] - np.sum(theta[1:] * mean / scale))
    draft = SeverityModel(names, tuple(float(w) for w in weights), intercept, 0.5, 0.5)
    prob = draft.probability({n: x[:, i] for i, n in enumerate(names)})
    cuts = np.unique(np.round(prob, 6))
    given = (y > 0).tolist()
    kappas = [cohen_kappa((prob >= c).tolist(), given) for c in cuts]
    major_from = float(cuts[int(np.argmax([-1.0 if k is None else k for k in kappas]))])
    borderline_from = major_from
    if is_borderline is not None:
        border = np.asarray(is_borderline, dtype=bool)
        share = border[y == 0].mean() if (y == 0).any() else 0.0
        below = np.sort(prob[prob < major_from])
        if share > 0 and len(below):
            borderline_from = float(np.quantile(below, 1.0 - share))
    return SeverityModel(
        features=names,
        coefficients=draft.coefficients,
        intercept=intercept,
        major_from=major_from,
        borderline_from=min(borderline_from, major_from),
        fit={**(provenance or {}), "n": int(len(y)), "major": int(y.sum())},
    )


def _model_path() -> Path:
    return Path(str(resources.files("reassess.analysis") / "data" / MODEL_FILE))


@lru_cache(maxsize=1)
def _shipped() -> dict[str, Any]:
    path = _model_path()
    if not path.exists():
        raise FileNotFoundError(f"{path}: shipped severity model is missing; reinstall reassess")
    return json.loads(path.read_text(encoding="utf-8"))


def default_severity_model(*, rater_scores: bool = True) -> SeverityModel:
    """The shipped model, with or without the ReaL rater-score feature."""
    return SeverityModel.from_dict(_shipped()["with_rater_scores" if rater_scores else "without"])
