"""Runs compared with each other: ImageNet val / ImageNetV2 pairs of a model, and paired tests
(``reassess compare``) of the runs on the same data."""

from __future__ import annotations

from typing import Any

from reassess.metrics.compare import p_value_text
from reassess.metrics.suite import MetricOptions
from reassess.report.cards import metric_title, percent
from reassess.report.mistakes import Progress
from reassess.report.tables import paired_csv
from reassess.report.view import PairedTest, RunView
from reassess.runs import compare_runs, recorded_expert_file
from reassess.store.run import RunDir


def v2_pairs(runs: list[RunView]) -> list[tuple[RunView, RunView]]:
    """(ImageNet val run, ImageNetV2 run) pairs of the same model spec."""
    val = {r.model: r for r in runs if r.data_name == "imagenet-val"}
    return [
        (val[r.model], r) for r in runs if r.data_name.startswith("imagenetv2") and r.model in val
    ]


def paired_options(a: RunDir, b: RunDir) -> MetricOptions:
    """Scoring options for comparing two runs: the expert file and options both were scored with.

    An unverified expert file is used as it was recorded; its UnverifiedLabelsWarning is left to
    the caller (the ``report`` command prints it).
    """
    from reassess.labels.expert import load_expert_multilabels

    (path_a, verified_a), (path_b, _) = recorded_expert_file(a), recorded_expert_file(b)
    expert = None
    if path_a is not None and path_a == path_b:
        expert = load_expert_multilabels(path_a, verify=verified_a)
    recorded = [
        (run.read_metrics().get("options") or {}) if run.has_metrics() else {} for run in (a, b)
    ]
    same = {k: v for k, v in recorded[0].items() if recorded[1].get(k) == v}
    return MetricOptions(
        expert=expert,
        strict=bool(same.get("strict", False)) and expert is not None,
        equivalences=bool(same.get("equivalences", False)),
    )


def _p_value(mcnemar: dict[str, Any]) -> str:
    """McNemar's exact p-value for display; one that underflows is shown as a power of ten."""
    return p_value_text(mcnemar["p_value"], mcnemar.get("log10_p"))


def paired_rows(result: dict[str, Any]) -> list[dict[str, str]]:
    """The rows of one ``compare_runs`` result as the report's table shows them."""
    rows = []
    for key, entry in result["metrics"].items():
        lo, hi = entry["ci95"]
        mcnemar = entry.get("mcnemar")
        verdict = "A better" if lo > 0 else "B better" if hi < 0 else "not significant"
        rows.append(
            {
                "metric": metric_title(key),
                "A": percent(entry["a"]["value"]),
                "B": percent(entry["b"]["value"]),
                "A − B (pp)": f"{100 * entry['difference']:+.2f}",
                "95% CI (paired bootstrap)": f"{100 * lo:+.2f} to {100 * hi:+.2f}",
                "McNemar A-only / B-only, p": (
                    f"{mcnemar['a_only']:,} / {mcnemar['b_only']:,}, {_p_value(mcnemar)}"
                    if mcnemar
                    else "–"
                ),
                "images": f"{entry['n']:,}",
                "verdict": verdict,
            }
        )
    return rows


def paired_tests(
    runs: list[RunView], progress: Progress | None = None
) -> tuple[list[PairedTest], list[str]]:
    """``reassess compare`` of the best run (top-1) on each dataset against every other on it."""
    groups: dict[str, list[RunView]] = {}
    for run in runs:
        groups.setdefault(run.data_name or run.data, []).append(run)
    pairs = []
    for group in groups.values():
        ranked = sorted(group, key=lambda r: -(r.card("top1").value if r.card("top1") else -1))
        pairs += [(ranked[0], other) for other in ranked[1:]]
    if not pairs:
        return [], ["no two runs are on the same data, so there is nothing to pair"]
    tests, notes = [], []
    tick = progress("paired tests", len(pairs)) if progress else None
    for a, b in pairs:
        run_a, run_b = RunDir(a.path), RunDir(b.path)
        try:
            result = compare_runs(run_a, run_b, options=paired_options(run_a, run_b))
        except (ValueError, FileNotFoundError) as exc:
            notes.append(f"{a.title} vs {b.title}: not paired ({exc})")
        else:
            resamples = result.get("bootstrap", {}).get("resamples")
            tests.append(
                PairedTest(a.title, b.title, paired_rows(result), resamples, csv=paired_csv(result))
            )
        if tick:
            tick(1)
    return tests, notes
