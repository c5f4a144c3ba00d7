"""Statistics for comparing classifiers on the same test images, and their timings."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom, norm


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
    reference, candidate = np.asarray(reference, float), np.asarray(candidate, float)
    if not (reference.size and candidate.size):
        raise ValueError("a bootstrap interval needs at least one timing in each sample")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence}")
    rng = np.random.default_rng(seed)
    reference_medians = resampled_medians(reference, resamples, rng)
    ratios = reference_medians / resampled_medians(candidate, resamples, rng)
    tail = 50 * (1 - confidence)
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)


def median_interval(
    sample: np.ndarray, confidence: float = 0.95, resamples: int = 4000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of median(sample): how precisely the timings pin it down."""
    sample = np.asarray(sample, float)
    if not sample.size:
        raise ValueError("a bootstrap interval needs at least one timing")
    medians = resampled_medians(sample, resamples, np.random.default_rng(seed))
    tail = 50 * (1 - confidence)
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(low), float(high)


def resampled_medians(sample: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of ``resamples`` draws with replacement from ``sample``, all in one array."""
    draws = rng.integers(0, sample.size, size=(resamples, sample.size))
    return np.median(sample[draws], axis=1)


def proportion_interval(
    successes: int, trials: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Wilson score interval of a proportion (a test accuracy over ``trials`` images).

    Unlike the normal approximation it stays inside 0–1 and behaves near 0 and 1.
    """
    z = float(norm.ppf(0.5 + confidence / 2))
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (
        z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials**2)) / (1 + z * z / trials)
    )
    return max(0.0, centre - half), min(1.0, centre + half)
