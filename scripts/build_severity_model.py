"""Fit the shipped severity model on the experts' ratings of the ViT-3B mistakes only.

Run from the repository root:
``python scripts/build_severity_model.py --mistakes-dir imagenet-mistakes/metadata``, where the
folder holds ``vit3b_mistakes.json`` from google-research/imagenet-mistakes (Vasudevan et al.
2022, Apache-2.0; not shipped with reassess). The Greedy Soups file is never read here: it is the
held-out set that ``benchmarks/bench_taxonomy.py`` scores the shipped model on.

It checks that the shipped :class:`~reassess.analysis.mistakes.TaxonomyRules` defaults are the
thresholds :func:`~reassess.analysis.agreement.fit_rules` picks on the same file (and stops if not),
then fits P(major) with and without the ReaL rater-score feature and writes
``src/reassess/analysis/data/severity_model.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "reassess" / "analysis" / "data" / "severity_model.json"
sys.path.insert(0, str(ROOT / "src"))

from reassess.analysis.agreement import (  # noqa: E402
    fit_rules,
    fit_severity,
    load_expert_mistakes,
)
from reassess.analysis.mistakes import TaxonomyRules  # noqa: E402
from reassess.store.atomic import atomic_write_json  # noqa: E402

FIT_FILE = "vit3b_mistakes.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mistakes-dir", type=Path, required=True, help=f"folder with {FIT_FILE}")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    experts = load_expert_mistakes(args.mistakes_dir / FIT_FILE)
    rules, kappa = fit_rules(experts)
    print(
        f"rules fit on {experts.name} ({len(experts)} mistakes): {rules} (kind kappa {kappa:.3f})"
    )
    if rules != TaxonomyRules():
        raise SystemExit(
            f"the shipped TaxonomyRules defaults {TaxonomyRules()} differ: update them"
        )
    payload = {
        "format_version": 1,
        "fit_on": {"file": FIT_FILE, "sha256": experts.sha256, "n": len(experts)},
        "source": "Vasudevan et al. 2022, google-research/imagenet-mistakes (Apache-2.0)",
        "builder": "scripts/build_severity_model.py",
    }
    for key, with_scores in (("with_rater_scores", True), ("without", False)):
        model = fit_severity(experts, rules, rater_scores=with_scores)
        payload[key] = model.to_dict()
        print(f"{key}: {model.describe()}")
    atomic_write_json(args.out, payload)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
