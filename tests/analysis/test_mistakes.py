"""Each rule of the mistake taxonomy on real class pairs and real val images, and the full run."""

import time

import numpy as np
import pyarrow.parquet as pq
import pytest

from reassess.analysis.evidence import (
    FACTORS,
    cooccurrence_matrix,
    human_cooccurrence,
    imagenet_x,
    real_cooccurrence,
    resnet50_confusability,
)
from reassess.analysis.mistakes import (
    ATYPICAL_FACTORS,
    CATEGORIES,
    KINDS,
    VERDICTS,
    Evidence,
    TaxonomyRules,
    classify_mistakes,
    default_evidence,
)
from reassess.datasets.imagenet import (
    imagenetv2_multilabel_sets,
    real_label_sets,
    val_file_names,
    val_labels,
)
from reassess.labels.hierarchy import imagenet_hierarchy
from reassess.labels.label_sets import LabelSets

TENCH, GOLDFISH, REEL = 0, 1, 758
NORFOLK_TERRIER, NORWICH_TERRIER = 185, 186
LAPTOP, NOTEBOOK = 620, 681
AIRLINER = 404
SEA_LION, OTTER = 150, 360
ALP, SKI = 970, 795
JELLYFISH, TIGER_SHARK = 107, 3
GREAT_WHITE, SCUBA_DIVER = 2, 983
RULES = TaxonomyRules()


def classify_one(sample_id, label, prediction, **kwargs):
    m = classify_mistakes(
        np.array([sample_id], dtype=object), np.array([label]), np.array([prediction]), **kwargs
    )
    assert len(m) == 1
    return {name: values[0] for name, values in m.columns.items()}, m


def real_for(file_names):
    return {"real": real_label_sets().align(list(file_names))}


# --- rule 3 / 4: close relatives --------------------------------------------------------------


def test_two_terrier_breeds_are_fine_grained():
    row, _ = classify_one("my/photo.jpg", NORFOLK_TERRIER, NORWICH_TERRIER)
    assert row["category"] == row["kind"] == "fine_grained"
    assert row["label_fine"] == row["prediction_fine"] == "terrier"
    assert row["wordnet_distance"] == 2
    assert "same fine superclass 'terrier'" in row["evidence"]
    # the out-of-vocabulary question is only asked of mistakes that are not fine-grained
    assert row["oov"] is None


def test_oov_is_never_guessed_from_an_empty_real_set():
    """ReaL's raters accepting no class is no evidence of an out-of-vocabulary object."""
    ids = ["a", "b"]
    sets = LabelSets.from_lists("real", ids, [[TENCH], []])
    m = classify_mistakes(
        np.array(ids, dtype=object),
        np.array([TENCH, TENCH]),
        np.array([AIRLINER, AIRLINER]),
        label_sets={"real": sets},
    )
    assert m.category.tolist() == ["unexplained", "unexplained"]
    assert m["oov"].tolist() == ["undecidable", "undecidable"]
    assert "undecidable without images" in m["evidence"][1]


def test_tench_predicted_as_goldfish_is_fine_grained_but_as_reel_is_spurious():
    """A tench held by an angler next to a reel: the reel co-occurs, it is no relative of tench."""
    h = imagenet_hierarchy()
    assert h.distance(TENCH, REEL) > RULES.fine_grained_max_distance
    assert h.superclass(TENCH) != h.superclass(REEL)
    # Brute force over the ReaL and ImageNetV2 lists: images whose set holds both tench and reel.
    lists = [*real_label_sets().to_lists(), *imagenetv2_multilabel_sets().to_lists()]
    both = sum(1 for s in lists if TENCH in s and REEL in s)
    assert both >= RULES.spurious_min_cooccurrences
    row, _ = classify_one("angler.jpg", TENCH, REEL)
    assert row["category"] == "spurious_correlation"
    assert row["cooccurrences"] == both
    assert f"{both} other images" in row["evidence"]
    assert "superclasses 'device' / 'fish'" in row["evidence"]
    assert "ReaL and ImageNetV2 labels" in row["evidence"]

    row, _ = classify_one("aquarium.jpg", TENCH, GOLDFISH)
    assert row["category"] == "fine_grained"
    assert row["label_fine"] == "cyprinid"


