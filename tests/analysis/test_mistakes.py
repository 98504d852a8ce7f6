"""Each rule of the mistake taxonomy on real class pairs and real val images, and the full run."""

import time

import numpy as np
import pyarrow.parquet as pq
import pytest

from reassess.analysis.evidence import (
    FACTORS,
    cooccurrence_matrix,
    imagenet_x,
    real_cooccurrence,
    vit3b_confusions,
)
from reassess.analysis.mistakes import (
    CATEGORIES,
    FINE_GRAINED_MAX_DISTANCE,
    NON_PROTOTYPICAL_FACTORS,
    NON_PROTOTYPICAL_MINOR_MAX_DISTANCE,
    Evidence,
    classify_mistakes,
    default_evidence,
)
from reassess.datasets.imagenet import real_label_sets, val_file_names, val_labels
from reassess.labels.hierarchy import imagenet_hierarchy
from reassess.labels.label_sets import LabelSets

TENCH, GOLDFISH, REEL = 0, 1, 758
NORFOLK_TERRIER, NORWICH_TERRIER = 185, 186
LAPTOP, NOTEBOOK = 620, 681
AIRLINER = 404
SEA_LION, OTTER = 150, 360
ALP, SKI = 970, 795
JELLYFISH, TIGER_SHARK = 107, 3


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
    assert row["category"] == "fine_grained"
    assert row["severity"] == "minor"
    assert row["label_fine"] == row["prediction_fine"] == "terrier"
    assert row["wordnet_distance"] == 2
    assert "same fine superclass 'terrier'" in row["evidence"]
    # No multi-label source covers a folder image: out-of-vocabulary cannot be decided.
    assert row["oov"] == "undecidable"


def test_oov_is_decided_by_the_multilabels():
    ids = np.array(["a", "b"], dtype=object)
    # "a": the raters accepted the label; "b": they accepted no class at all.
    sets = LabelSets.from_lists("real", list(ids), [[NORFOLK_TERRIER], []])
    m = classify_mistakes(
        ids,
        np.array([NORFOLK_TERRIER, NORFOLK_TERRIER]),
        np.array([NORWICH_TERRIER, NORWICH_TERRIER]),
        label_sets={"real": sets},
    )
    assert m.category.tolist() == ["fine_grained", "fine_grained_oov"]
    assert m["oov"].tolist() == ["no", "yes"]
    assert m.severity.tolist() == ["minor", "minor"]


def test_tench_predicted_as_goldfish_is_fine_grained_but_as_reel_is_spurious():
    """A tench held by an angler next to a reel: the reel co-occurs, it is no relative of tench."""
    h = imagenet_hierarchy()
    assert h.distance(TENCH, REEL) > FINE_GRAINED_MAX_DISTANCE
    assert h.superclass(TENCH) != h.superclass(REEL)
    # Brute force over the ReaL lists: images whose set holds both tench and reel.
    both = sum(1 for s in real_label_sets().to_lists() if TENCH in s and REEL in s)
    assert both >= 1

    row, _ = classify_one("angler.jpg", TENCH, REEL)
    assert row["category"] == "spurious_correlation"
    assert row["severity"] == "major"
    assert row["cooccurrences"] == both
    assert f"{both} other images" in row["evidence"]

    row, _ = classify_one("aquarium.jpg", TENCH, GOLDFISH)
    assert row["category"] == "fine_grained"
    assert row["label_fine"] == "cyprinid"


def test_taxon_rule_covers_dog_breeds_of_different_fine_groups():
    h = imagenet_hierarchy()
    german_shepherd, irish_setter = 235, 213
    assert h.superclass(german_shepherd) != h.superclass(irish_setter)
    assert h.distance(german_shepherd, irish_setter) > FINE_GRAINED_MAX_DISTANCE
    row, _ = classify_one("dog.jpg", irish_setter, german_shepherd)
    assert row["category"] == "fine_grained"
    assert "same taxon 'dog'" in row["evidence"]


