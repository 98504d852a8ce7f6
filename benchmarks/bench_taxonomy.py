"""How well ``reassess analyze`` agrees with experts who sorted 627 mistakes by hand, held out.

Usage (nothing is fetched at run time; the two files are the public
``metadata/{vit3b,greedy_soups}_mistakes.json`` of google-research/imagenet-mistakes, Vasudevan
et al. 2022, Apache-2.0)::

    python benchmarks/bench_taxonomy.py --mistakes-dir imagenet-mistakes/metadata \
        [--multilabel-file human_accuracy_v3.0.0.json] [--oov-verdicts RUNDIR/oov_clip.parquet]

For each model the "run" is the 50,000 val images with the original labels, except that the
images of its mistakes file carry the model's wrong prediction; ``reassess analyze``'s rules
classify them with the ReaL sets as human multi-labels (and the expert multi-labels when given).

Printed, for each direction (fit on one model's file, score on the other's):

* the thresholds (:data:`reassess.analysis.agreement.RULE_GRID`) and the severity model fit on
  the first file only;
* on the second file: Cohen's kappa of the *kind* (every mistake in these files was confirmed by
  the experts, so the question is which kind) and of the *category* as ``analyze`` prints it
  (a verdict that forgives an expert-confirmed mistake counts as a disagreement), the share of
  those mistakes that reassess forgives, per-kind recall and precision, out-of-vocabulary recall,
  the severity kappa (major vs minor + borderline, as the paper collapses them), the confusion
  table;
* the same on the second file's images that are not in the first file (the two models share 164
  images, 143 of them with the same prediction and category, so only this part is fully unseen).

Finally the shipped defaults (fit on ViT-3B by ``scripts/build_severity_model.py``) are scored on
Greedy Soups, which they never saw.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from reassess.analysis.agreement import (  # noqa: E402
    classify_expert_mistakes,
    collapse_severity,
    fit_rules,
    fit_severity,
    kind_agreement,
    load_expert_mistakes,
)
from reassess.analysis.mistakes import KINDS, VERDICTS, TaxonomyRules  # noqa: E402
from reassess.analysis.severity import default_severity_model  # noqa: E402
from reassess.analysis.summary import value_counts  # noqa: E402

FILES = ("vit3b_mistakes.json", "greedy_soups_mistakes.json")


def _fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def score(experts: Any, rules: Any, severity: Any, context: dict[str, Any]) -> dict[str, Any]:
    """Every agreement figure of one labelling of ``experts``."""
    mistakes = classify_expert_mistakes(experts, rules=rules, severity_model=severity, **context)
    kinds = mistakes["kind"].tolist()
    categories = mistakes.category.tolist()
    expert_kinds = experts.kinds.tolist()
    ours_severity = collapse_severity(severity.label(mistakes["major_probability"]).tolist())
    oov = experts.kinds == "fine_grained_oov"
    return {
        "n": len(experts),
        "kind": kind_agreement(kinds, expert_kinds),
        "category": kind_agreement(categories, expert_kinds),
        "forgiven": float(np.isin(mistakes.category, VERDICTS).mean()),
        "forgiven_by": value_counts(
            mistakes["evidence_source"][np.isin(mistakes.category, VERDICTS)]
        ),
        "oov_recall": float((mistakes["kind"][oov] == "fine_grained_oov").mean())
        if oov.any()
        else None,
        "oov_column": value_counts(mistakes["oov"][oov]),
        "severity": kind_agreement(ours_severity, collapse_severity(experts.severities.tolist())),
    }


def report(title: str, result: dict[str, Any]) -> None:
    kind, cat, sev = result["kind"], result["category"], result["severity"]
    print(f"\n  {title} ({result['n']} mistakes)")
    print(
        f"    kind kappa {_fmt(kind['kappa'])} (agreement {kind['agreement']:.1%}); category kappa "
        f"as printed {_fmt(cat['kappa'])}; forgiven {result['forgiven']:.1%} {result['forgiven_by']}"
    )
    print(
        f"    severity kappa {_fmt(sev['kappa'])} (agreement {sev['agreement']:.1%}); OOV recall "
        f"{_fmt(result['oov_recall'])} (oov column on expert OOV: {result['oov_column']})"
    )
    labels = [*KINDS, "non_prototypical"]
    print("    expert \\ reassess kind  " + "".join(f"{k[:12]:>13}" for k in labels) + "   recall")
    for e in labels:
        row = kind["confusion"].get(e, {})
        if not kind["experts"].get(e):
            continue
        cells = "".join(f"{row.get(o, 0):>13}" for o in labels)
        print(f"    {e:<24}{cells}   {_fmt(kind['recall'].get(e))}")
    print(
        "    precision               "
        + "".join(f"{_fmt(kind['precision'].get(o)):>13}" for o in labels)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mistakes-dir", type=Path, required=True, help="folder with " + " and ".join(FILES)
    )
    parser.add_argument(
        "--multilabel-file", type=Path, help="human_accuracy_v3.0.0.json (expert labels)"
    )
    parser.add_argument(
        "--oov-verdicts", type=Path, help="an oov_clip.parquet written by analyze --oov-clip"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    files = [load_expert_mistakes(args.mistakes_dir / f) for f in FILES]
    context: dict[str, Any] = {}
    if args.multilabel_file is not None:
        from reassess.labels.expert import load_expert_multilabels

        context["expert_labels"] = load_expert_multilabels(args.multilabel_file)
    if args.oov_verdicts is not None:
        from reassess.inference.oov_clip import read_verdicts

        context["oov_verdicts"] = read_verdicts(args.oov_verdicts)
    print(
        f"expert files: {', '.join(f'{e.name} {len(e)} (sha256 {e.sha256[:12]})' for e in files)}; "
        f"expert multi-labels: {'yes' if 'expert_labels' in context else 'no (ReaL only)'}; "
        f"CLIP OOV verdicts: {'yes' if 'oov_verdicts' in context else 'no'}"
    )
    for fit_on, held_out in ((files[0], files[1]), (files[1], files[0])):
        rules, kappa = fit_rules(fit_on, **context)
        severity = fit_severity(fit_on, rules, **context)
        print(f"\n== fit on {fit_on.name}, scored on {held_out.name}")
        print(f"  rules: {rules.to_dict()} (in-sample kind kappa {kappa:.3f})")
        print(f"  severity: {severity.describe()}")
        report(f"in-sample {fit_on.name}", score(fit_on, rules, severity, context))
        report(f"held out: all of {held_out.name}", score(held_out, rules, severity, context))
        unseen = ~np.isin(held_out.file_names, fit_on.file_names)
        report(
            f"held out: {held_out.name} images not in {fit_on.name}",
            score(held_out.subset(unseen), rules, severity, context),
        )
    print("\n== shipped defaults (fit on vit3b only)")
    print(f"  rules: {TaxonomyRules().to_dict()}")
    shipped = default_severity_model(rater_scores=True)
    print(f"  severity: {shipped.describe()}")
    report("held out: all of greedy_soups", score(files[1], TaxonomyRules(), shipped, context))
    unseen = ~np.isin(files[1].file_names, files[0].file_names)
    report(
        "held out: greedy_soups images not in vit3b",
        score(files[1].subset(unseen), TaxonomyRules(), shipped, context),
    )
    print(f"\n{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