def test_taxon_rule_covers_dog_breeds_of_different_fine_groups():
    h = imagenet_hierarchy()
    german_shepherd, irish_setter = 235, 213
    assert h.superclass(german_shepherd) != h.superclass(irish_setter)
    assert h.distance(german_shepherd, irish_setter) > RULES.fine_grained_max_distance
    row, _ = classify_one("dog.jpg", irish_setter, german_shepherd)
    assert row["category"] == "fine_grained"
    assert "same taxon 'dog'" in row["evidence"]


def test_pairs_another_model_confuses_are_fine_grained_with_the_image_left_out():
    """Leatherback turtle vs grey whale: far apart in WordNet, yet the cross-validated ResNet-50
    takes one for the other on 5 val images. On one of those very images, 4 others remain."""
    leatherback, grey_whale = 34, 147
    h = imagenet_hierarchy()
    assert h.distance(leatherback, grey_whale) > RULES.fine_grained_max_distance
    conf = resnet50_confusability()
    assert conf.counts[leatherback, grey_whale] + conf.counts[grey_whale, leatherback] == 5
    row, _ = classify_one("sea.jpg", leatherback, grey_whale)
    assert row["category"] == "fine_grained"
    assert row["evidence_source"] == "confusability"
    assert row["confusability"] == 5
    assert "confused on 5 other val images" in row["evidence"]
    one = np.flatnonzero((conf.labels == leatherback) & (conf.predictions == grey_whale))[0]
    row, _ = classify_one(conf.file_names[one], leatherback, grey_whale)
    assert row["confusability"] == 4


def test_the_confusion_threshold_is_a_rule():
    leatherback, grey_whale = 34, 147
    strict = TaxonomyRules(confusable_min=6)
    row, m = classify_one("sea.jpg", leatherback, grey_whale, rules=strict)
    assert row["category"] != "fine_grained"
    assert m.rules == strict


# --- rule 1: not a mistake --------------------------------------------------------------------


def test_prediction_in_the_real_set_is_not_a_mistake():
    name = "ILSVRC2012_val_00000002.JPEG"  # an alp with skis: ReaL lists both
    assert sorted(real_label_sets().labels_of(1)) == [SKI, ALP]
    row, _ = classify_one(name, ALP, SKI, label_sets=real_for([name]))
    assert row["category"] == "not_a_mistake"
    assert row["evidence_source"] == "real"
    assert row["in_real"]
    assert "the ReaL set holds 'ski'" in row["evidence"]


def test_duplicate_class_names_are_not_a_mistake():
    row, _ = classify_one("desk.jpg", LAPTOP, NOTEBOOK)
    assert row["category"] == "not_a_mistake"
    assert row["evidence_source"] == "equivalence"
    assert row["equivalent"]


def test_rule_one_takes_precedence_over_closeness():
    """Two terriers, but ReaL accepts the prediction: not a mistake, not fine-grained."""
    ids = ["x"]
    sets = LabelSets.from_lists("real", ids, [[NORFOLK_TERRIER, NORWICH_TERRIER]])
    row, _ = classify_one("x", NORFOLK_TERRIER, NORWICH_TERRIER, label_sets={"real": sets})
    assert row["category"] == "not_a_mistake"


def test_expert_labels_count_as_valid():
    ids = ["x"]
    expert = LabelSets.from_lists("expert", ids, [[TENCH, AIRLINER]])
    row, m = classify_one("x", TENCH, AIRLINER, expert=expert)
    assert row["category"] == "not_a_mistake"
    assert row["evidence_source"] == "expert" and row["in_expert"]
    assert row["severity"] == "none"
    assert m.has_expert


