"""The report's inputs: one listing for the rule and the script, paired by position."""

from __future__ import annotations

import pytest

from tfedge.config import canonical
from tfedge.paths import conversions, report_inputs, staged

from .conftest import tiny_config, validated


def test_report_inputs_cover_every_run_dataset_and_conversion():
    config = validated(tiny_config())
    keyed = report_inputs(config)
    runs = {(variant, seed) for variant in config["variants"] for seed in config["seeds"]}
    for kind in ("metrics", "predictions", "summaries", "histories"):
        assert set(keyed[kind]) == runs
    assert list(keyed["manifests"]) == ["flowers", "mnist"]
    assert set(keyed["benchmarks"]) == set(conversions(config))
    assert {variant for variant, _ in conversions(config)} == {"cnn"}


def test_an_empty_convert_list_gives_no_conversion_and_null_gives_all():
    config = validated(tiny_config())
    config["convert"]["variants"] = []
    assert conversions(config) == [] and report_inputs(config)["benchmarks"] == {}
    config["convert"]["variants"] = None
    assert {variant for variant, _ in conversions(config)} == set(config["variants"])


def test_staged_pairs_each_key_with_the_file_snakemake_handed_over():
    keyed = report_inputs(validated(tiny_config()))
    handed = {kind: [f"/stage/{path}" for path in files.values()] for kind, files in keyed.items()}
    inputs = staged(keyed, handed)
    assert inputs["metrics"]["cnn", 1] == "/stage/results/metrics/cnn/seed1.json"
    assert inputs["benchmarks"]["cnn", "onnx"] == "/stage/results/bench/cnn/onnx.json"
    with pytest.raises(ValueError):
        staged(keyed, {**handed, "metrics": handed["metrics"][:-1]})


def test_the_rule_and_the_script_list_the_inputs_in_one_order():
    """The rule lists the config as written, the script gets it canonical: same order needed.

    The default config.yaml names mlp_baseline before cnn; when the two orders differed, the
    report paired each variant with another's results (the CNN showed the MLP's accuracy).
    """
    config = validated(tiny_config())
    config["convert"]["variants"] = None  # every variant, in the config's order
    assert list(config["variants"]) != sorted(config["variants"])
    as_written, as_scripted = report_inputs(config), report_inputs(canonical(config))
    for kind, entries in as_written.items():
        assert list(entries.items()) == list(as_scripted[kind].items()), kind
