"""Expert multi-labels of 20,000 ImageNet val images and the 68-image ImageNet-M split.

The labels come from Shankar et al. 2020, "Evaluating Machine Accuracy on ImageNet" (ICML), as
updated to v3.0.0 by Vasudevan et al. 2022, "When does dough become a bagel? Analyzing the
remaining mistakes on ImageNet" (NeurIPS), which also defines ImageNet-M ("major" mistakes).
The file ``human_accuracy_v3.0.0.json`` (about 200 MB, Apache-2.0, from
https://storage.googleapis.com/brain-car-datasets/imagenet-mistakes/human_accuracy_v3.0.0.json)
is not shipped; users download it and point ``--multilabel-file`` at it.

Schema (as read by the authors' evaluation notebook in google-research/imagenet-mistakes)::

    {"initial_annots": {"<file>": {"correct": [wnid], "unclear": [wnid], "wrong": [wnid]}},
     "problematic_images": {"<file>": {...review metadata...}},
     "imagenet_m": ["<file>", ...]}

Only ``ILSVRC2012_val_*`` entries are used; the file also annotates ImageNetV2 candidate images,
which are counted in :attr:`ExpertLabels.other_images` and otherwise ignored.

Verification policy: the published file has sha256 :data:`EXPERT_SHA256`. With ``verify=True``
(the default, and what ``reassess metrics`` does) a file with another hash is refused with an
error that names both hashes; ``verify=False`` (``--no-verify``) loads it anyway, emits a
:class:`UnverifiedLabelsWarning`, and the result records ``verified=False`` and the file's
actual hash so every metric computed from it can say so.

Reviewed files: ``reassess review export`` writes the same schema plus a :data:`REVIEW_KEY`
object saying where the labels come from (the review database, run, reviewers) and which
``initial_annots`` keys are the reviewed run's own image ids (``sample_ids``, e.g. the
``n02123045/cat.jpg`` of a ``folder:`` run). Such a file does not claim to be the published one:
it loads without the checksum check or a warning, records ``verified=False`` with its
provenance, and its listed image ids are read besides the ``ILSVRC2012_val_*`` ones.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reassess.labels.imagenet import imagenet_classes
from reassess.labels.label_sets import LabelSets
from reassess.labels.resources import file_sha256

EXPERT_FILE_NAME = "human_accuracy_v3.0.0.json"
EXPERT_SHA256 = "d5b2b6111fc9efea16aaebd21bc5a401d16ad18285d3fd99635d8b32ebdb6287"
EXPERT_URL = (
    "https://storage.googleapis.com/brain-car-datasets/imagenet-mistakes/human_accuracy_v3.0.0.json"
)
IMAGENET_M_SIZE = 68
VAL_PREFIX = "ILSVRC2012_val_"
#: The top-level key of a file written by ``reassess review export``: its provenance.
REVIEW_KEY = "reassess_review"
_STATES = ("correct", "unclear", "wrong")


class ExpertLabelsError(ValueError):
    """An expert multi-label file that is unreadable, malformed or not the published one."""


class UnverifiedLabelsWarning(UserWarning):
    """Labels were loaded from a file whose checksum does not match the published one."""


@dataclass(frozen=True)
class ExpertLabels:
    """Expert multi-labels keyed by ImageNet val file name.

    ``correct``, ``unclear`` and ``wrong`` hold, for every annotated val image, the classes the
    experts marked with that state. ``problematic`` lists images the reviewers set aside (they
    are excluded from multi-label accuracy); ``imagenet_m`` is the ImageNet-M split.
    """

    path: Path
    sha256: str
    verified: bool
    correct: LabelSets
    unclear: LabelSets
    wrong: LabelSets
    problematic: frozenset[str]
    imagenet_m: tuple[str, ...]
    other_images: int = 0
    #: the :data:`REVIEW_KEY` object of a reviewed file (None for the published labels)
    review: dict[str, Any] | None = None

    @property
    def reviewed(self) -> bool:
        """True for labels exported from ``reassess review`` (not the published expert file)."""
        return self.review is not None

    @property
    def sample_ids(self) -> np.ndarray:
        """Val file names of the annotated images."""
        return self.correct.sample_ids

    def accepted(self, *, strict: bool = False) -> LabelSets:
        """The classes counted as right answers: correct and unclear (lenient) or correct only.

        Problematic images are left out, so after :meth:`LabelSets.align` they are
        ``annotated=False`` and drop out of every metric, as the authors' evaluation does.
        """
        keep = np.array([sid not in self.problematic for sid in self.sample_ids], dtype=bool)
        rows = np.flatnonzero(keep)
        correct, unclear = self.correct.to_lists(), self.unclear.to_lists()
        sets = [correct[i] if strict else correct[i] + unclear[i] for i in rows]
        name = "expert_strict" if strict else "expert"
        return LabelSets.from_lists(name, self.sample_ids[rows].tolist(), sets)

    def imagenet_m_sets(self) -> LabelSets:
        """Correct-or-unclear classes of the ImageNet-M images only (problematic or not)."""
        position = {sid: i for i, sid in enumerate(self.sample_ids)}
        rows = [position[f] for f in self.imagenet_m]
        correct, unclear = self.correct.to_lists(), self.unclear.to_lists()
        return LabelSets.from_lists(
            "imagenet_m", list(self.imagenet_m), [correct[i] + unclear[i] for i in rows]
        )

    def describe(self) -> dict:
        """What metrics.json records about the label file (a reviewed file: its provenance)."""
        out: dict[str, Any] = {
            "file": str(self.path),
            "sha256": self.sha256,
            "verified": self.verified,
            "images": len(self.sample_ids),
            "problematic": len(self.problematic),
            "imagenet_m": len(self.imagenet_m),
        }
        if self.review is not None:
            out["source"] = "reassess review export"
            out["review"] = {k: v for k, v in self.review.items() if k != "sample_ids"}
            out["reviewed_images"] = len(self.review.get("sample_ids", []))
        return out


def load_expert_multilabels(path: Path | str, *, verify: bool = True) -> ExpertLabels:
    """Read ``human_accuracy_v3.0.0.json`` (or a file in its schema) into label sets.

    Parameters
    ----------
    path : the JSON file.
    verify : refuse a file whose sha256 differs from the published v3.0.0 file. With
        ``verify=False`` such a file loads with an :class:`UnverifiedLabelsWarning`.

    Returns
    -------
    ExpertLabels with ``correct``/``unclear``/``wrong`` LabelSets keyed by val file name.

    Examples
    --------
    >>> labels = load_expert_multilabels("human_accuracy_v3.0.0.json")  # doctest: +SKIP
    >>> len(labels.imagenet_m)  # doctest: +SKIP
    68
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such expert multi-label file (download {EXPERT_FILE_NAME} from "
            f"{EXPERT_URL})"
        )
    sha = file_sha256(path)
    verified = sha == EXPERT_SHA256
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        data, not_json = None, exc
    else:
        not_json = None
    reviewed = isinstance(data, dict) and REVIEW_KEY in data
    if not verified and not reviewed:
        message = (
            f"{path}: sha256 {sha} is not that of the published {EXPERT_FILE_NAME} "
            f"({EXPERT_SHA256})"
        )
        if verify:
            raise ExpertLabelsError(message + "; pass --no-verify to use this file anyway")
        warnings.warn(message + "; using it unverified", UnverifiedLabelsWarning, stacklevel=2)
    if not_json is not None:
        raise ExpertLabelsError(f"{path}: not valid JSON ({not_json})") from not_json
    return parse_expert_multilabels(data, path=path, sha256=sha, verified=verified)


