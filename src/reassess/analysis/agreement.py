"""How well the automatic mistake kinds agree with experts who sorted mistakes by hand.

Vasudevan et al. 2022 ("When does dough become a bagel?", google-research/imagenet-mistakes,
Apache-2.0) published every remaining mistake of a ViT-3B (378) and of a Greedy Soups model (249)
on the expert-labelled ImageNet val images, each with the experts' category and severity, in
``metadata/{vit3b,greedy_soups}_mistakes.json``::

    {"ILSVRC2012_val_00000612.JPEG": {"top_prediction": 192,
                                      "failure category": "Fine-grained error",
                                      "failure severity": "Minor"}, ...}

:func:`load_expert_mistakes` reads such a file, :func:`expert_kind` maps its categories onto
reassess's kinds and :func:`kind_agreement` compares two labelings (Cohen's kappa, per-kind
recall and precision, the confusion table). Every mistake in these files was confirmed by the
experts, so a reassess verdict that forgives one (``not_a_mistake``, ``known_label_error``) is a
disagreement too.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reassess.metrics.stats import cohen_kappa

#: The experts' category names -> reassess kinds. Non-prototypical has no reassess kind (it is a
#: flag), so it stays its own label and every reassess answer for it is a disagreement.
EXPERT_KINDS = {
    "Fine-grained error": "fine_grained",
    "Fine-grained with Multilabel Options": "fine_grained",
    "Fine-grained error with OOV": "fine_grained_oov",
    "Fine-grained with OOV": "fine_grained_oov",
    "Spurious Correlation": "spurious_correlation",
    "Non-prototypical": "non_prototypical",
}
EXPERT_SEVERITIES = {"Minor": "minor", "Borderline": "borderline", "Major": "major"}


class ExpertMistakesError(ValueError):
    """A hand-sorted mistakes file that cannot be read."""


@dataclass(frozen=True)
class ExpertMistakes:
    """One model's hand-sorted mistakes: val file, prediction, expert kind and severity."""

    name: str
    file_names: np.ndarray
    predictions: np.ndarray
    kinds: np.ndarray
    severities: np.ndarray
    sha256: str

    def __len__(self) -> int:
        return len(self.file_names)

    def subset(self, keep: np.ndarray) -> ExpertMistakes:
        """The mistakes where ``keep`` is True."""
        keep = np.asarray(keep, dtype=bool)
        return ExpertMistakes(
            self.name,
            self.file_names[keep],
            self.predictions[keep],
            self.kinds[keep],
            self.severities[keep],
            self.sha256,
        )


def load_expert_mistakes(path: Path | str) -> ExpertMistakes:
    """Read a ``*_mistakes.json`` file of google-research/imagenet-mistakes; one-line errors."""
    from reassess.labels.resources import file_sha256

    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExpertMistakesError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExpertMistakesError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(payload, dict) or not payload:
        raise ExpertMistakesError(f"{path}: expected a non-empty object of val file -> mistake")
    names, preds, kinds, sevs = [], [], [], []
    for name, entry in payload.items():
        try:
            prediction = int(entry["top_prediction"])
            category, severity = entry["failure category"], entry["failure severity"]
        except (TypeError, KeyError, ValueError):
            raise ExpertMistakesError(
                f"{path}: {name!r} lacks top_prediction / failure category / failure severity"
            ) from None
        if category not in EXPERT_KINDS or severity not in EXPERT_SEVERITIES:
            raise ExpertMistakesError(
                f"{path}: {name!r} has unknown category {category!r} or severity {severity!r}"
            )
        if not 0 <= prediction < 1000:
            raise ExpertMistakesError(f"{path}: {name!r} predicts {prediction}, not 0..999")
        names.append(name)
        preds.append(prediction)
        kinds.append(EXPERT_KINDS[category])
        sevs.append(EXPERT_SEVERITIES[severity])
    return ExpertMistakes(
        name=path.name.removesuffix(".json").removesuffix("_mistakes"),
        file_names=np.array(names, dtype=object),
        predictions=np.array(preds, dtype=np.int64),
        kinds=np.array(kinds, dtype=object),
        severities=np.array(sevs, dtype=object),
        sha256=file_sha256(path),
    )


def kind_agreement(ours: Sequence[str], experts: Sequence[str]) -> dict[str, Any]:
    """Cohen's kappa, raw agreement, per-label recall/precision and the confusion counts.

    ``recall[k]``: share of the experts' ``k`` that we call ``k``; ``precision[k]``: share of our
    ``k`` that the experts call ``k`` (None where the label never occurs on that side).

    Examples
    --------
    >>> a = kind_agreement(["fine_grained", "unexplained"], ["fine_grained", "spurious_correlation"])
    >>> a["agreement"], a["recall"]["fine_grained"], a["precision"]["unexplained"]
    (0.5, 1.0, 0.0)
    """
    ours, experts = [str(x) for x in ours], [str(x) for x in experts]
    if len(ours) != len(experts) or not ours:
        raise ValueError("kind_agreement needs two equally long, non-empty labelings")
    labels = sorted(set(ours) | set(experts))
    pairs = Counter(zip(experts, ours, strict=True))
    ours_n, experts_n = Counter(ours), Counter(experts)
    return {
        "n": len(ours),
        "kappa": cohen_kappa(ours, experts),
        "agreement": sum(pairs[(k, k)] for k in labels) / len(ours),
        "recall": {k: pairs[(k, k)] / experts_n[k] if experts_n[k] else None for k in labels},
        "precision": {k: pairs[(k, k)] / ours_n[k] if ours_n[k] else None for k in labels},
        "confusion": {e: {o: pairs[(e, o)] for o in labels if pairs[(e, o)]} for e in labels},
        "ours": dict(ours_n),
        "experts": dict(experts_n),
    }


