"""The leaderboard's columns, table titles and ranking come from the metric registry."""

from rich.console import Console

from reassess.metrics.registry import metric_title
from reassess.zoo.leaderboard import leaderboard_table, metric_columns


def row(model, metrics, data="imagenet-val"):
    return {
        "data": data,
        "model": model,
        "status": "complete",
        "run": f"runs/{model}",
        "error": None,
        "n": 50_000,
        "images_per_second": 100.0,
        "metrics": metrics,
    }


def test_columns_put_the_headline_metrics_first_then_the_rest_in_registry_order():
    rows = [
        row("a", {"ece": 0.03, "mine_top1": 0.5, "real_top5": 0.9, "expert_top1": 0.8}),
        row("b", {"real_share_2plus": 0.15, "top5": 0.9, "real_top1": 0.8, "top1": 0.7}),
    ]
    assert metric_columns(rows) == [
        "top1",
        "top5",
        "real_top1",
        "real_top5",
        "expert_top1",
        "real_share_2plus",
        "ece",
        "mine_top1",
    ]


def test_the_table_shows_the_headline_metrics_under_their_registered_titles():
    rows = [row("a", {"top1": 0.7, "real_top1": 0.8, "ece": 0.03, "cleaned_top1": 0.77})]
    console = Console(width=200, record=True)
    console.print(leaderboard_table(rows))
    text = console.export_text()
    assert metric_title("real_top1") in text and metric_title("top1") in text
    assert "80.00%" in text
    assert metric_title("ece") not in text and metric_title("cleaned_top1") not in text