def test_vit3b_confusion_widens_the_distance_bound():
    h = imagenet_hierarchy()
    conf = vit3b_confusions()
    dist = h.distance_matrix()
    fine, _ = h.superclass_array("fine")
    a, b = np.nonzero((conf > 0) & (dist > FINE_GRAINED_MAX_DISTANCE) & (dist <= 6))
    candidates = [
        (int(x), int(y))
        for x, y in zip(a, b, strict=True)
        if fine[x] != fine[y] and not h.is_a(int(x), "n00004475")
    ]
    assert candidates, "the ViT-3B list has pairs at distance 5-6"
    label, pred = candidates[0]
    row, _ = classify_one("thing.jpg", label, pred)
    assert row["category"] == "fine_grained"
    assert row["evidence_source"] == "vit3b_confusions"
    assert row["vit3b_confusions"] == conf[label, pred]


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
    assert m.has_expert


# --- rule 2: known label errors ---------------------------------------------------------------


def test_crowd_validated_label_error():
    name = "ILSVRC2012_val_00000033.JPEG"  # labelled sea lion; 3 of 5 workers chose otter
    errors = default_evidence().label_errors
    i = errors.file_names.tolist().index(name)
    assert errors.given[i] == SEA_LION and errors.guessed[i] == OTTER
    assert errors.votes_for("guessed")[i] >= 3
    row, _ = classify_one(name, SEA_LION, OTTER)
    assert row["category"] == "known_label_error"
    assert row["severity"] == "minor"
    assert row["cleanlab_category"] == "correctable"
    assert "the crowd chose 'otter'" in row["evidence"]


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


# --- rule 6: non-prototypical -----------------------------------------------------------------


def test_imagenet_x_atypical_image_is_non_prototypical():
    name = "ILSVRC2012_val_00000063.JPEG"  # a jellyfish ImageNet-X marks 'darker'
    x = imagenet_x()
    r = x.file_names.tolist().index(name)
    assert x.labels[r] == JELLYFISH and not x.prototype[r]
    assert x.factors[r, FACTORS.index("darker")]
    assert real_cooccurrence()[JELLYFISH, TIGER_SHARK] == 0
    row, _ = classify_one(name, JELLYFISH, TIGER_SHARK)
    assert row["category"] == "non_prototypical"
    assert row["x_darker"] and row["x_annotated"]
    assert "darker" in row["imagenet_x_factors"]
    # far from the label -> major
    assert row["nearest_distance"] > NON_PROTOTYPICAL_MINOR_MAX_DISTANCE
    assert row["severity"] == "major"


def test_prototype_images_are_never_non_prototypical():
    x = imagenet_x()
    atypical = x.factors[:, [FACTORS.index(f) for f in NON_PROTOTYPICAL_FACTORS]].any(axis=1)
    r = int(np.flatnonzero(x.prototype & atypical)[0])
    label = int(x.labels[r])
    # a prediction far from the label that never co-occurs with it
    h = imagenet_hierarchy()
    far = [
        c for c in range(1000) if h.distance(label, c) >= 12 and real_cooccurrence()[label, c] == 0
    ]
    row, _ = classify_one(x.file_names[r], label, far[0])
    assert row["x_prototype"]
    assert row["category"] == "major"


def test_non_prototypical_factors_are_the_rare_ones():
    """Every listed factor is flagged for < 10% of images; pose, background, pattern, color more."""
    prevalence = dict(zip(FACTORS, imagenet_x().factors.mean(axis=0), strict=True))
    for f in NON_PROTOTYPICAL_FACTORS:
        assert prevalence[f] < 0.10, f
    for f in ("pose", "background", "pattern", "color"):
        assert prevalence[f] > 0.25, f


# --- rule 7: major ------------------------------------------------------------------------------


