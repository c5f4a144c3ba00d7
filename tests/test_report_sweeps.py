"""The sweeps' curves and sentences, computed from synthetic runs (no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tfedge.report.runs import Run
from tfedge.report.sections.sweeps import accuracy_interval, sweeps_context

from .helpers import tiny_config, validated

TEST_IMAGES = 200


def run(variant: str, seed: int, correct: int, **summary) -> Run:
    """A run that got the first ``correct`` of TEST_IMAGES test images right."""
    labels = np.zeros(TEST_IMAGES, int)
    predicted = np.where(np.arange(TEST_IMAGES) < correct, 0, 1)
    return Run(
        variant=variant,
        seed=seed,
        summary={
            "trainable_params": 1000,
            "train_seconds": 20.0,
            "epochs_run": 2,
            "batch_size_requested": 32,
            "batch_size": 32,
            "attempts": [{"batch_size": 32, "ended": "completed", "how": "completed"}],
            "peak_memory_mb": 900.0,
            **summary,
        },
        metrics={"test_accuracy": correct / TEST_IMAGES},
        history=pd.DataFrame(),
        predictions={"labels": labels, "predicted": predicted},
    )


def config_with(**lists) -> dict:
    config = tiny_config()
    config["variants"]["finetuned"].update(lists)
    return validated(config)


def depth_runs(config: dict, correct: dict[str, int]) -> dict:
    """Runs for both seeds of frozen and every point, ``correct`` images right per variant."""
    params = {name: 1000 * (index + 1) for index, name in enumerate(correct)}
    return {
        name: [
            run(
                name,
                seed,
                correct[name],
                trainable_params=params[name],
                train_seconds=10.0 * (i + 1),
                features_cached=name == "frozen",  # the head trains on cached features
                images_per_second=100.0 if name == "frozen" else 10.0,
            )
            for seed in config["seeds"]
        ]
        for i, name in enumerate(correct)
    }


DEPTHS = ["block6", "block4", None]
DEPTH_POINTS = [
    "finetuned_unfreeze_from_block6",
    "finetuned_unfreeze_from_block4",
    "finetuned_unfreeze_from_null",
]


def test_the_fine_tuning_curve_starts_frozen_and_names_a_significant_best_depth():
    config = config_with(unfreeze_from=DEPTHS)
    correct = dict(zip(["frozen", *DEPTH_POINTS], [150, 155, 185, 170]))
    (section,) = sweeps_context(config, depth_runs(config, correct), alpha=0.05)
    assert section["kind"] == "unfreeze" and section["reference"] == "frozen"
    assert [row["label"] for row in section["rows"]] == [
        "frozen", "from block6", "from block4", "all layers (null)",
    ]  # fmt: skip
    assert section["rows"][0]["p_values"] is None
    assert [row["images_per_second"] for row in section["rows"]] == [None, 10.0, 10.0, 10.0]
    assert [row["beats_reference"] for row in section["rows"][1:]] == [False, True, True]
    assert section["sentence"].startswith("Unfreezing from block4 is best here: 92.50 %")
    assert (
        "+17.50 points" in section["sentence"] and "significant at α = 0.05" in section["sentence"]
    )
    assert section["chart"].startswith("data:image/svg+xml;base64,")


def test_a_gain_chance_explains_is_called_not_significant():
    config = config_with(unfreeze_from=DEPTHS)
    correct = dict(zip(["frozen", *DEPTH_POINTS], [150, 152, 151, 149]))
    (section,) = sweeps_context(config, depth_runs(config, correct), alpha=0.05)
    assert "block6 scored highest here" in section["sentence"]
    assert "no depth beat the frozen features significantly" in section["sentence"]


def attempts_down_to(requested: int, used: int) -> list[dict]:
    """train.json's attempts when ``requested`` was halved until ``used`` fit."""
    sizes = [requested]
    while sizes[-1] > used:
        sizes.append(sizes[-1] // 2)
    died = {"ended": "died", "how": "killed by SIGKILL"}
    return [{"batch_size": size, **died} for size in sizes[:-1]] + [
        {"batch_size": used, "ended": "completed", "how": "completed"}
    ]


def batch_runs(config: dict, fitted: dict[int, tuple[int, float]], cap: int | None) -> dict:
    """Per requested batch: (batch trained at, images per second)."""
    runs = {}
    for requested, (used, speed) in fitted.items():
        attempts = attempts_down_to(requested, used)
        name = f"finetuned_batch_size_{requested}"
        runs[name] = [
            run(name, seed, 150, batch_size_requested=requested, batch_size=used,
                attempts=attempts, images_per_second=speed, memory_limit_mb=cap,
                memory_available_mb=cap, peak_tensor_memory_mb=10.0 * used)
            for seed in config["seeds"]
        ]  # fmt: skip
    return runs


def test_the_batch_curve_finds_the_largest_batch_that_fits_and_the_speed_up():
    config = config_with(batch_size=[16, 32, 64, 128])
    fitted = {16: (16, 10.0), 32: (32, 15.0), 64: (64, 24.0), 128: (64, 23.0)}
    (section,) = sweeps_context(config, batch_runs(config, fitted, cap=1100), alpha=0.05)
    assert section["kind"] == "batch_size" and section["largest_fit"] == 64
    assert section["sentence"] == (
        "Under a 1100 MB memory cap batch 64 is the largest that fits (batch 128 ran out of "
        "memory and was halved); batch 64 trains 1.60× as fast as batch 32 (24 against 15 "
        "images/s)."
    )


def test_without_a_back_off_the_sentence_says_none_ran_out():
    config = config_with(batch_size=[16, 32])
    fitted = {16: (16, 10.0), 32: (32, 12.0)}
    (section,) = sweeps_context(config, batch_runs(config, fitted, cap=None), alpha=0.05)
    assert section["sentence"].startswith(
        "On this machine batch 32 is the largest that fits of those tried (none ran out"
    )


def test_another_sweep_gets_a_table_of_its_points():
    config = config_with(learning_rate=[0.001, 0.0001])
    names = list(config["sweeps"]["finetuned"]["points"])
    runs = {name: [run(name, seed, 150) for seed in config["seeds"]] for name in names}
    (section,) = sweeps_context(config, runs, alpha=0.05)
    assert section["kind"] == "other" and section["chart"] is None
    assert [row["label"] for row in section["rows"]] == [
        "learning_rate 0.001",
        "learning_rate 0.0001",
    ]


def test_accuracy_interval_is_students_t_over_seeds_within_0_and_1():
    assert accuracy_interval([0.9]) is None
    low, high = accuracy_interval([0.8, 0.9])
    # mean 0.85, s = 0.0707, t(0.975, 1) = 12.706: half-width 0.635, above 1 on the right
    assert low == pytest.approx(0.85 - 0.6353, abs=1e-3) and high == 1.0
    low, high = accuracy_interval([0.80, 0.82, 0.84])
    # mean 0.82, s = 0.02, t(0.975, 2) = 4.303: half-width 0.0497
    assert (low, high) == (pytest.approx(0.7703, abs=1e-3), pytest.approx(0.8697, abs=1e-3))
