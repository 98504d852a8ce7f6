"""Turn stored reviews into a multi-label file in the expert schema (human_accuracy_v3.0.0.json).

The output has the three keys of the expert file and a fourth, ``reassess_review``
(:data:`reassess.labels.expert.REVIEW_KEY`): where the labels come from (database, run, data
spec, reviewers, time, a merged file's sha256) and ``sample_ids``, the reviewed images under the
run's own ids (``n02123045/cat.jpg`` in a ``folder:`` run, val file names in an ImageNet val run).
``reassess metrics RUNDIR --multilabel-file labels.json`` (and
:func:`reassess.labels.expert.load_expert_multilabels`) read it as reviewed labels: the published
file's checksum check does not apply to it, and the provenance is recorded in metrics.json.

- ``initial_annots[file]``: ``correct`` = classes more than half of the image's reviewers judged
  valid; ``unclear`` = classes some but at most half judged valid (reviewers disagree, as the
  expert file's "unclear"); ``wrong`` = classes shown to a reviewer that nobody judged valid.
- ``problematic_images[file]``: images more than half of the reviewers marked "problematic"
  (unusable or ambiguous); like the expert file's, they are excluded from multi-label accuracy.
- ``imagenet_m``: images on which more than half of the reviewers saw a *major* mistake (the
  analogue of ImageNet-M, the major-mistake split of "When does dough become a bagel?").

With ``merge`` the reviewed images are added to (and replace their entries in) an existing file
in that schema, e.g. the published expert labels, so metrics cover both.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reassess.labels.expert import REVIEW_KEY
from reassess.review.store import PROBLEMATIC, Review, ReviewStore, utc_now
from reassess.store.atomic import atomic_write_json


@dataclass(frozen=True)
class Consensus:
    """The labels of one image after combining its reviews."""

    correct: list[str]
    unclear: list[str]
    wrong: list[str]
    problematic: bool
    major: bool
    reviewers: list[str]
    updated: str


def consensus(reviews: list[Review]) -> Consensus:
    """Combine the reviews of one image by majority (rules in the module docstring)."""
    if not reviews:
        raise ValueError("consensus of no reviews")
    n = len(reviews)
    votes = Counter(w for r in reviews for w in set(r.valid))
    order = list(dict.fromkeys(w for r in reviews for w in (*r.shown, *r.valid)))
    correct = [w for w in order if 2 * votes[w] > n]
    unclear = [w for w in order if votes[w] > 0 and 2 * votes[w] <= n]
    wrong = [w for w in order if votes[w] == 0]
    problematic = 2 * sum(r.verdict == PROBLEMATIC for r in reviews) > n
    major = 2 * sum(r.is_mistake and r.severity == "major" for r in reviews) > n
    return Consensus(
        correct=correct,
        unclear=unclear,
        wrong=wrong,
        problematic=problematic,
        major=major,
        reviewers=sorted(r.reviewer for r in reviews),
        updated=max(r.updated for r in reviews),
    )


def build_labels(
    grouped: dict[str, list[Review]],
    *,
    base: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The expert-schema dictionary for reviews grouped by sample id (optionally merged).

    The ``reassess_review`` object is ``provenance`` plus ``sample_ids``: the reviewed images,
    and those of a merged file that was itself a review export.
    """
    annots: dict[str, Any] = dict(base["initial_annots"]) if base else {}
    problematic: dict[str, Any] = dict(base["problematic_images"]) if base else {}
    imagenet_m: list[str] = list(base["imagenet_m"]) if base else []
    for sample_id, reviews in grouped.items():
        result = consensus(reviews)
        annots[sample_id] = {
            "correct": result.correct,
            "unclear": result.unclear,
            "wrong": result.wrong,
        }
        problematic.pop(sample_id, None)
        if result.problematic:
            problematic[sample_id] = {
                "reason": "marked as problematic in reassess review",
                "reviewers": result.reviewers,
                "time_reviewed": result.updated,
            }
        if sample_id in imagenet_m:
            imagenet_m.remove(sample_id)
        if result.major:
            imagenet_m.append(sample_id)
    earlier = (base or {}).get(REVIEW_KEY) or {}
    sample_ids = list(dict.fromkeys([*earlier.get("sample_ids", []), *grouped]))
    return {
        "initial_annots": annots,
        "problematic_images": problematic,
        "imagenet_m": imagenet_m,
        REVIEW_KEY: {**(provenance or {}), "sample_ids": sample_ids},
    }


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    path: Path
    images: int
    reviews: int
    reviewers: list[str]
    with_extra_labels: int
    problematic: int
    major: int
    merged_images: int
    val_images: int
    #: reviewed images that are images of the run exported for (None: no run given)
    run_images: int | None = None