def test_experts_overrule_real_where_they_annotate_the_image():
    """ReaL accepts ski on the alp image; experts who saw it and did not accept ski win."""
    name = "ILSVRC2012_val_00000002.JPEG"
    expert = LabelSets.from_lists("expert", [name], [[ALP]])
    row, _ = classify_one(name, ALP, SKI, label_sets=real_for([name]), expert=expert)
    assert row["in_real"] and not row["in_expert"] and row["expert_decides"]
    assert row["category"] == row["kind"] != "not_a_mistake"
    assert row["severity"] in ("minor", "borderline", "major")
    assert row["valid_labels"] == [ALP]  # ReaL's ski is not a valid label here
    # where the experts are silent, ReaL decides
    silent = LabelSets.from_lists("expert", ["other.jpg"], [[ALP]]).align([name])
    row, _ = classify_one(name, ALP, SKI, label_sets=real_for([name]), expert=silent)
    assert row["category"] == "not_a_mistake" and row["evidence_source"] == "real"


def test_experts_who_accept_no_class_mean_out_of_vocabulary_even_if_real_has_one():
    name = "ILSVRC2012_val_00000002.JPEG"  # ReaL: alp and ski
    expert = LabelSets.from_lists("expert", [name], [[]])
    row, _ = classify_one(name, ALP, AIRLINER, label_sets=real_for([name]), expert=expert)
    assert row["oov"] == "yes" and row["oov_source"] == "expert"
    assert row["category"] == "fine_grained_oov"
    assert "experts accepted no ImageNet class" in row["evidence"]


# --- rule 2: known label errors ---------------------------------------------------------------


def test_crowd_validated_label_error():
    name = "ILSVRC2012_val_00000033.JPEG"  # labelled sea lion; 3 of 5 workers chose otter
    errors = default_evidence().label_errors
    i = errors.file_names.tolist().index(name)
    assert errors.given[i] == SEA_LION and errors.guessed[i] == OTTER
    assert errors.votes_for("guessed")[i] >= 3
    row, _ = classify_one(name, SEA_LION, OTTER)
    assert row["category"] == "known_label_error"
    assert row["severity"] == "none"
    assert row["cleanlab_category"] == "correctable"
    assert "'otter' 3/5" in row["evidence"] and "the crowd chose the prediction" in row["evidence"]
    # experts who annotate the image decide instead of the crowd
    expert = LabelSets.from_lists("expert", [name], [[SEA_LION]])
    row, _ = classify_one(name, SEA_LION, OTTER, expert=expert)
    assert row["category"] != "known_label_error" and row["cleanlab_category"] == "correctable"


def test_a_multi_label_error_forgives_the_crowds_second_label():
    name = "ILSVRC2012_val_00010074.JPEG"  # tiger shark; 4 of 5 workers: both, with scuba diver
    row, _ = classify_one(name, TIGER_SHARK, SCUBA_DIVER)
    assert row["cleanlab_category"] == "multi-label"
    assert row["category"] == "known_label_error"
    assert "accepts both" in row["evidence"]


@pytest.mark.parametrize(
    "name, label, prediction, crowd",
    [
        ("ILSVRC2012_val_00023935.JPEG", TIGER_SHARK, GREAT_WHITE, "neither"),  # 4/5 neither
        ("ILSVRC2012_val_00037383.JPEG", TENCH, 389, "non-agreement"),  # barracouta 1/5
    ],
)
def test_errors_with_no_agreed_label_fall_through_to_the_kinds(name, label, prediction, crowd):
    row, _ = classify_one(name, label, prediction)
    assert row["cleanlab_category"] == crowd
    assert row["category"] == row["kind"] and row["category"] in KINDS


