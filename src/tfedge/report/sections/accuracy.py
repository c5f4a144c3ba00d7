"""Accuracy: each variant's test accuracy over seeds, and whether it beats its reference.

A variant is tested (McNemar, on the same test images) against its init_from run, else its
data set's baseline; it beats it when it is more accurate and p < alpha in every seed. The
rows are shared: the summary, the data section and the banner read them through ``rows``.
"""

from __future__ import annotations

import statistics

from tfedge.report.results import Results
from tfedge.report.runs import Run, compare_runs, mean_std

ID = "accuracy"
TITLE = "Accuracy"
READS = ("metrics", "predictions", "summaries", "histories", "manifests")


def reference_of(name: str, variants: dict, baseline_of: dict[str, str]) -> str | None:
    """What a variant is tested against: its init_from run, else its dataset's baseline.

    ``baseline_of`` maps a dataset to its baseline variant (tfedge.config.helpers.baselines).
    """
    variant = variants[name]
    if variant.get("init_from"):
        return variant["init_from"]
    baseline = baseline_of.get(variant["dataset"])
    return None if baseline == name else baseline


def variant_row(name: str, variant: dict, runs: list[Run], manifest: dict) -> dict:
    accuracy_mean, accuracy_std = mean_std([run.metrics["test_accuracy"] for run in runs])
    backbone = runs[0].summary.get("backbone")
    return {
        "variant": name,
        "dataset": variant["dataset"],
        "model": variant["model"],
        "backbone": f"{backbone['name']} ({backbone['source']})" if backbone else None,
        "backbone_reason": backbone["reason"] if backbone else None,
        "unfrozen": bool(variant.get("unfreeze")),
        "features_cached": runs[0].summary["features_cached"],
        "source_used": manifest["source_used"],
        "params": runs[0].summary["params"],
        "macs": runs[0].summary.get("macs"),
        "trainable_params": runs[0].summary["trainable_params"],
        "epochs": runs[0].summary["epochs_run"],
        "best_epochs": [run.summary["best_epoch"] for run in runs],
        "batch_sizes": sorted({run.summary["batch_size"] for run in runs}),
        "ran_out": [attempt for run in runs for attempt in run.ran_out],
        "peak_memory_mb": max(run.summary["peak_memory_mb"] for run in runs),
        "train_seconds": statistics.fmean(run.summary["train_seconds"] for run in runs),
        "accuracy_mean": accuracy_mean,
        "accuracy_std": accuracy_std,
        "loss_mean": statistics.fmean(run.metrics["test_loss"] for run in runs),
        "seeds": [run.seed for run in runs],
        "comparison": None,
        "sentence": None,
    }


def comparison_sentence(row: dict, alpha: float) -> str:
    """One sentence, computed from the numbers, on whether a variant improved on its reference."""
    comparison = row["comparison"]
    points = 100 * comparison["difference"]
    name, reference = row["variant"], comparison["reference"]
    numbers = f"({points:+.2f} points, McNemar p = {comparison['worst_p']:.3g})"
    accuracy = 100 * row["accuracy_mean"]
    reference_accuracy = 100 * comparison["reference_accuracy"]
    verdict = 0 if comparison["beats"] else 1 if points > 0 else 2
    if row["unfrozen"]:
        figures = f"{name} {accuracy:.2f} % vs {reference} {reference_accuracy:.2f} % {numbers}"
        claims = ("Unfreezing helped", "Unfreezing raised accuracy", "Unfreezing did not help")
    else:
        figures = f"{accuracy:.2f} % vs {reference_accuracy:.2f} % {numbers}"
        claims = (
            f"{name} beats {reference}",
            f"{name} is more accurate than {reference}",
            f"{name} does not beat {reference}",
        )
    qualifier = [f", significant at α = {alpha}", ", but not significantly", ""][verdict]
    return f"{claims[verdict]}: {figures}{qualifier}.{stand_in_caveat(row, verdict)}"


def stand_in_caveat(row: dict, verdict: int) -> str:
    """Said plainly when the offline stand-in data shows no significant gain from unfreezing."""
    if not row["unfrozen"] or verdict == 0 or row.get("source_used") != "bundled":
        return ""
    return (
        " On the offline stand-in data this run cannot show the homework's gain from "
        "unfreezing: the difference is within what chance gives on these test images."
    )


def _rows(results: Results) -> list[dict]:
    rows = []
    for name, variant in results.variants.items():
        manifest = results.manifests[variant["dataset"]]
        row = variant_row(name, variant, results.runs[name], manifest)
        reference = reference_of(name, results.variants, results.baselines)
        if reference is not None:
            row["comparison"] = compare_runs(
                results.runs[name], results.runs[reference], results.alpha
            )
            row["sentence"] = comparison_sentence(row, results.alpha)
        rows.append(row)
    return rows


def rows(results: Results) -> list[dict]:
    """One row per variant, with its comparison and sentence where it has a reference."""
    return results.once("accuracy rows", _rows)


def context(results: Results) -> dict:
    return {
        "rows": rows(results),
        "seeds": results.seeds,
        "alpha": results.alpha,
        "baselines": results.baselines,
    }
