"""Training curves: accuracy and loss per epoch, training and validation, every seed."""

from __future__ import annotations

from tfedge.report import plots
from tfedge.report.results import Results

ID = "curves"
TITLE = "Training curves"
READS = ("histories",)


def context(results: Results) -> dict:
    return {
        "figures": {
            name: plots.training_curves({run.seed: run.history for run in runs}, name)
            for name, runs in results.runs.items()
        }
    }