def test_label_error_with_a_third_prediction_is_judged_against_the_crowd_label():
    name = "ILSVRC2012_val_00000033.JPEG"
    row, _ = classify_one(name, SEA_LION, AIRLINER)
    assert row["category"] != "known_label_error"
    assert OTTER in row["valid_labels"] and SEA_LION not in row["valid_labels"]
    assert row["cleanlab_category"] == "correctable"


def test_label_error_lookup_needs_the_same_label():
    """A val file name with another label is not the image cleanlab's workers judged."""
    name = "ILSVRC2012_val_00000033.JPEG"
    row, _ = classify_one(name, TENCH, OTTER)
    assert row["category"] != "known_label_error"
    assert row["cleanlab_category"] is None


# --- the atypical flag (ImageNet-X) ----------------------------------------------------------


def test_imagenet_x_atypical_image_is_flagged_not_a_kind():
    name = "ILSVRC2012_val_00000063.JPEG"  # a jellyfish ImageNet-X marks 'darker'
    x = imagenet_x()
    r = x.file_names.tolist().index(name)
    assert x.labels[r] == JELLYFISH and not x.prototype[r]
    assert x.factors[r, FACTORS.index("darker")]
    assert human_cooccurrence()[JELLYFISH, TIGER_SHARK] == 0
    row, _ = classify_one(name, JELLYFISH, TIGER_SHARK)
    assert row["atypical"] and row["x_darker"] and row["x_annotated"]
    assert "darker" in row["imagenet_x_factors"]
    assert row["category"] == "unexplained"


def test_prototype_images_are_never_atypical():
    x = imagenet_x()
    atypical = x.factors[:, [FACTORS.index(f) for f in ATYPICAL_FACTORS]].any(axis=1)
    r = int(np.flatnonzero(x.prototype & atypical)[0])
    row, _ = classify_one(x.file_names[r], int(x.labels[r]), AIRLINER)
    assert row["x_prototype"] and not row["atypical"]


def test_atypical_factors_are_the_rare_ones():
    """Every listed factor is flagged for < 10% of images; pose, background, pattern, color more."""
    prevalence = dict(zip(FACTORS, imagenet_x().factors.mean(axis=0), strict=True))
    for f in ATYPICAL_FACTORS:
        assert prevalence[f] < 0.10, f
    for f in ("pose", "background", "pattern", "color"):
        assert prevalence[f] > 0.25, f


# --- rule 6: unexplained ----------------------------------------------------------------------


def test_far_classes_with_no_evidence_are_unexplained():
    row, _ = classify_one("pond.jpg", TENCH, AIRLINER)
    assert row["category"] == "unexplained"
    assert row["wordnet_distance"] == imagenet_hierarchy().distance(TENCH, AIRLINER) >= 12
    assert row["label_coarse"] == "fish" and row["prediction_coarse"] == "craft"
    assert "not confusable, no co-occurrence" in row["evidence"]
    assert row["severity"] == "major"  # far, never judged plausible, never confused


# --- co-occurrence ------------------------------------------------------------------------------


def test_cooccurrence_matrix_counts_pairs_of_each_set():
    sets = LabelSets.from_lists("x", ["a", "b", "c"], [[0, 2], [2], [0, 1, 2]])
    m = cooccurrence_matrix(sets, 3)
    assert m.tolist() == [[2, 1, 2], [1, 1, 1], [2, 1, 3]]
    real = real_cooccurrence()
    assert np.array_equal(real, real.T)
    assert np.array_equal(np.diag(real), np.bincount(real_label_sets().indices, minlength=1000))


