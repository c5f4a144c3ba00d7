"""Misclassified test images of each variant's first seed, true class → predicted."""

from __future__ import annotations

import numpy as np

from tfedge.report import plots
from tfedge.report.results import Results

ID = "misclassified"
TITLE = "Misclassified test images"
READS = ("predictions", "manifests")


def context(results: Results) -> dict:
    figures = {}
    for name, runs in results.runs.items():
        first, names = runs[0], results.class_names(name)
        predictions = first.predictions
        captions = [
            f"{names[predictions['labels'][i]]} → {names[predictions['predicted'][i]]}"
            for i in predictions["misclassified_index"]
        ]
        figures[name] = {
            "total": int(np.sum(~first.correct)),
            "grid": plots.image_grid(
                predictions["misclassified_images"],
                captions,
                f"{name}: misclassified test images, true → predicted (seed {first.seed})",
            ),
        }
    return {"figures": figures}
