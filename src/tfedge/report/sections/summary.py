"""Summary: the best variant per data set, each comparison in a sentence, where the sweeps are."""

from __future__ import annotations

from tfedge.report.results import Results
from tfedge.report.sections import accuracy

ID = "summary"
TITLE = "Summary"
READS = accuracy.READS


def best_per_dataset(rows: list[dict], manifests: dict[str, dict]) -> list[dict]:
    """The most accurate variant of each data set (mean over seeds), data sets by name."""
    best: dict[str, dict] = {}
    for row in rows:
        if row["dataset"] not in best or row["accuracy_mean"] > best[row["dataset"]]["accuracy"]:
            best[row["dataset"]] = {"variant": row["variant"], "accuracy": row["accuracy_mean"]}
    return [
        {
            "dataset": dataset,
            **choice,
            "source_used": manifests[dataset]["source_used"],
            "test_images": manifests[dataset]["splits"]["test"]["count"],
        }
        for dataset, choice in sorted(best.items())
    ]


def context(results: Results) -> dict:
    rows = accuracy.rows(results)
    return {
        "best": best_per_dataset(rows, results.manifests),
        "sentences": [row["sentence"] for row in rows if row["sentence"]],
        "baselines": results.baselines,
        "seeds": results.seeds,
        # The default report says where the curves live; a sweeps report shows them itself.
        "sweeps_elsewhere": not results.config.get("sweeps"),
    }
