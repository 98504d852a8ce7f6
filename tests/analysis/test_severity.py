"""The severity score: its features, its cuts, its fit, and the shipped model."""

import numpy as np
import pytest

from reassess.analysis.severity import (
    FEATURES,
    SeverityModel,
    default_severity_model,
    fit_severity_model,
    severity_features,
)


def test_features_from_evidence():
    f = severity_features(np.array([2, 12]), np.array([0.9, np.nan]), np.array([0, 7]))
    assert f["log_distance"].tolist() == pytest.approx([np.log(2), np.log(12)])
    assert f["rater_score"].tolist() == [0.9, 0.0]  # never judged counts as 0
    assert f["log_confusability"].tolist() == pytest.approx([0.0, np.log(8)])


def test_labels_come_from_the_two_cuts():
    model = SeverityModel(("x",), (1.0,), 0.0, major_from=0.6, borderline_from=0.4)
    p = model.probability({"x": np.array([-2.0, 0.0, 2.0])})
    assert p.tolist() == pytest.approx([1 / (1 + np.e**2), 0.5, 1 / (1 + np.e**-2)])
    assert model.label(p).tolist() == ["minor", "borderline", "major"]
    assert SeverityModel.from_dict(model.to_dict()) == model


def test_fit_recovers_a_known_logistic_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    p = 1 / (1 + np.exp(-(0.5 + 2.0 * x[:, 0] - 1.0 * x[:, 1])))
    major = rng.random(4000) < p
    borderline = ~major & (rng.random(4000) < 0.2)
    model = fit_severity_model(
        {"a": x[:, 0], "b": x[:, 1]}, major, is_borderline=borderline, names=("a", "b")
    )
    assert model.coefficients == pytest.approx((2.0, -1.0), abs=0.15)
    assert model.intercept == pytest.approx(0.5, abs=0.15)
    labels = model.label(model.probability({"a": x[:, 0], "b": x[:, 1]}))
    # the band holds about the share of borderline ratings among the non-major ones
    share = (labels == "borderline").sum() / (labels != "major").sum()
    assert share == pytest.approx(borderline[~major].mean(), abs=0.03)
    assert model.fit == {"n": 4000, "major": int(major.sum())}


def test_fit_refuses_data_without_both_severities():
    with pytest.raises(ValueError, match="both severities"):
        fit_severity_model({"a": np.zeros(20)}, np.zeros(20, bool), names=("a",))


def test_shipped_model_was_fit_on_vit3b_and_reads_the_evidence_the_right_way():
    with_scores, without = default_severity_model(), default_severity_model(rater_scores=False)
    assert with_scores.features == FEATURES
    assert "rater_score" not in without.features
    for model in (with_scores, without):
        assert model.fit["file"] == "vit3b" and model.fit["n"] == 378
        assert model.borderline_from <= model.major_from
        weights = dict(zip(model.features, model.coefficients, strict=True))
        assert weights["log_confusability"] < 0  # pairs other models confuse are less severe
    assert dict(zip(FEATURES, with_scores.coefficients, strict=True))["rater_score"] < 0