def test_spurious_needs_two_other_images_and_two_superclasses():
    """Peychev et al.'s filter: one co-occurring image is not enough; nor is a same-superclass pair."""
    real, h = human_cooccurrence(), imagenet_hierarchy()
    coarse, _ = h.superclass_array("coarse")
    stingray, tench, cowboy_hat = 6, 0, 515
    assert real[stingray, SCUBA_DIVER] == 2 and coarse[stingray] != coarse[SCUBA_DIVER]
    assert real[tench, cowboy_hat] == 1
    row, _ = classify_one("reef.jpg", stingray, SCUBA_DIVER)
    assert row["category"] == "spurious_correlation" and row["cooccurrences"] == 2
    row, _ = classify_one("lake.jpg", tench, cowboy_hat)
    assert row["category"] == "unexplained"
    bathing_cap, maillot = 433, 638  # both clothing, seen together on 14 images
    assert real[bathing_cap, maillot] == 14 and coarse[bathing_cap] == coarse[maillot]
    row, _ = classify_one("pool.jpg", bathing_cap, maillot)
    assert row["category"] != "spurious_correlation" and row["cooccurrences"] == 0


def test_co_occurrence_pools_real_and_imagenetv2_multilabels():
    v2 = imagenetv2_multilabel_sets()
    pooled = human_cooccurrence()
    assert np.array_equal(pooled, real_cooccurrence() + cooccurrence_matrix(v2))
    # an ImageNetV2 image's own set is left out of its count, as a val image's is
    coarse, _ = imagenet_hierarchy().superclass_array("coarse")
    i, a, b = next(
        (i, s[0], c)
        for i, s in enumerate(v2.to_lists())
        for c in s[1:]
        if coarse[s[0]] != coarse[c] and pooled[s[0], c] >= 3
    )
    m = classify_mistakes(
        np.array([v2.sample_ids[i], "elsewhere.jpg"], dtype=object),
        np.array([a, a]),
        np.array([b, b]),
    )
    assert m["cooccurrences"].tolist() == [pooled[a, b] - 1, pooled[a, b]]


def test_the_image_itself_is_not_evidence_of_co_occurrence():
    """A pair that co-occurs on two val images is spurious elsewhere, not on one of those two."""
    stingray = 6
    lists = real_label_sets().to_lists()
    owner = next(i for i, s in enumerate(lists) if stingray in s and SCUBA_DIVER in s)
    ids = np.array([val_file_names()[owner], "elsewhere.jpg"], dtype=object)
    m = classify_mistakes(ids, np.array([stingray] * 2), np.array([SCUBA_DIVER] * 2))
    assert m["cooccurrences"].tolist() == [1, 2]
    assert m.category.tolist() == ["unexplained", "spurious_correlation"]


def test_evidence_can_be_left_out():
    """Without confusions, rater scores, cleanlab or ImageNet-X the rules still run."""
    bare = Evidence(hierarchy=imagenet_hierarchy(), cooccurrence=real_cooccurrence())
    row, _ = classify_one("sea.jpg", 34, 147, evidence=bare)  # leatherback / grey whale
    assert row["confusability"] == 0 and row["category"] == "unexplained"
    assert row["rater_score"] != row["rater_score"]  # NaN: never judged


# --- the whole shipped ResNet-50 run ----------------------------------------------------------


@pytest.fixture(scope="module")
def resnet50_run(shipped_resnet50_predictions):
    table = pq.read_table(shipped_resnet50_predictions)
    position = {f: i for i, f in enumerate(val_file_names().tolist())}
    order = np.array([position[f] for f in table.column("file_name").to_pylist()])
    preds = np.empty(50_000, dtype=np.int64)
    preds[order] = table.column("prediction").to_numpy()
    ids, labels = val_file_names(), val_labels().astype(np.int64)
    sets = real_for(ids)
    start = time.perf_counter()
    mistakes = classify_mistakes(ids, labels, preds, label_sets=sets, evidence=default_evidence())
    seconds = time.perf_counter() - start
    return ids, labels, preds, sets, mistakes, seconds