def collapse_severity(severities: Sequence[str]) -> list[str]:
    """``major`` stays, everything else (minor, borderline, none) becomes ``minor``, as the paper."""
    return ["major" if s == "major" else "minor" for s in severities]


def classify_expert_mistakes(
    experts: ExpertMistakes,
    *,
    rules: Any = None,
    severity_model: Any = None,
    expert_labels: Any = None,
    oov_verdicts: Any = None,
) -> Any:
    """Run :func:`~reassess.analysis.mistakes.classify_mistakes` on a hand-sorted file's mistakes.

    The run is the file's images with their original val labels and the model's prediction, the
    ReaL sets as the human multi-labels (as ``reassess analyze`` uses for an ImageNet val run) and,
    when given, the expert multi-labels (``ExpertLabels``). Rows come back in the file's order.
    """
    from reassess.analysis.mistakes import classify_mistakes
    from reassess.datasets.imagenet import real_label_sets, val_index, val_labels

    rows = val_index(experts.file_names)
    if (rows < 0).any():
        bad = experts.file_names[rows < 0][0]
        raise ExpertMistakesError(f"{experts.name}: {bad!r} is not an ImageNet val file name")
    labels = val_labels()[rows].astype(np.int64)
    if (labels == experts.predictions).any():
        bad = experts.file_names[labels == experts.predictions][0]
        raise ExpertMistakesError(f"{experts.name}: {bad!r} predicts its own original label")
    ids = experts.file_names.tolist()
    expert = expert_labels.accepted().align(ids) if expert_labels is not None else None
    mistakes = classify_mistakes(
        experts.file_names,
        labels,
        experts.predictions,
        label_sets={"real": real_label_sets().align(ids)},
        expert=expert,
        oov_verdicts=oov_verdicts,
        rules=rules,
        severity_model=severity_model,
    )
    assert (mistakes["row"] == np.arange(len(experts))).all()
    return mistakes


#: The thresholds :func:`fit_rules` tries (``None``: the rule is off).
RULE_GRID = {
    "fine_grained_max_distance": (2, 3, 4, 5, 6),
    "confusable_min": (1, 2, 3, 5, 10, None),
    "spurious_min_cooccurrences": (2, 3, 5, None),  # at least Peychev et al.'s 2
}
RULE_OFF = 10**9


def fit_rules(experts: ExpertMistakes, **kwargs: Any) -> tuple[Any, float]:
    """The :class:`~reassess.analysis.mistakes.TaxonomyRules` of :data:`RULE_GRID` whose kinds
    agree best (Cohen's kappa) with the experts' on ``experts``; ties go to the earliest."""
    import itertools

    from reassess.analysis.mistakes import TaxonomyRules
    from reassess.analysis.severity import UNFITTED

    kwargs.setdefault("severity_model", UNFITTED)
    best, best_kappa = None, -2.0
    for values in itertools.product(*RULE_GRID.values()):
        settings = {k: RULE_OFF if v is None else v for k, v in zip(RULE_GRID, values, strict=True)}
        rules = TaxonomyRules(**settings)
        kinds = classify_expert_mistakes(experts, rules=rules, **kwargs)["kind"]
        kappa = cohen_kappa(kinds.tolist(), experts.kinds.tolist())
        if kappa is not None and kappa > best_kappa:
            best, best_kappa = rules, kappa
    assert best is not None
    return best, best_kappa


def severity_inputs(mistakes: Any) -> dict[str, np.ndarray]:
    """The severity model's features from a classified mistakes table."""
    from reassess.analysis.severity import severity_features

    return severity_features(
        mistakes["nearest_distance"], mistakes["rater_score"], mistakes["confusability"]
    )


def fit_severity(
    experts: ExpertMistakes, rules: Any, *, rater_scores: bool = True, **kwargs: Any
) -> Any:
    """A :class:`~reassess.analysis.severity.SeverityModel` fit on the experts' ratings."""
    from reassess.analysis.severity import FEATURES, UNFITTED, fit_severity_model

    mistakes = classify_expert_mistakes(experts, rules=rules, severity_model=UNFITTED, **kwargs)
    names = FEATURES if rater_scores else tuple(f for f in FEATURES if f != "rater_score")
    return fit_severity_model(
        severity_inputs(mistakes),
        experts.severities == "major",
        is_borderline=experts.severities == "borderline",
        names=names,
        provenance={"file": experts.name, "sha256": experts.sha256, "rules": rules.to_dict()},
    )