def _run_provenance(run_dir: Path, reviewed: list[str]) -> tuple[dict[str, Any], int]:
    """The run's path and data spec for the provenance, and how many reviewed images it holds."""
    from reassess.store.run import RunDir
    from reassess.store.schema import RunFolderError

    run = RunDir(run_dir)
    try:
        info = run.read_run()
        ids = set(run.read_predictions().sample_ids.tolist())
    except (RunFolderError, OSError) as exc:
        raise ValueError(f"{run_dir}: cannot read the run's predictions ({exc})") from exc
    found = sum(1 for s in reviewed if s in ids)
    if not found:
        raise ValueError(
            f"{run_dir}: none of the {len(reviewed):,} reviewed images (e.g. {reviewed[0]}) is an "
            f"image of this run ({info['data']['spec']}); export from the run that was reviewed"
        )
    return {"run": str(run.path.resolve()), "data": info["data"]["spec"]}, found


def export_labels(
    store: ReviewStore,
    out: Path,
    *,
    reviewers: list[str] | None = None,
    merge: Path | None = None,
    run: Path | None = None,
) -> ExportSummary:
    """Write the reviewed multi-labels to ``out`` (atomically) in the expert schema.

    Parameters
    ----------
    store : the review database.
    out : the JSON file to write.
    reviewers : use only these reviewers' reviews (default: all).
    merge : an existing file in the expert schema to extend; reviewed images replace its entries.
    run : the run folder the reviews are of: recorded in the provenance, and refused when none
        of the reviewed images is one of its images.
    """
    from reassess import __version__
    from reassess.labels.expert import EXPERT_SHA256, ExpertLabelsError, parse_expert_multilabels
    from reassess.labels.resources import file_sha256

    grouped = store.by_sample(reviewers)
    if not grouped:
        who = f" by {', '.join(reviewers)}" if reviewers else ""
        raise ValueError(f"{store.path}: no reviews{who} to export")
    provenance: dict[str, Any] = {
        "tool": "reassess review export",
        "version": __version__,
        "exported": utc_now(),
        "database": str(store.path.resolve()),
        "run": None,
        "data": None,
        "reviewers": sorted({r.reviewer for rs in grouped.values() for r in rs}),
        "merged_from": None,
    }
    run_images = None
    if run is not None:
        found, run_images = _run_provenance(Path(run), list(grouped))
        provenance.update(found)
    base = None
    if merge is not None:
        merge = Path(merge).expanduser()
        try:
            base = json.loads(merge.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{merge}: cannot read it as JSON ({exc})") from exc
        parse_expert_multilabels(base, path=merge)  # refuses files not in the schema
        sha = file_sha256(merge)
        provenance["merged_from"] = {
            "file": str(merge.resolve()),
            "sha256": sha,
            "published": sha == EXPERT_SHA256,
        }
    data = build_labels(grouped, base=base, provenance=provenance)
    val_images = sum(1 for f in data["initial_annots"] if f.startswith("ILSVRC2012_val_"))
    try:
        parse_expert_multilabels(data, path=out)
    except ExpertLabelsError as exc:  # pragma: no cover - a bug here, not bad input
        raise ValueError(f"export would not load as expert multi-labels: {exc}") from exc
    atomic_write_json(out, data)
    results = [consensus(reviews) for reviews in grouped.values()]
    return ExportSummary(
        path=Path(out),
        images=len(grouped),
        reviews=sum(len(r) for r in grouped.values()),
        reviewers=sorted({r.reviewer for rs in grouped.values() for r in rs}),
        with_extra_labels=sum(len(c.correct) + len(c.unclear) > 1 for c in results),
        problematic=sum(c.problematic for c in results),
        major=sum(c.major for c in results),
        merged_images=len(data["initial_annots"]) - len(grouped),
        val_images=val_images,
        run_images=run_images,
    )