def review_provenance(data: dict, *, path: Path) -> dict[str, Any] | None:
    """The :data:`REVIEW_KEY` object of a decoded label file (None if absent), checked."""
    review = data.get(REVIEW_KEY)
    if review is None:
        return None
    ids = review.get("sample_ids") if isinstance(review, dict) else None
    if not isinstance(ids, list) or not all(isinstance(s, str) for s in ids):
        raise ExpertLabelsError(
            f"{path}: {REVIEW_KEY} must be an object whose sample_ids is a list of image ids"
        )
    return review


def parse_expert_multilabels(
    data: object, *, path: Path, sha256: str = "", verified: bool = False
) -> ExpertLabels:
    """Validate the decoded JSON of an expert multi-label file and build its label sets."""
    if not isinstance(data, dict):
        raise ExpertLabelsError(f"{path}: expected a JSON object at the top level")
    missing = [k for k in ("initial_annots", "problematic_images", "imagenet_m") if k not in data]
    if missing:
        raise ExpertLabelsError(
            f"{path}: missing key(s) {missing}; expected the {EXPERT_FILE_NAME} schema "
            "(initial_annots, problematic_images, imagenet_m)"
        )
    annots, problematic, imagenet_m = (
        data["initial_annots"],
        data["problematic_images"],
        data["imagenet_m"],
    )
    if not isinstance(annots, dict) or not isinstance(problematic, dict):
        raise ExpertLabelsError(f"{path}: initial_annots and problematic_images must be objects")
    if not isinstance(imagenet_m, list) or not all(isinstance(f, str) for f in imagenet_m):
        raise ExpertLabelsError(f"{path}: imagenet_m must be a list of file names")
    review = review_provenance(data, path=path)
    own_ids = frozenset(review["sample_ids"]) if review is not None else frozenset()

    def used(image: str) -> bool:
        return image.startswith(VAL_PREFIX) or image in own_ids

    classes = imagenet_classes()
    ids: list[str] = []
    states: dict[str, list[list[int]]] = {s: [] for s in _STATES}
    other = 0
    for image, entry in annots.items():
        if not used(image):
            other += 1
            continue
        if not isinstance(entry, dict):
            raise ExpertLabelsError(f"{path}: initial_annots[{image!r}] is not an object")
        ids.append(image)
        for state in _STATES:
            wnids = entry.get(state, [])
            if not isinstance(wnids, list):
                raise ExpertLabelsError(f"{path}: {image} {state!r} is not a list of wnids")
            try:
                states[state].append([classes.index_of(w) for w in wnids])
            except KeyError as exc:
                raise ExpertLabelsError(
                    f"{path}: {image} {state!r} has {exc.args[0]!r}, not an ImageNet-1k wnid"
                ) from None
    if not ids:
        what = "reviewed or ILSVRC2012_val_*" if review is not None else "ILSVRC2012_val_*"
        raise ExpertLabelsError(f"{path}: initial_annots has no {what} images")
    annotated = set(ids)
    not_annotated = [f for f in imagenet_m if f not in annotated]
    if not_annotated:
        raise ExpertLabelsError(
            f"{path}: {len(not_annotated)} ImageNet-M image(s) have no annotation, e.g. "
            f"{not_annotated[0]}"
        )
    return ExpertLabels(
        path=path,
        sha256=sha256,
        verified=verified,
        correct=LabelSets.from_lists("expert_correct", ids, states["correct"]),
        unclear=LabelSets.from_lists("expert_unclear", ids, states["unclear"]),
        wrong=LabelSets.from_lists("expert_wrong", ids, states["wrong"]),
        problematic=frozenset(f for f in problematic if used(f)),
        imagenet_m=tuple(imagenet_m),
        other_images=other,
        review=review,
    )
