"""Statistics for comparing classifiers on the same test images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom


@dataclass(frozen=True)
class McNemarResult:
    """Discordant pairs and the exact two-sided p-value."""

    only_first_correct: int
    only_second_correct: int
    p_value: float


def mcnemar_exact(first_correct: np.ndarray, second_correct: np.ndarray) -> McNemarResult:
    """Exact (binomial) McNemar test on paired per-image correctness.

    Under the null hypothesis each discordant image is equally likely to favour either
    model, so the smaller discordant count is Binomial(b + c, 1/2); the two-sided p-value
    doubles its lower tail (capped at 1). Exact rather than chi-squared because the counts
    are small when both models are good.
    """
    first_correct = np.asarray(first_correct, bool)
    second_correct = np.asarray(second_correct, bool)
    if first_correct.shape != second_correct.shape:
        raise ValueError("McNemar needs predictions on the same images")
    b = int(np.sum(first_correct & ~second_correct))
    c = int(np.sum(~first_correct & second_correct))
    p_value = 1.0 if b + c == 0 else min(1.0, 2.0 * float(binom.cdf(min(b, c), b + c, 0.5)))
    return McNemarResult(b, c, p_value)
