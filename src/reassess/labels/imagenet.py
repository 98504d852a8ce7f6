"""The ImageNet-1k class list: index <-> WordNet id <-> human-readable names."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from reassess.labels.resources import load_json

NUM_CLASSES = 1000


@dataclass(frozen=True)
class ImageNetClasses:
    """The 1000 classes in standard index order (sorted WordNet ids)."""

    wnids: tuple[str, ...]
    synonyms: tuple[tuple[str, ...], ...]
    glosses: tuple[str, ...]
    _index: dict[str, int] = field(repr=False, compare=False, default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        """The first synonym of each class, e.g. ``tench``; not unique (two names repeat)."""
        return tuple(s[0] for s in self.synonyms)

    def index_of(self, wnid: str) -> int:
        """Class index of a WordNet id such as ``n01440764``; KeyError if not an ImageNet-1k class."""
        return self._index[wnid]

    def name(self, index: int) -> str:
        return self.synonyms[index][0]

    def __len__(self) -> int:
        return len(self.wnids)


@lru_cache(maxsize=1)
def imagenet_classes() -> ImageNetClasses:
    """The shipped ImageNet-1k class list (from ImageNetV2's class_info.json)."""
    rows = load_json("imagenet_classes.json.gz")
    wnids = tuple(r["wnid"] for r in rows)
    return ImageNetClasses(
        wnids=wnids,
        synonyms=tuple(tuple(r["synset"]) for r in rows),
        glosses=tuple(r["gloss"] for r in rows),
        _index={w: i for i, w in enumerate(wnids)},
    )
