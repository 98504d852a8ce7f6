"""``reassess analyze``'s pipeline: classify a run's top-1 mistakes, summarise, store them."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from reassess.labels.imagenet import imagenet_classes
from reassess.labels.label_sets import LabelSets
from reassess.runs.labels import run_label_sets
from reassess.store.predictions import Predictions
from reassess.store.run import RunDir

# Label sets of a run that are not human multi-labels: cleanlab's corrected / cleaned single
# labels. The analysis consults the cleanlab list itself (rule 2), so these are left out.
DERIVED_LABEL_SETS = ("corrected", "cleaned")


@dataclasses.dataclass(frozen=True)
class OOVCheck:
    """Options of the CLIP out-of-vocabulary check of :func:`analyze_run`."""

    clip_spec: str
    images: Path
    device: str | None = None
    batch_size: int = 32
    workers: int | None = None
    progress: bool = True


def _oov_queries(mistakes: Any, images: Path) -> tuple[list[Any], int]:
    """The mistakes rule 4 asks about (not fine-grained, not forgiven, experts silent), with
    their image files; and how many of them have no image under ``images``."""
    from reassess.datasets.image_files import ImageResolver
    from reassess.inference.oov_clip import OOVQuery

    resolver = ImageResolver(images)
    wnids = imagenet_classes().wnids
    ask = np.isin(mistakes.category, ("fine_grained_oov", "spurious_correlation", "unexplained"))
    ask &= mistakes["oov_source"] != "expert"
    queries, missing = [], 0
    for j in np.flatnonzero(ask).tolist():
        sample_id = str(mistakes["sample_id"][j])
        path = resolver.find(sample_id, wnids[int(mistakes["label"][j])])
        if path is None:
            missing += 1
            continue
        valid = tuple(int(c) for c in mistakes["valid_labels"][j] if c != mistakes["prediction"][j])
        queries.append(OOVQuery(sample_id, path, int(mistakes["prediction"][j]), valid))
    return queries, missing


def classify_run(
    run: RunDir,
    *,
    expert_labels: Any = None,
    oov_verdicts: Any = None,
    info: dict[str, Any] | None = None,
    predictions: Predictions | None = None,
) -> tuple[Any, dict[str, LabelSets], LabelSets | None]:
    """Classify a run's top-1 mistakes as ``reassess analyze`` does (nothing is written).

    Returns the :class:`~reassess.analysis.mistakes.Mistakes`, the human multi-label sets used
    and the aligned expert sets (or None). The review app calls this for runs not analysed yet.
    """
    from reassess.analysis.mistakes import classify_mistakes, default_evidence

    info = info if info is not None else run.read_run()
    predictions = predictions if predictions is not None else run.read_predictions()
    if not (predictions.labels >= 0).any():
        raise ValueError(
            f"{run.path}: no sample has a single label, so there are no top-1 mistakes to analyse"
        )
    ids = predictions.sample_ids.tolist()
    label_sets = {
        name: sets
        for name, sets in run_label_sets(info, predictions).items()
        if name not in DERIVED_LABEL_SETS
    }
    expert = expert_labels.accepted().align(ids) if expert_labels is not None else None
    mistakes = classify_mistakes(
        predictions.sample_ids,
        predictions.labels,
        predictions.top1.astype("int64"),
        label_sets=label_sets,
        expert=expert,
        evidence=default_evidence(),
        confidence=predictions.probs[:, 0] if predictions.probs is not None else None,
        oov_verdicts=oov_verdicts,
    )
    return mistakes, label_sets, expert


def analyze_run(
    run: RunDir, *, expert_labels: Any = None, oov_check: OOVCheck | None = None
) -> tuple[Any, dict[str, Any]]:
    """Classify and summarise a run's mistakes; write mistakes.parquet and analysis.json.

    ``expert_labels`` is an :class:`~reassess.labels.expert.ExpertLabels` or None. With
    ``oov_check``, a CLIP model looks at the images of the mistakes rule 4 asks about; its
    verdicts are cached in ``RUNDIR/oov_clip.parquet`` and reused by later calls.
    """
    from reassess.analysis.evidence import IMAGENET_X_LICENSE
    from reassess.analysis.mistakes import default_evidence
    from reassess.analysis.summary import summarize_mistakes

    info = run.read_run()
    predictions = run.read_predictions()
    mistakes, label_sets, expert = classify_run(
        run, expert_labels=expert_labels, info=info, predictions=predictions
    )
    evidence = default_evidence()
    oov_summary = None
    if oov_check is not None:
        from reassess.inference.oov_clip import clip_oov_verdicts

        queries, missing = _oov_queries(mistakes, oov_check.images)
        verdicts, oov_summary = clip_oov_verdicts(
            queries,
            oov_check.clip_spec,
            cache_path=run.oov_file,
            device=oov_check.device,
            batch_size=oov_check.batch_size,
            workers=oov_check.workers,
            progress=oov_check.progress,
        )
        oov_summary["images_not_found"] = missing
        oov_summary["file"] = run.oov_file.name
        mistakes, _, _ = classify_run(
            run,
            expert_labels=expert_labels,
            oov_verdicts=verdicts,
            info=info,
            predictions=predictions,
        )
    summary = summarize_mistakes(
        mistakes,
        predictions.sample_ids,
        predictions.labels,
        predictions.top1.astype("int64"),
        label_sets=label_sets,
        expert=expert,
        imagenet_x=evidence.imagenet_x,
        hierarchy=evidence.hierarchy,
    )
    x_annotated = int(mistakes["x_annotated"].sum())
    result = {
        "run": {
            "path": str(run.path),
            "model": info.get("model", {}).get("spec"),
            "data": info.get("data", {}).get("spec"),
        },
        **summary,
        "sources": {
            "label_sets": {
                name: {"annotated": int(s.annotated.sum()), "evaluable": int(s.evaluable.sum())}
                for name, s in label_sets.items()
            },
            "expert": expert_labels.describe() if expert_labels is not None else None,
            "cleanlab_label_errors": {
                "mistakes_flagged": int((~mistakes.null["cleanlab_category"]).sum()),
                "license": "Apache-2.0",
            },
            "imagenet_x": {"mistakes_annotated": x_annotated, "license": IMAGENET_X_LICENSE},
            "cooccurrence": f"{evidence.cooccurrence_source} multi-labels of other images",
            "confusability": evidence.confusability.source if evidence.confusability else None,
            "rater_scores": "ReaL Dawid-Skene scores (Beyer et al. 2020), Apache-2.0",
            "hierarchy": "WordNet 3.0 is-a hierarchy of the 1000 classes",
            "oov_clip": oov_summary,
        },
        "files": {"mistakes": run.mistakes_file.name},
    }
    run.write_mistakes(mistakes.to_table())
    run.write_analysis(result)
    return mistakes, result