def test_far_classes_are_a_major_mistake():
    row, _ = classify_one("pond.jpg", TENCH, AIRLINER)
    assert row["category"] == "major" and row["severity"] == "major"
    assert row["wordnet_distance"] == imagenet_hierarchy().distance(TENCH, AIRLINER) >= 12
    assert row["label_coarse"] == "fish" and row["prediction_coarse"] == "craft"
    assert "ImageNet-X not annotated" in row["evidence"]


# --- co-occurrence ------------------------------------------------------------------------------


def test_cooccurrence_matrix_counts_pairs_of_each_set():
    sets = LabelSets.from_lists("x", ["a", "b", "c"], [[0, 2], [2], [0, 1, 2]])
    m = cooccurrence_matrix(sets, 3)
    assert m.tolist() == [[2, 1, 2], [1, 1, 1], [2, 1, 3]]
    real = real_cooccurrence()
    assert np.array_equal(real, real.T)
    assert np.array_equal(np.diag(real), np.bincount(real_label_sets().indices, minlength=1000))


def test_the_image_itself_is_not_evidence_of_co_occurrence():
    """A pair that co-occurs on one val image only is spurious elsewhere, not on that image."""
    real = real_cooccurrence()
    h = imagenet_hierarchy()
    dist = h.distance_matrix()
    a, b = np.nonzero(np.triu(real == 1, 1) & (dist > 8))
    lists = real_label_sets().to_lists()
    a, b = int(a[0]), int(b[0])
    owner = next(i for i, s in enumerate(lists) if a in s and b in s)
    evidence = Evidence(
        hierarchy=h,
        confusions=vit3b_confusions(),
        cooccurrence=real,
        cooccurrence_sets=real_label_sets(),
    )
    ids = np.array([val_file_names()[owner], "elsewhere.jpg"], dtype=object)
    m = classify_mistakes(ids, np.array([a, a]), np.array([b, b]), evidence=evidence)
    assert m["cooccurrences"].tolist() == [0, 1]
    assert m.category.tolist() == ["major", "spurious_correlation"]


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
    # The rest of "not a mistake" is the duplicate class names only.
    rest = (mistakes.category == "not_a_mistake") & ~by_real
    assert set(mistakes["evidence_source"][rest].tolist()) == {"equivalence"}


def test_severity_follows_the_written_rules(resnet50_run):
    *_, mistakes, _ = resnet50_run
    cat, sev = mistakes.category, mistakes.severity
    for c in ("not_a_mistake", "known_label_error", "fine_grained", "fine_grained_oov"):
        assert set(sev[cat == c].tolist()) == {"minor"}, c
    for c in ("spurious_correlation", "major"):
        assert set(sev[cat == c].tolist()) == {"major"}, c
    nonproto = cat == "non_prototypical"
    near = mistakes["nearest_distance"] <= NON_PROTOTYPICAL_MINOR_MAX_DISTANCE
    assert np.array_equal(sev[nonproto] == "minor", near[nonproto])
    assert all((cat == c).any() for c in CATEGORIES), "the real run has every kind of mistake"


def test_parquet_table_has_one_row_per_mistake(resnet50_run, tmp_path):
    *_, mistakes, _ = resnet50_run
    path = tmp_path / "mistakes.parquet"
    pq.write_table(mistakes.to_table(), path)
    table = pq.read_table(path)
    assert table.num_rows == len(mistakes)
    for col in (
        "sample_id",
        "category",
        "severity",
        "evidence",
        "wordnet_distance",
        "label_fine",
        "prediction_fine",
        "label_coarse",
        "prediction_coarse",
        "imagenet_x_factors",
        "x_pose",
        "valid_labels",
    ):
        assert col in table.column_names, col
    x = table.column("x_annotated").to_numpy(zero_copy_only=False)
    assert table.column("x_pose").null_count == int((~x).sum())
    assert table.column("confidence").null_count == table.num_rows