def test_every_top1_mistake_gets_exactly_one_category(resnet50_run):
    ids, labels, preds, _, mistakes, seconds = resnet50_run
    wrong = np.flatnonzero(preds != labels)
    assert np.array_equal(mistakes["row"], wrong)
    assert len(mistakes) == 50_000 - 36_366  # top-1 72.732%
    assert set(mistakes.category.tolist()) <= set(CATEGORIES)
    assert all(isinstance(e, str) and e for e in mistakes["evidence"])
    assert seconds < 10, f"classifying 50,000 images took {seconds:.1f} s"


def test_not_a_mistake_by_real_is_what_real_accuracy_implies(resnet50_run):
    """Mistakes whose prediction is in the ReaL set == ReaL-correct & original-wrong images.

    Counted independently of the analysis, from the ReaL lists: an image counts when its set is
    non-empty (ReaL-evaluable), holds the prediction and the prediction is not the label. With the
    ReaL top-1 of metrics.json: real_top1 * n_evaluable - (#evaluable images right on both).
    """
    ids, labels, preds, _, mistakes, _ = resnet50_run
    lists = real_label_sets().to_lists()
    real_right = np.array([p in s for p, s in zip(preds.tolist(), lists, strict=True)])
    evaluable = np.array([len(s) > 0 for s in lists])
    expected = int((evaluable & real_right & (preds != labels)).sum())
    by_real = (mistakes.category == "not_a_mistake") & (mistakes["evidence_source"] == "real")
    assert int(mistakes["in_real"].sum()) == int(by_real.sum()) == expected
    real_top1_hits = int((evaluable & real_right).sum())
    assert real_top1_hits / evaluable.sum() == pytest.approx(0.776138522962615)  # metrics.json
    assert expected == real_top1_hits - int((evaluable & real_right & (preds == labels)).sum())
    assert expected == 2733
    assert not mistakes["expert_decides"].any()
    # The rest of "not a mistake" is the duplicate class names only.
    rest = (mistakes.category == "not_a_mistake") & ~by_real
    assert set(mistakes["evidence_source"][rest].tolist()) == {"equivalence"}


def test_severity_is_the_score_not_the_category(resnet50_run):
    *_, mistakes, _ = resnet50_run
    cat, sev = mistakes.category, mistakes.severity
    forgiven = np.isin(cat, VERDICTS)
    assert set(sev[forgiven].tolist()) == {"none"}
    model = mistakes.severity_model
    p = mistakes["major_probability"]
    assert np.array_equal(sev[~forgiven] == "major", p[~forgiven] >= model["major_from"])
    border = (p >= model["borderline_from"]) & (p < model["major_from"])
    assert np.array_equal(sev[~forgiven] == "borderline", border[~forgiven])
    for kind in ("fine_grained", "spurious_correlation", "unexplained"):  # several severities
        assert len(set(sev[cat == kind].tolist())) > 1, kind
    assert all((cat == c).any() for c in CATEGORIES if c != "fine_grained_oov")
    # without images or expert labels nothing is decided out of vocabulary
    assert not (cat == "fine_grained_oov").any()


def test_parquet_table_has_one_row_per_mistake(resnet50_run, tmp_path):
    from reassess.store.run import RunDir

    *_, mistakes, _ = resnet50_run
    run = RunDir(tmp_path)
    run.write_mistakes(mistakes.to_table())  # checked against the run-folder schema
    table = run.read_mistakes()
    assert table.num_rows == len(mistakes)
    for col in (
        "sample_id",
        "category",
        "kind",
        "severity",
        "major_probability",
        "evidence",
        "wordnet_distance",
        "label_fine",
        "prediction_fine",
        "label_coarse",
        "prediction_coarse",
        "imagenet_x_factors",
        "x_pose",
        "valid_labels",
        "confusability",
        "rater_score",
        "atypical",
        "oov",
    ):
        assert col in table.column_names, col
    x = table.column("x_annotated").to_numpy(zero_copy_only=False)
    assert table.column("x_pose").null_count == int((~x).sum())
    assert table.column("confidence").null_count == table.num_rows
