"""The format table is the one description of the inference formats the rules and code use."""

from __future__ import annotations

import importlib

import yaml

from tfedge.convert import converter_of, runtimes
from tfedge.formats import FORMATS, TRAINED_MODEL, pattern, settings_slice

from .helpers import SCHEMA, tiny_config, validated


def convert_schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())["properties"]["convert"]["properties"]


def test_the_schema_offers_exactly_the_table_s_formats():
    assert convert_schema()["formats"]["items"]["enum"] == list(FORMATS)


def has_runner(row) -> bool:
    """Its family's runner in tfedge.convert.runtimes, or TensorRT's in the module it names."""
    if row.runner_module == runtimes.__name__:
        return row.family in runtimes.RUNNERS
    return callable(importlib.import_module(row.runner_module).TensorRTRunner)


def test_every_format_has_a_converter_a_runner_and_known_settings():
    keys = set(convert_schema())
    for row in FORMATS.values():
        assert callable(converter_of(row).convert), row.name
        assert has_runner(row), row.name
        assert set(row.settings) <= keys, row.name
        assert row.built_from == TRAINED_MODEL or row.built_from in FORMATS, row.name


def test_rule_patterns_split_the_formats_and_only_tensorrt_jobs_need_a_gpu():
    cpu, gpu = pattern("tensorflow").split("|"), pattern("tensorrt").split("|")
    assert sorted(cpu + gpu) == sorted(FORMATS)
    assert all(FORMATS[name].needs_gpu for name in gpu)
    assert not any(FORMATS[name].needs_gpu for name in cpu)


def test_a_format_s_settings_are_only_the_keys_it_reads():
    convert = validated(tiny_config())["convert"]
    assert settings_slice("tflite_fp32", convert) == {}
    assert settings_slice("onnx", convert) == {"onnx_opset": 17}
    assert list(settings_slice("onnx_int8", convert)) == [
        "calibration_images",
        "float_first_convolution",
        "onnx_int8_float_share",
    ]
    assert settings_slice("openvino_int8", convert) == {}
    assert list(settings_slice("tensorrt_int8", convert)) == ["tensorrt"]


def test_one_int8_onnx_model_feeds_openvino_and_tensorrt():
    assert FORMATS["openvino_int8"].built_from == FORMATS["tensorrt_int8"].built_from == "onnx_int8"


def test_each_tensorrt_engine_builds_on_the_onnx_model_of_its_precision():
    for precision in ("fp32", "fp16", "int8"):
        source = FORMATS[FORMATS[f"tensorrt_{precision}"].built_from]
        assert (source.family, source.precision, source.needs_gpu) == ("onnx", precision, False)
