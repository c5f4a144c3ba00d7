"""Statistics for comparing classifiers on the same test images, and their timings.

Each is a thin wrapper round scipy.stats that fixes the choices the report depends on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest, bootstrap


@dataclass(frozen=True)
class McNemarResult:
    """Discordant pairs and the exact two-sided p-value."""

    only_first_correct: int
    only_second_correct: int
    p_value: float


def mcnemar_exact(first_correct: np.ndarray, second_correct: np.ndarray) -> McNemarResult:
    """Exact (binomial) McNemar test on paired per-image correctness.

    Under the null hypothesis each discordant image is equally likely to favour either
    model, so one discordant count is Binomial(b + c, 1/2): the test is scipy's two-sided
    ``binomtest`` on it. Exact rather than chi-squared because the counts are small when
    both models are good.
    """
    first_correct = np.asarray(first_correct, bool)
    second_correct = np.asarray(second_correct, bool)
    if first_correct.shape != second_correct.shape:
        raise ValueError("McNemar needs predictions on the same images")
    b = int(np.sum(first_correct & ~second_correct))
    c = int(np.sum(~first_correct & second_correct))
    p_value = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
    return McNemarResult(b, c, p_value)


def ratio_of_medians_interval(
    reference: np.ndarray,
    candidate: np.ndarray,
    confidence: float = 0.95,
    resamples: int = 4000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of median(reference) / median(candidate).

    Both samples are resampled with replacement, each independently of the other (the two
    sets of timings come from separate runs, so nothing pairs them), ``resamples`` times;
    the interval is the central ``confidence`` share of the resampled ratios. Timings on a
    shared machine drift with whatever else runs there, so a ratio of two medians alone
    cannot tell a real speed-up from noise; an interval that contains 1 says it cannot.
    Seeded, so the same timings always give the same interval (and the same report).
    """
    return percentile_bootstrap(
        (reference, candidate), ratio_of_medians, confidence, resamples, seed
    )


def median_interval(
    sample: np.ndarray, confidence: float = 0.95, resamples: int = 4000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of median(sample): how precisely the timings pin it down."""
    return percentile_bootstrap((sample,), np.median, confidence, resamples, seed)


def ratio_of_medians(reference: np.ndarray, candidate: np.ndarray, axis: int) -> np.ndarray:
    """The speed-up statistic, over all of scipy's resamples at once (along ``axis``)."""
    return np.median(reference, axis=axis) / np.median(candidate, axis=axis)


def percentile_bootstrap(
    samples: tuple, statistic: Callable, confidence: float, resamples: int, seed: int
) -> tuple[float, float]:
    """``scipy.stats.bootstrap`` (percentile method), seeded, every resample in one batch.

    Without ``batch``, scipy draws all of one sample's resampling indices from
    ``default_rng(seed)`` before the next sample's, as the hand-written bootstrap before it
    did, so a seed gives the same resamples as it always has (batches would interleave the
    samples' draws). The endpoints are ``scipy.stats.quantile``'s linear interpolation,
    equal to ``numpy.percentile``'s to the last bit or two.
    """
    samples = tuple(np.asarray(sample, float) for sample in samples)
    if min(sample.size for sample in samples) < 2:
        raise ValueError("a bootstrap interval needs at least two timings in each sample")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence}")
    result = bootstrap(
        samples,
        statistic,
        n_resamples=resamples,
        vectorized=True,
        confidence_level=confidence,
        method="percentile",
        random_state=np.random.default_rng(seed),  # ``rng`` from scipy 1.15; 1.11 is allowed
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def proportion_interval(
    successes: int, trials: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Wilson score interval of a proportion (a test accuracy over ``trials`` images).

    scipy's ``binomtest(...).proportion_ci(method="wilson")``: unlike the normal
    approximation it stays inside 0–1 and behaves near 0 and 1.
    """
    interval = binomtest(successes, trials).proportion_ci(confidence, method="wilson")
    return float(interval.low), float(interval.high)
