"""The int8 decision check (tests/decisions.py) passes a close model and fails each way of being
far: logits scaled wrong, clear decisions moved, or nothing clear to judge."""

from __future__ import annotations

import numpy as np
import pytest

from .decisions import assert_keeps_decisions, decision_report


@pytest.fixture
def reference() -> np.ndarray:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(120, 10))
    logits[np.arange(120), rng.integers(0, 10, 120)] += 3.0  # a clear winner on every image
    return logits.astype(np.float32)


def test_a_model_within_its_quantisation_error_passes(reference):
    noisy = reference + np.random.default_rng(1).normal(scale=0.03, size=reference.shape)
    assert_keeps_decisions(noisy, reference)


def test_logits_off_tenfold_fail_though_every_decision_is_kept(reference):
    assert decision_report(10 * reference, reference)["agreement"] == 1.0
    with pytest.raises(AssertionError, match="rms_error"):
        assert_keeps_decisions(10 * reference, reference)


def test_one_moved_clear_decision_fails(reference):
    moved = reference.copy()
    top = moved[0].argmax()
    moved[0, top], moved[0, (top + 1) % 10] = moved[0, (top + 1) % 10], moved[0, top]
    with pytest.raises(AssertionError, match="clear_kept"):
        assert_keeps_decisions(moved, reference)


def test_a_split_of_near_ties_cannot_pass_for_lack_of_clear_decisions():
    ties = np.full((50, 10), -1.0, np.float32)
    ties[:, :2] = [1.0, 0.99]  # two classes a hair apart on every image
    with pytest.raises(AssertionError, match="clear_fraction"):
        assert_keeps_decisions(ties, ties)
