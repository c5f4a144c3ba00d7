"""One trained run as the report sees it, and the test that compares two variants' runs.

Shared by the accuracy table (tfedge.report.sections.accuracy) and the sweeps' curves
(tfedge.report.sections.sweeps), so both call a variant better by the same rule.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tfedge.stats import mcnemar_exact


@dataclass
class Run:
    """One trained (variant, seed) and what evaluation made of it."""

    variant: str
    seed: int
    summary: dict
    metrics: dict
    history: pd.DataFrame
    predictions: dict[str, np.ndarray]

    @property
    def correct(self) -> np.ndarray:
        return self.predictions["predicted"] == self.predictions["labels"]

    @property
    def ran_out(self) -> list[dict]:
        """The attempts that ran out of memory before the batch size that trained."""
        return [
            {"seed": self.seed, "batch_size": attempt["batch_size"], "how": attempt["how"]}
            for attempt in self.summary["attempts"][:-1]
        ]


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single seed)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def compare_runs(runs: list[Run], reference_runs: list[Run], alpha: float) -> dict:
    """McNemar per seed on the same test images.

    "beats" needs a higher mean accuracy and p < alpha in every seed.
    """
    by_seed = {run.seed: run for run in reference_runs}
    tests = [mcnemar_exact(by_seed[run.seed].correct, run.correct) for run in runs]
    accuracy = mean_std([run.metrics["test_accuracy"] for run in runs])[0]
    reference_accuracy = mean_std([run.metrics["test_accuracy"] for run in reference_runs])[0]
    worst_p = max(test.p_value for test in tests)
    return {
        "reference": reference_runs[0].variant,
        "reference_accuracy": reference_accuracy,
        "difference": accuracy - reference_accuracy,
        "p_values": [test.p_value for test in tests],
        "worst_p": worst_p,
        "discordant": [(test.only_first_correct, test.only_second_correct) for test in tests],
        "beats": accuracy > reference_accuracy and worst_p < alpha,
    }
