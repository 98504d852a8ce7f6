"""The WordNet 3.0 is-a hierarchy of the 1000 ImageNet-1k classes: ancestors, LCA, superclasses.

The shipped ``imagenet_hierarchy.json.gz`` is built by ``scripts/build_hierarchy.py`` from the
Princeton WordNet 3.0 noun database. WordNet is a DAG (304 classes have more than one hypernym
path); :meth:`ImageNetHierarchy.ancestors` can return all of them, while LCA, distance, depth and
the depth-k / fine superclasses use the canonical tree in which every synset's parent is its
first-listed WordNet hypernym (so ``dog`` sits under ``canine``, not ``domestic animal``).
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from reassess.labels.imagenet import NUM_CLASSES
from reassess.labels.resources import load_json

ROOT_WNID = "n00001740"  # entity
Level = str | int


class ImageNetHierarchy:
    """WordNet hypernym hierarchy over ImageNet-1k class indices 0..999."""

    def __init__(self, payload: dict[str, Any]) -> None:
        nodes, classes = payload["nodes"], payload["classes"]
        self.source: dict[str, str] = payload["source"]
        self.rules: dict[str, str] = payload["rules"]
        self.node_wnids: tuple[str, ...] = tuple(nodes["wnid"])
        self.node_names: tuple[str, ...] = tuple(nodes["name"])
        self.node_depth = np.asarray(nodes["depth"], dtype=np.int64)
        self.node_parents: tuple[tuple[int, ...], ...] = tuple(tuple(p) for p in nodes["parents"])
        self.node_num_classes = np.asarray(nodes["num_classes"], dtype=np.int64)
        self.class_node = np.asarray(classes["node"], dtype=np.int64)
        self.num_paths = np.asarray(classes["num_paths"], dtype=np.int64)
        self._dag_ancestors: tuple[tuple[int, ...], ...] = tuple(
            tuple(a) for a in classes["ancestors"]
        )
        self._superclasses = {
            k: np.asarray(v, dtype=np.int64) for k, v in payload["superclasses"].items()
        }
        self.coarse_wnids: tuple[str, ...] = tuple(payload["coarse_nodes"])
        self._node_index = {w: i for i, w in enumerate(self.node_wnids)}
        if len(self.class_node) != NUM_CLASSES:
            raise ValueError(f"expected {NUM_CLASSES} classes, got {len(self.class_node)}")
        # Root-first canonical tree path of every class, padded with -1: shape (1000, max_depth+1).
        tree_parent = [p[0] if p else -1 for p in self.node_parents]
        depths = self.node_depth[self.class_node]
        self._paths = np.full((NUM_CLASSES, int(depths.max()) + 1), -1, dtype=np.int64)
        for c, node in enumerate(self.class_node):
            d = int(depths[c])
            while node >= 0:
                self._paths[c, d] = node
                node, d = tree_parent[node], d - 1
            if d != -1:
                raise ValueError(f"class {c}: tree depth does not match its path to the root")

    # -- nodes ---------------------------------------------------------------------------------

    def node_index(self, wnid: str) -> int:
        """Index of a hierarchy node by WordNet id; KeyError if it is no ancestor of a class."""
        return self._node_index[wnid]

    def name_of(self, wnid: str) -> str:
        """First WordNet lemma of a node, e.g. ``'dog'`` for ``n02084071``."""
        return self.node_names[self._node_index[wnid]]

    def depth(self, c: int | np.ndarray) -> int | np.ndarray:
        """Canonical tree depth of class(es) ``c`` (entity = 0)."""
        out = self.node_depth[self.class_node[np.asarray(c)]]
        return int(out) if out.ndim == 0 else out

    # -- ancestors and classes -----------------------------------------------------------------

    def ancestors(self, c: int, all_paths: bool = False) -> list[str]:
        """WordNet ids of the ancestors of class ``c``, nearest first, ending with entity.

        Parameters
        ----------
        c : int
            Class index 0..999.
        all_paths : bool
            False (default): the canonical tree path (first-listed hypernyms), parent first.
            True: every ancestor in the hypernym DAG, i.e. the union of all hypernym paths,
            sorted by decreasing tree depth.

        Returns
        -------
        list of str
            WordNet ids, without the class itself.
        """
        c = _check_class(c)
        if all_paths:
            return [self.node_wnids[i] for i in self._dag_ancestors[c]]
        path = self._paths[c]
        return [self.node_wnids[i] for i in path[path >= 0][-2::-1]]

    def is_a(self, c: int, wnid: str) -> bool:
        """Whether class ``c`` is ``wnid`` or lies under it on any hypernym path."""
        c = _check_class(c)
        node = self._node_index.get(wnid)
        return node is not None and (node == self.class_node[c] or node in self._dag_ancestors[c])

    def classes_under(self, wnid: str) -> np.ndarray:
        """Sorted class indices that are ``wnid`` or lie under it on any hypernym path."""
        return np.array([c for c in range(NUM_CLASSES) if self.is_a(c, wnid)], dtype=np.int64)

    # -- lowest common ancestor and distance ---------------------------------------------------

    def _lca(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Node index and depth of the tree LCA of class index arrays ``a`` and ``b``."""
        pa, pb = self._paths[a], self._paths[b]
        # In a tree, two root-first paths agree on a prefix and never meet again below it.
        lca_depth = ((pa == pb) & (pa >= 0)).sum(axis=-1) - 1
        lca = np.take_along_axis(pa, lca_depth[..., None], axis=-1)[..., 0]
        return lca, lca_depth

    def lowest_common_ancestor(self, a: int | np.ndarray, b: int | np.ndarray) -> str | np.ndarray:
        """WordNet id of the lowest common ancestor of classes ``a`` and ``b`` in the tree.

        Parameters
        ----------
        a, b : int or array of int
            Class indices 0..999; arrays broadcast against each other.

        Returns
        -------
        str or numpy.ndarray of str
            The LCA's WordNet id (the class itself when ``a == b``); an array for array input.
        """
        a_arr, b_arr = np.broadcast_arrays(_check_class(a), _check_class(b))
        lca, _ = self._lca(a_arr, b_arr)
        if lca.ndim == 0:
            return self.node_wnids[int(lca)]
        return np.asarray(self.node_wnids)[lca]

    def distance(self, a: int | np.ndarray, b: int | np.ndarray) -> int | np.ndarray:
        """Tree path length between classes: ``depth(a) + depth(b) - 2 * depth(lca(a, b))``.

        Parameters
        ----------
        a, b : int or array of int
            Class indices 0..999; arrays broadcast against each other.

        Returns
        -------
        int or numpy.ndarray of int
            Number of is-a edges on the path between the two classes (0 when ``a == b``).
        """
        a_arr, b_arr = np.broadcast_arrays(_check_class(a), _check_class(b))
        _, lca_depth = self._lca(a_arr, b_arr)
        depth = self.node_depth[self.class_node]
        out = depth[a_arr] + depth[b_arr] - 2 * lca_depth
        return int(out) if out.ndim == 0 else out

    def distance_matrix(self) -> np.ndarray:
        """The 1000x1000 matrix of :meth:`distance` between all class pairs (cached, read-only).

        Returns
        -------
        numpy.ndarray
            ``int64`` array of shape (1000, 1000), symmetric with a zero diagonal.
        """
        return self._distance_matrix

    @cached_property
    def _distance_matrix(self) -> np.ndarray:
        """Computed once: shared prefix length of every pair of root-first tree paths."""
        shared = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
        for col in self._paths.T:
            shared += (col[:, None] == col[None, :]) & (col >= 0)[:, None]
        depth = self.node_depth[self.class_node]
        out = depth[:, None] + depth[None, :] - 2 * (shared - 1)
        out.flags.writeable = False
        return out

    # -- superclasses --------------------------------------------------------------------------

    def _superclass_nodes(self, level: Level) -> np.ndarray:
        """Node index of every class's superclass at ``level``."""
        if isinstance(level, str):
            if level not in ("fine", "coarse"):
                raise ValueError(f"level must be 'fine', 'coarse' or a depth, got {level!r}")
            return self._superclasses[level]
        if isinstance(level, bool) or not isinstance(level, int | np.integer) or level < 0:
            raise ValueError(f"depth level must be a non-negative int, got {level!r}")
        depth = self.node_depth[self.class_node]
        rows = np.arange(NUM_CLASSES)
        return self._paths[rows, np.minimum(int(level), depth)]

    def superclass(self, c: int, level: Level = "fine") -> tuple[str, str]:
        """The ``(wnid, name)`` superclass of class ``c`` at a level.

        Parameters
        ----------
        c : int
            Class index 0..999.
        level : {'fine', 'coarse'} or int
            ``'fine'``: lowest tree ancestor grouping 2..60 classes (or the class itself);
            ``'coarse'``: deepest of a fixed list of well-known nodes (dog, bird, fish,
            vehicle, device, structure, food, clothing, ...) on any hypernym path;
            int ``k``: the tree ancestor at depth ``k`` (the class itself if not deeper).

        Returns
        -------
        tuple of str
            WordNet id and name of the superclass.
        """
        node = int(self._superclass_nodes(level)[_check_class(c)])
        return self.node_wnids[node], self.node_names[node]

    def superclass_array(self, level: Level = "fine") -> tuple[np.ndarray, list[tuple[str, str]]]:
        """Superclass group id of every class at a level, with the groups' ``(wnid, name)``.

        Parameters
        ----------
        level : {'fine', 'coarse'} or int
            As in :meth:`superclass`.

        Returns
        -------
        ids : numpy.ndarray
            ``int64`` array of shape (1000,): group id of each class, numbered 0..G-1 in order
            of first appearance over the class indices.
        groups : list of (str, str)
            ``groups[g]`` is the WordNet id and name of group ``g``.
        """
        nodes = self._superclass_nodes(level)
        order: dict[int, int] = {}
        ids = np.array([order.setdefault(int(n), len(order)) for n in nodes], dtype=np.int64)
        groups = [(self.node_wnids[n], self.node_names[n]) for n in order]
        return ids, groups


def _check_class(c: int | np.ndarray) -> Any:
    """Class index/indices as int64, raising IndexError outside 0..999."""
    arr = np.asarray(c)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"class indices must be integers, got {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= NUM_CLASSES):
        raise IndexError(f"class index out of range 0..{NUM_CLASSES - 1}")
    return int(arr) if arr.ndim == 0 else arr.astype(np.int64)


@lru_cache(maxsize=1)
def imagenet_hierarchy() -> ImageNetHierarchy:
    """The shipped WordNet 3.0 hierarchy of the ImageNet-1k classes (loaded once)."""
    return ImageNetHierarchy(load_json("imagenet_hierarchy.json.gz"))
