"""Effective robustness of stored runs: pair each model's ImageNet val run with its shift run.

A model's in-distribution accuracy comes from its run on ``imagenet-val`` and its shift accuracy
from its run on the shifted set. For ImageNet-A/-R the in-distribution accuracy is the val run's
top-1 on the shift's 200 classes with predictions restricted to them (what timm's ``-clean``
results and the testbed use); for ObjectNet, on the 125 ImageNet classes of its 113 overlapping
classes. ``--shift real`` needs the val run alone: acc_in is its top-1 and acc_shift its ReaL
top-1 from ``metrics.json`` (both on the same images, but drawn independently in the bootstrap,
which only widens the interval). The baseline is fitted on the timm testbed
(:mod:`reassess.analysis.testbed`); the testbed has no ObjectNet results, so ObjectNet runs get
their accuracies and relative robustness but no baseline.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from reassess.runs.errors import RunError
from reassess.store.run import RunDir
from reassess.suggest import did_you_mean

SHIFT_HELP = (
    "imagenetv2 (MatchedFrequency), imagenet-sketch, imagenet-a, imagenet-r, "
    "real (ReaL vs top-1 of the imagenet-val run), objectnet (no testbed baseline)"
)
FIT_HELP = "auto (piecewise for imagenet-a, else linear), linear or piecewise"


def run_top1(run_dir: Path, class_map: np.ndarray | None = None):
    """Top-1 (Proportion) of a stored run, ranked among the classes ``class_map`` keeps.

    ``class_map`` is a dataset's scoring map (:func:`reassess.datasets.base.scoring_class_map`):
    labelled images of classes it drops are left out, so an ImageNet val run scored with
    ImageNet-A's map counts only val images of those 200 classes.
    """
    from reassess.metrics.accuracy import topk_accuracy
    from reassess.metrics.subsets import restrict_ranking

    predictions = RunDir(run_dir).read_predictions()
    topk, labels = predictions.topk, predictions.labels
    if class_map is not None:
        outside = (labels >= 0) & (class_map[np.maximum(labels, 0)] < 0)
        predictions = predictions.take(~outside)
        topk, determined = restrict_ranking(predictions, class_map)
        labels = np.where(predictions.labels >= 0, class_map[np.maximum(predictions.labels, 0)], -1)
        unknown = int((determined[labels >= 0] < 1).sum())
        if unknown:
            raise RunError(
                f"{run_dir}: {unknown} images have none of the scored classes among their stored "
                f"top-{predictions.k}; rerun eval with --keep-logits or a larger --topk"
            )
    if not (labels >= 0).any():
        raise RunError(f"{run_dir}: no labeled images to score")
    return topk_accuracy(topk[:, :1], labels, k=1)


def val_metric(run_dir: Path, key: str):
    """A metric of a stored run's ``metrics.json`` as a Proportion (value and n), e.g. real_top1."""
    from reassess.metrics.stats import Proportion

    run = RunDir(run_dir)
    metrics = run.read_metrics()  # no metrics.json: one line saying to run reassess metrics
    entry = metrics.get(key)
    if not isinstance(entry, dict) or "value" not in entry or "n" not in entry:
        raise RunError(
            f"{run.metrics_file}: no {key} (its labels were not scored); "
            f"rerun reassess metrics {run_dir}"
        )
    return Proportion(float(entry["value"]), int(entry["n"]), tuple(entry.get("ci95") or ()))


