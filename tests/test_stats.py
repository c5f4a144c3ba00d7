"""Exact McNemar test against hand-computed tables."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from tfedge.stats import mcnemar_exact


def paired(both: int, only_first: int, only_second: int, neither: int):
    first = [True] * both + [True] * only_first + [False] * only_second + [False] * neither
    second = [True] * both + [False] * only_first + [True] * only_second + [False] * neither
    return np.array(first), np.array(second)


def test_known_table():
    # b = 1, c = 9: p = 2 * (C(10,0) + C(10,1)) / 2**10 = 22 / 1024.
    result = mcnemar_exact(*paired(both=80, only_first=1, only_second=9, neither=10))
    assert (result.only_first_correct, result.only_second_correct) == (1, 9)
    assert result.p_value == pytest.approx(22 / 1024)


def test_symmetric_and_agrees_with_scipy_binomtest():
    first, second = paired(both=50, only_first=4, only_second=15, neither=3)
    forward, backward = mcnemar_exact(first, second), mcnemar_exact(second, first)
    assert forward.p_value == pytest.approx(backward.p_value)
    assert forward.p_value == pytest.approx(binomtest(4, 19, 0.5).pvalue)


def test_no_discordant_pairs_and_balanced_tables_give_p_one():
    assert mcnemar_exact(*paired(10, 0, 0, 5)).p_value == 1.0
    assert mcnemar_exact(*paired(10, 6, 6, 5)).p_value == 1.0


def test_refuses_predictions_on_different_images():
    with pytest.raises(ValueError, match="same images"):
        mcnemar_exact(np.ones(3, bool), np.ones(4, bool))
