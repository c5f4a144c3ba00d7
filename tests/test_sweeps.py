"""A list in a variant's setting sweeps it: one named variant per value, checked value by value."""

from __future__ import annotations

import pytest

from tfedge.config.errors import ConfigError
from tfedge.sweeps import point_name, value_token

from .helpers import tiny_config, validated
from .snakemake_runs import copy_workflow, planned_jobs

FINETUNED_SWEEP = {"unfreeze_from": [None, "block6", "block4"], "batch_size": [8, 16]}


def swept(**lists) -> dict:
    config = tiny_config()
    config["variants"]["finetuned"].update(lists)
    return config


def test_a_list_becomes_one_variant_per_value_in_the_order_written():
    config = validated(swept(learning_rate=[0.001, 0.0005]))
    names = [name for name in config["variants"] if name.startswith("finetuned")]
    assert names == ["finetuned_learning_rate_0p001", "finetuned_learning_rate_0p0005"]
    assert config["variants"]["finetuned_learning_rate_0p0005"]["learning_rate"] == 0.0005
    assert config["variants"]["finetuned_learning_rate_0p0005"]["init_from"] == "frozen"
    assert "finetuned" not in config["variants"]
    assert config["sweeps"]["finetuned"] == {
        "keys": ["learning_rate"],
        "points": {
            "finetuned_learning_rate_0p001": {"learning_rate": 0.001},
            "finetuned_learning_rate_0p0005": {"learning_rate": 0.0005},
        },
    }


def test_lists_in_two_keys_give_every_combination_with_defaults_filled():
    config = validated(swept(**FINETUNED_SWEEP))
    points = config["sweeps"]["finetuned"]["points"]
    assert len(points) == 6
    assert list(points)[:2] == [  # keys in alphabetical order, values as written
        "finetuned_batch_size_8_unfreeze_from_null",
        "finetuned_batch_size_8_unfreeze_from_block6",
    ]
    point = config["variants"]["finetuned_batch_size_16_unfreeze_from_block4"]
    assert (point["unfreeze_from"], point["batch_size"]) == ("block4", 16)
    assert point["min_batch_size"] == 4 and point["memory_limit_mb"] is None


def test_reordering_a_swept_variants_keys_keeps_its_points():
    """Point names are variant names: a new name would retrain the point from scratch."""
    config = swept(**FINETUNED_SWEEP)
    variant = config["variants"]["finetuned"]
    config["variants"]["finetuned"] = dict(reversed(list(variant.items())))
    reordered = validated(config)
    written = validated(swept(**FINETUNED_SWEEP))
    assert list(reordered["variants"]) == list(written["variants"])
    assert reordered["sweeps"] == written["sweeps"]


def test_a_list_valued_setting_is_not_a_sweep():
    config = tiny_config()
    config["variants"]["cnn"]["filters"] = [8, 16, 32]
    assert "cnn" not in validated(config)["sweeps"]


def test_validating_twice_keeps_the_variants_and_the_record():
    once = validated(swept(batch_size=[8, 16]))
    twice = validated(once)
    assert twice["variants"] == once["variants"] and twice["sweeps"] == once["sweeps"]


@pytest.mark.parametrize(
    ("value", "token"),
    [(None, "null"), (True, "true"), (16, "16"), (0.0005, "0p0005"), (1e-05, "1em05"),
     ("block_13", "block_13"), ("conv.2/x", "conv_2_x")],
)  # fmt: skip
def test_values_are_spelt_as_in_yaml_within_name_characters(value, token):
    assert value_token(value) == token
    assert point_name("v", {"k": value}) == f"v_k_{token}"


def problems_of(config: dict) -> str:
    with pytest.raises(ConfigError) as error:
        validated(config)
    return str(error.value)


def test_a_bad_value_is_named_by_its_index_and_the_rest_still_checked():
    config = swept(learning_rate=[0.001, -1, "fast"])
    config["variants"]["finetuned"]["epochs"] = 0
    message = problems_of(config)
    assert "variants.finetuned.learning_rate[1]: -1 is less than or equal to the minimum of 0" in (
        message
    )
    assert "variants.finetuned.learning_rate[2]: 'fast' is not of type 'number'" in message
    assert "variants.finetuned.learning_rate[0]" not in message
    assert "variants.finetuned.epochs: 0 is less than the minimum of 1" in message


@pytest.mark.parametrize(
    ("lists", "expected"),
    [
        ({"batch_size": []}, "variants.finetuned.batch_size: an empty list sweeps nothing"),
        ({"batch_size": [8, 8]}, "variants.finetuned.batch_size: 8 appears more than once"),
        ({"model": ["transfer", "cnn"]}, "variants.finetuned.model: a list here would sweep"),
    ],
)
def test_lists_that_sweep_nothing_or_the_variant_itself_are_refused(lists, expected):
    assert expected in problems_of(swept(**lists))


def test_a_name_that_must_be_one_variant_cannot_be_a_swept_one():
    config = tiny_config()
    config["variants"]["frozen"]["epochs"] = [1, 2]
    message = problems_of(config)
    assert (
        "variants.finetuned.init_from: 'frozen' is swept; name one of its points: "
        "frozen_epochs_1, frozen_epochs_2"
    ) in message
    assert "baseline.flowers: 'frozen' is swept" in message


def test_a_point_may_not_take_another_variants_name():
    config = swept(batch_size=[8, 16])
    config["variants"]["finetuned_batch_size_8"] = dict(config["variants"]["cnn"])
    assert "sweep point 'finetuned_batch_size_8' has the name of variant" in problems_of(config)


def test_convert_variants_naming_a_sweep_converts_every_point():
    config = swept(batch_size=[8, 16])
    config["convert"]["variants"] = ["cnn", "finetuned"]
    assert validated(config)["convert"]["variants"] == [
        "cnn",
        "finetuned_batch_size_8",
        "finetuned_batch_size_16",
    ]


def test_each_point_has_its_own_train_and_evaluate_jobs(tmp_path):
    jobs = planned_jobs(copy_workflow(tmp_path, swept(batch_size=[8, 16])))
    for point in ("finetuned_batch_size_8", "finetuned_batch_size_16"):
        for seed in tiny_config()["seeds"]:
            assert ("train", f"variant={point}, seed={seed}") in jobs
            assert ("evaluate", f"variant={point}, seed={seed}") in jobs
    assert not any(wildcards.startswith("variant=finetuned,") for _, wildcards in jobs)
