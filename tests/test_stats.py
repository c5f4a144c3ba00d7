"""Exact McNemar test against hand-computed tables; bootstrap intervals on synthetic timings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tfedge.stats import mcnemar_exact, median_interval, ratio_of_medians_interval


def paired(both: int, only_first: int, only_second: int, neither: int):
    first = [True] * both + [True] * only_first + [False] * only_second + [False] * neither
    second = [True] * both + [False] * only_first + [True] * only_second + [False] * neither
    return np.array(first), np.array(second)


def test_known_table():
    # b = 1, c = 9: p = 2 * (C(10,0) + C(10,1)) / 2**10 = 22 / 1024.
    result = mcnemar_exact(*paired(both=80, only_first=1, only_second=9, neither=10))
    assert (result.only_first_correct, result.only_second_correct) == (1, 9)
    assert result.p_value == pytest.approx(22 / 1024)


def test_symmetric_and_equal_to_the_binomial_tails_by_hand():
    first, second = paired(both=50, only_first=4, only_second=15, neither=3)
    forward, backward = mcnemar_exact(first, second), mcnemar_exact(second, first)
    assert forward.p_value == pytest.approx(backward.p_value)
    both_tails = 2 * sum(math.comb(19, k) for k in range(5)) / 2**19  # P(X <= 4 or X >= 15)
    assert forward.p_value == pytest.approx(both_tails, rel=1e-12)


def test_no_discordant_pairs_and_balanced_tables_give_p_one():
    assert mcnemar_exact(*paired(10, 0, 0, 5)).p_value == 1.0
    assert mcnemar_exact(*paired(10, 6, 6, 5)).p_value == 1.0


def test_refuses_predictions_on_different_images():
    with pytest.raises(ValueError, match="same images"):
        mcnemar_exact(np.ones(3, bool), np.ones(4, bool))


def timings(median_ms: float, seed: int, runs: int = 50) -> np.ndarray:
    """Right-skewed timings around ``median_ms``, as a busy machine produces them."""
    return median_ms * np.random.default_rng(seed).lognormal(0.0, 0.2, runs)


def test_a_clear_speed_up_has_an_interval_above_one_around_the_ratio_of_medians():
    reference, candidate = timings(2.0, seed=1), timings(1.0, seed=2)
    low, high = ratio_of_medians_interval(reference, candidate)
    assert 1.5 < low < np.median(reference) / np.median(candidate) < high < 2.7


def test_the_same_distribution_gives_an_interval_around_one():
    low, high = ratio_of_medians_interval(timings(1.0, seed=3), timings(1.0, seed=4))
    assert 0.8 < low < 1.0 < high < 1.25


def test_a_few_slow_outliers_do_not_make_a_speed_up():
    """Medians, not means: ten stalls of a second among 1 ms calls change nothing."""
    calm = timings(1.0, seed=5, runs=100)
    stalled = calm.copy()
    stalled[::10] = 1000.0
    low, high = ratio_of_medians_interval(stalled, calm)
    assert low < 1.0 < high < 1.3


def test_the_interval_is_deterministic_and_seeded():
    reference, candidate = timings(1.2, seed=6), timings(1.0, seed=7)
    first = ratio_of_medians_interval(reference, candidate)
    assert ratio_of_medians_interval(reference, candidate) == first
    assert ratio_of_medians_interval(reference, candidate, seed=1) != first


def test_a_lower_confidence_gives_a_narrower_interval_inside():
    reference, candidate = timings(1.5, seed=8), timings(1.0, seed=9)
    wide_low, wide_high = ratio_of_medians_interval(reference, candidate)
    low, high = ratio_of_medians_interval(reference, candidate, confidence=0.5)
    assert wide_low < low < high < wide_high


def test_the_interval_refuses_samples_of_one_and_impossible_confidence():
    with pytest.raises(ValueError, match="at least two timings"):
        ratio_of_medians_interval([], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least two timings"):
        median_interval([1.0])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        ratio_of_medians_interval([1.0, 2.0], [1.0, 2.0], confidence=95)


def test_the_median_interval_narrows_with_more_timings():
    few, many = timings(10.0, seed=8, runs=10), timings(10.0, seed=8, runs=400)
    low_few, high_few = median_interval(few)
    low_many, high_many = median_interval(many)
    assert low_few < np.median(few) < high_few and low_many < np.median(many) < high_many
    assert low_many < 10.0 < high_many
    assert high_many - low_many < (high_few - low_few) / 2
