"""The report's statistics pinned to the numbers they gave before scipy computed them.

A guard for issue 34: McNemar p-values, Wilson and Student-t intervals and the seeded bootstrap
intervals moved from hand-written formulas to scipy.stats, and no figure in a report may change.
The values below are what the hand-written versions returned for these inputs; the tolerance
allows only the last-digit rounding of a different order of floating-point operations.
"""

from __future__ import annotations

import pytest

from tfedge.report.sections.sweeps import accuracy_interval
from tfedge.stats import (
    mcnemar_exact,
    median_interval,
    proportion_interval,
    ratio_of_medians_interval,
)

from .test_stats import paired, timings


def pinned(value):
    return pytest.approx(value, rel=1e-12, abs=0)


@pytest.mark.parametrize(
    ("table", "discordant", "p_value"),
    [
        ((80, 1, 9, 10), (1, 9), 0.021484375),
        ((50, 4, 15, 3), (4, 15), 0.0192108154296875),
        ((10, 0, 0, 5), (0, 0), 1.0),
        ((10, 6, 6, 5), (6, 6), 1.0),
        ((0, 30, 12, 0), (30, 12), 0.007915897334896727),
        ((900, 37, 52, 11), (37, 52), 0.137367971355652),
        ((500, 0, 7, 2), (0, 7), 0.015625),
    ],
)
def test_mcnemar_gives_the_pinned_counts_and_p_values(table, discordant, p_value):
    result = mcnemar_exact(*paired(*table))
    assert (result.only_first_correct, result.only_second_correct) == discordant
    assert result.p_value == pinned(p_value)


@pytest.mark.parametrize(
    ("arguments", "interval"),
    [
        ((95, 100), (0.8882495307680808, 0.9784563208456319)),
        ((0, 20), (0.0, 0.16112515805281938)),
        ((20, 20), (0.8388748419471806, 1.0)),
        ((9876, 10000), (0.9852361608857194, 0.9895893639031967)),
        ((3, 7, 0.9), (0.18644319036395607, 0.7105229089864071)),
        ((1, 1), (0.20654931437723745, 1.0)),
    ],
)
def test_wilson_intervals_are_the_pinned_ones(arguments, interval):
    assert proportion_interval(*arguments) == pinned(interval)


@pytest.mark.parametrize(
    ("samples", "options", "interval"),
    [
        ((timings(2.0, 1), timings(1.0, 2)), {}, (1.8188225299420084, 2.1713298455361967)),
        (
            (timings(1.5, 8), timings(1.0, 9, runs=80)),
            {"confidence": 0.5, "seed": 1},
            (1.4703994324539917, 1.5485720714929772),
        ),
        (
            (timings(1.2, 6), timings(1.0, 7)),
            {"resamples": 500, "seed": 3},
            (1.193464901849435, 1.4218821135785418),
        ),
    ],
)
def test_seeded_ratio_of_medians_intervals_are_the_pinned_ones(samples, options, interval):
    assert ratio_of_medians_interval(*samples, **options) == pinned(interval)


@pytest.mark.parametrize(
    ("sample", "options", "interval"),
    [
        (timings(10.0, 8, runs=10), {}, (7.358826408819707, 11.956859494627889)),
        (
            timings(10.0, 8, runs=101),
            {"confidence": 0.9, "seed": 5},
            (9.531818549786164, 10.148890558246805),
        ),
    ],
)
def test_seeded_median_intervals_are_the_pinned_ones(sample, options, interval):
    assert median_interval(sample, **options) == pinned(interval)


@pytest.mark.parametrize(
    ("accuracies", "interval"),
    [
        ([0.8, 0.9], (0.21468976319126554, 1.0)),
        ([0.80, 0.82, 0.84], (0.7703172457649934, 0.8696827542350065)),
        ([0.91, 0.93, 0.92, 0.95, 0.90], (0.8981161161190002, 0.9458838838809999)),
        ([0.95, 1.0, 1.0], (0.9116224545041757, 1.0)),
        ([0.9, 0.9, 0.9], (0.9, 0.9)),  # seeds that agree: no spread, no interval
        ([1.0, 1.0], (1.0, 1.0)),
    ],
)
def test_student_t_accuracy_intervals_are_the_pinned_ones(accuracies, interval):
    assert accuracy_interval(accuracies) == pinned(interval)
