"""Confusion matrices and per-class precision and recall, of each variant's first seed."""

from __future__ import annotations

from tfedge.report import plots
from tfedge.report.results import Results

ID = "confusion"
TITLE = "Confusion matrices and per-class scores"
READS = ("metrics", "manifests")


def context(results: Results) -> dict:
    figures = {}
    for name, runs in results.runs.items():
        first = runs[0]
        figures[name] = {
            "chart": plots.confusion_matrix(
                first.metrics["confusion_matrix"],
                results.class_names(name),
                f"{name} (seed {first.seed})",
            ),
            "per_class": first.metrics["per_class"],
        }
    return {"figures": figures}
