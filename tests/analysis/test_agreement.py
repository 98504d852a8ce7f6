"""Reading hand-sorted mistake files and measuring agreement with them (on files made here)."""

import json

import numpy as np
import pytest

from reassess.analysis.agreement import (
    ExpertMistakesError,
    classify_expert_mistakes,
    fit_rules,
    kind_agreement,
    load_expert_mistakes,
)
from reassess.analysis.mistakes import TaxonomyRules
from reassess.datasets.imagenet import val_file_name, val_labels

LEATHERBACK, GREY_WHALE = 34, 147  # far in WordNet, confused 5 times by the ResNet-50


def write(path, entries):
    path.write_text(json.dumps(entries))
    return path


def entry(prediction, category="Fine-grained error", severity="Minor"):
    return {
        "top_prediction": prediction,
        "failure category": category,
        "failure severity": severity,
    }


@pytest.fixture
def leatherbacks(tmp_path):
    """Five real val images of leatherback turtles, 'predicted' as grey whales."""
    rows = np.flatnonzero(val_labels() == LEATHERBACK)[:5]
    return write(
        tmp_path / "model_mistakes.json",
        {val_file_name(int(r)): entry(GREY_WHALE) for r in rows},
    )


def test_load_maps_the_experts_names(tmp_path):
    path = write(
        tmp_path / "vit_mistakes.json",
        {
            val_file_name(0): entry(1, "Fine-grained error with OOV", "Borderline"),
            val_file_name(1): entry(2, "Non-prototypical", "Major"),
        },
    )
    experts = load_expert_mistakes(path)
    assert experts.name == "vit"
    assert experts.kinds.tolist() == ["fine_grained_oov", "non_prototypical"]
    assert experts.severities.tolist() == ["borderline", "major"]
    assert experts.predictions.tolist() == [1, 2]
    assert len(experts.sha256) == 64


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not a readable JSON file"),
        ("[]", "non-empty object"),
        (json.dumps({"a.JPEG": {"top_prediction": 1}}), "lacks top_prediction"),
        (json.dumps({"a.JPEG": entry(1, "Typo")}), "unknown category 'Typo'"),
        (json.dumps({"a.JPEG": entry(1000)}), "predicts 1000"),
    ],
)
def test_bad_files_get_one_line_naming_them(tmp_path, content, message):
    path = tmp_path / "bad_mistakes.json"
    path.write_text(content)
    with pytest.raises(ExpertMistakesError, match=message) as info:
        load_expert_mistakes(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_mistakes_that_are_not_mistakes_are_refused(tmp_path):
    own = int(val_labels()[0])
    path = write(tmp_path / "m_mistakes.json", {val_file_name(0): entry(own)})
    with pytest.raises(ExpertMistakesError, match="its own original label"):
        classify_expert_mistakes(load_expert_mistakes(path))
    path = write(tmp_path / "n_mistakes.json", {"holiday.jpg": entry(3)})
    with pytest.raises(ExpertMistakesError, match="not an ImageNet val file name"):
        classify_expert_mistakes(load_expert_mistakes(path))


def test_classified_rows_follow_the_file(leatherbacks):
    experts = load_expert_mistakes(leatherbacks)
    mistakes = classify_expert_mistakes(experts)
    assert mistakes["sample_id"].tolist() == experts.file_names.tolist()
    assert set(mistakes["kind"].tolist()) == {"fine_grained"}  # by confusability


def test_fit_rules_finds_the_threshold_the_experts_imply(leatherbacks):
    """If the experts call these far-apart-but-confused pairs fine-grained, the fit keeps the
    confusability rule on (any threshold up to the 4-5 confusions these images leave)."""
    experts = load_expert_mistakes(leatherbacks)
    other = val_file_name(int(np.flatnonzero(val_labels() == 0)[0]))  # a tench, as an airliner
    entries = json.loads(leatherbacks.read_text())
    entries[other] = entry(404, "Spurious Correlation")
    experts = load_expert_mistakes(write(leatherbacks, entries))
    rules, kappa = fit_rules(experts)
    assert rules.confusable_min <= 4
    assert kappa == pytest.approx(
        kind_agreement(classify_expert_mistakes(experts, rules=rules)["kind"], experts.kinds)[
            "kappa"
        ]
    )
    assert isinstance(rules, TaxonomyRules)


def test_kind_agreement_matches_scikit_learn():
    from sklearn.metrics import cohen_kappa_score

    ours = ["fine_grained", "unexplained", "fine_grained", "spurious_correlation", "unexplained"]
    experts = [
        "fine_grained",
        "fine_grained_oov",
        "fine_grained",
        "spurious_correlation",
        "non_prototypical",
    ]
    a = kind_agreement(ours, experts)
    assert a["kappa"] == pytest.approx(cohen_kappa_score(ours, experts))
    assert a["agreement"] == 3 / 5
    assert a["recall"]["fine_grained"] == 1.0 and a["recall"]["fine_grained_oov"] == 0.0
    assert a["precision"]["unexplained"] == 0.0 and a["precision"]["non_prototypical"] is None
    assert a["confusion"]["fine_grained_oov"] == {"unexplained": 1}
