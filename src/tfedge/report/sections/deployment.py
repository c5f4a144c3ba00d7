"""Which model and format to deploy: test accuracy against batch-1 latency for every variant
and format the run timed, the Pareto front (nothing both faster and more accurate), and for
each latency budget (``report.latency_budgets_ms``) the most accurate choice within it.

Accuracy is compared within a data set only (the variants of different data sets answer
different questions); its 95 % interval is the Wilson interval over the test images.
"""

from __future__ import annotations

from tfedge.report import plots
from tfedge.report.results import Results
from tfedge.report.sections import conversions
from tfedge.stats import proportion_interval

ID = "deployment"
TITLE = "Choosing a deployment: accuracy against latency"
READS = ("benchmarks", "metrics", "manifests")


def candidates(results: Results) -> list[dict]:
    """Every timed variant × format with its data set, accuracy (and interval) and p50."""
    points = []
    for table in conversions.tables(results):
        dataset = results.variants[table["variant"]]["dataset"]
        images = results.manifests[dataset]["splits"]["test"]["count"]
        for row in table["rows"]:
            if row["status"] != "ok":
                continue
            correct = round(row["test_accuracy"] * images)
            points.append(
                {
                    "variant": table["variant"],
                    "format": row["format"],
                    "dataset": dataset,
                    "accuracy": row["test_accuracy"],
                    "interval": proportion_interval(correct, images),
                    "p50_ms": row["latency_batch1"]["p50_ms"],
                }
            )
    return points


def mark_pareto(points: list[dict]) -> None:
    """A point is on its data set's front when none there is at least as fast and as accurate
    and better in one."""
    for point in points:
        point["pareto"] = not any(
            other["dataset"] == point["dataset"]
            and other["p50_ms"] <= point["p50_ms"]
            and other["accuracy"] >= point["accuracy"]
            and (other["p50_ms"], other["accuracy"]) != (point["p50_ms"], point["accuracy"])
            for other in points
        )


def best_within(points: list[dict], budget_ms: float) -> dict | None:
    """The most accurate point within the budget; the quicker of equally accurate ones."""
    within = [point for point in points if point["p50_ms"] <= budget_ms]
    return max(within, key=lambda p: (p["accuracy"], -p["p50_ms"]), default=None)


def budget_sentence(dataset: str, points: list[dict], budget_ms: float) -> str:
    best = best_within(points, budget_ms)
    if best is None:
        quickest = min(points, key=lambda p: p["p50_ms"])
        return (
            f"Nothing for {dataset} runs within {budget_ms:g} ms per image at batch 1 on this "
            f"CPU: the quickest, {quickest['variant']} as {quickest['format']}, takes "
            f"{quickest['p50_ms']:.2f} ms."
        )
    low, high = best["interval"]
    return (
        f"Within {budget_ms:g} ms per image at batch 1 on this CPU, the most accurate for "
        f"{dataset} is {best['variant']} as {best['format']}: {100 * best['accuracy']:.2f} % "
        f"test accuracy (95 % interval {100 * low:.1f}–{100 * high:.1f} %), "
        f"{best['p50_ms']:.2f} ms."
    )


def number_the_front(points: list[dict]) -> None:
    """Give each Pareto point a number, its label on the chart and in the table under it: names
    would sit on top of one another where formats of one variant time alike."""
    front = [point for point in points if point["pareto"]]
    for number, point in enumerate(front, start=1):
        point["label"] = str(number)


def context(results: Results) -> dict | None:
    points = candidates(results)
    if not points:
        return None
    mark_pareto(points)
    points.sort(key=lambda p: (p["dataset"], p["p50_ms"]))
    number_the_front(points)
    budgets = results.config["report"]["latency_budgets_ms"]
    datasets = sorted({point["dataset"] for point in points})
    return {
        "points": points,
        "front": [point for point in points if point["pareto"]],
        "sentences": [
            budget_sentence(dataset, [p for p in points if p["dataset"] == dataset], budget)
            for dataset in datasets
            for budget in sorted(budgets)
        ],
        "chart": plots.deployment_chart(points),
    }