def pair_runs(run_dirs: list[Path], shift: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Match each model's imagenet-val run with its run on the shifted set; notes on the rest.

    For a shift measured on the val run itself (``real``) the val run is both halves.
    """
    from reassess.analysis.testbed import SHIFTS
    from reassess.datasets.base import scoring_class_map

    spec = SHIFTS[shift]
    by_model: dict[str, dict[str, tuple[Path, str]]] = defaultdict(dict)
    notes = []
    for path in run_dirs:
        info = RunDir(path).read_run()  # its model and data specs are checked there
        model, data = info["model"]["spec"], info["data"]["spec"]
        family = data.partition(":")[0]
        role = (
            "in" if family == "imagenet-val" else "shift" if family == spec.dataset_family else None
        )
        if role is None:
            notes.append(f"{path}: a run on {data}, not used for --shift {shift}")
            continue
        if role in by_model[model]:
            raise RunError(
                f"{path}: a second {data.partition(':')[0]} run of {model} "
                f"(the first is {by_model[model][role][0]}); pass one run per model and dataset"
            )
        by_model[model][role] = (path, data)
        if spec.val_metric is not None:
            by_model[model]["shift"] = (path, data)
    # in-distribution accuracy on the shift's classes (ImageNet-A/-R: 200), as the testbed has it
    in_class_map = None if spec.val_metric else scoring_class_map(spec.dataset_family)
    rows = []
    for model, runs in by_model.items():
        if "shift" not in runs:
            notes.append(f"{model}: no run on {spec.title} among the run folders; skipped")
            continue
        if "in" not in runs:
            raise RunError(
                f"{model}: no imagenet-val run among the run folders; pass the run folder of "
                f"{model} on imagenet-val too (its ImageNet accuracy is the x of the fit)"
            )
        acc_in = run_top1(runs["in"][0], in_class_map)
        if spec.val_metric is not None:
            acc_shift = val_metric(runs["in"][0], spec.val_metric)
        else:
            acc_shift = run_top1(runs["shift"][0], scoring_class_map(runs["shift"][1]))
        rows.append(
            {
                "model": model,
                "in_run": str(runs["in"][0]),
                "shift_run": str(runs["shift"][0]),
                "acc_in": acc_in.value,
                "n_in": acc_in.n,
                "acc_shift": acc_shift.value,
                "n_shift": acc_shift.n,
            }
        )
    return rows, notes


def robustness_report(
    run_dirs: list[Path],
    *,
    shift: str = "imagenetv2",
    space: str = "logit",
    selection: str = "standard",
    base: str | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    fit: str = "auto",
    breakpoint: float | None = None,
) -> tuple[dict[str, Any], Any, tuple]:
    """The baseline fit on the testbed and every run's effective/relative robustness.

    ``fit`` is ``auto`` (the shift's default: piecewise for ImageNet-A, as the imagenet-testbed
    fits it), ``linear`` or ``piecewise`` (split at ``breakpoint``, default ResNet-50's 91.86%).
    For a shift the testbed has no results for (ObjectNet) the fit is None and a note says so.
    """
    from reassess.analysis.robustness import (
        IMAGENET_A_BREAKPOINT,
        effective_robustness,
        fit_baseline,
        fit_piecewise,
        relative_robustness,
    )
    from reassess.analysis.testbed import SHIFTS, load_testbed

    if shift not in SHIFTS:
        raise RunError(
            f"unknown --shift {shift!r}{did_you_mean(shift, SHIFTS) or ';'} choose one of: "
            f"{SHIFT_HELP}"
        )
    if space not in ("logit", "probit"):
        raise RunError(f"--space must be logit or probit, got {space!r}")
    if fit not in ("auto", "linear", "piecewise"):
        raise RunError(f"--fit must be one of: {FIT_HELP}; got {fit!r}")
    s = SHIFTS[shift]
    kind = s.fit if fit == "auto" else fit
    if breakpoint is not None and kind != "piecewise":
        raise RunError(f"--breakpoint needs the piecewise fit (--shift {shift} fits {kind})")
    if breakpoint is not None and not 0 < breakpoint < 1:
        raise RunError(f"--breakpoint is an ImageNet accuracy in (0, 1), got {breakpoint}")
    testbed = load_testbed()
    rows, notes = pair_runs(run_dirs, shift)
    baseline = None
    reference: tuple = ((np.empty(0), np.empty(0)), None)
    models_in_fit = 0
    if s.in_testbed:
        names, x, y = testbed.pairs(shift, selection=selection)
        models_in_fit = int(len(names))
        options = dict(space=space, n_bootstrap=n_bootstrap, seed=seed)
        try:
            if kind == "piecewise":
                point = IMAGENET_A_BREAKPOINT if breakpoint is None else breakpoint
                baseline = fit_piecewise(x, y, breakpoint=point, **options)
            else:
                baseline = fit_baseline(x, y, **options)
        except ValueError as exc:
            raise RunError(f"--shift {shift} --fit {kind}: {exc}") from None
        others = None
        if selection == "standard":  # the testbed models left out of the fit, drawn in grey
            names_all, x_all, y_all = testbed.pairs(shift, selection="all")
            left_out = ~np.isin(names_all, names)
            others = (x_all[left_out], y_all[left_out])
        reference = ((x, y), others)
    else:
        notes.append(
            f"the timm testbed has no {s.title} results, so there is no baseline and no "
            "effective robustness; accuracies (and --base relative robustness) only"
        )
    base_row = None
    if base is not None:
        base_row = next((r for r in rows if r["model"] == base), None)
        if base_row is None:
            raise RunError(
                f"--base {base!r} is none of the paired models ({', '.join(r['model'] for r in rows) or 'none'})"
            )
    for row in rows:
        if baseline is not None:
            estimate = effective_robustness(
                baseline,
                row["acc_in"],
                row["acc_shift"],
                n_in=row["n_in"],
                n_shift=row["n_shift"],
                seed=seed,
            )
            row["expected_shift"] = estimate.expected_shift
            row["effective_robustness"] = estimate.value
            row["effective_robustness_ci95"] = list(estimate.ci95)
        if base_row is not None:
            value, ci = relative_robustness(
                row["acc_shift"],
                base_row["acc_shift"],
                n=row["n_shift"],
                n_base=base_row["n_shift"],
                seed=seed,
            )
            row["relative_robustness"] = value
            row["relative_robustness_ci95"] = list(ci)
    report = {
        "shift": shift,
        "shift_title": s.title,
        "in_distribution": s.in_title,
        "testbed": {
            "source": "timm results (huggingface/pytorch-image-models), joined on model and image size",
            "selection": selection,
            "rows": len(testbed),
            "models_in_fit": models_in_fit,
        },
        "baseline": baseline.to_dict() if baseline is not None else None,
        "base": base,
        "runs": rows,
        "notes": notes,
    }
    return report, baseline, reference
