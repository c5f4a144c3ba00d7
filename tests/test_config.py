"""config.yaml is checked before any job runs, and each error names the field."""

from __future__ import annotations

import copy

import pytest
import yaml

from tfedge.config.errors import ConfigError
from tfedge.config.folders import check_folders, folder_problems
from tfedge.config.helpers import baselines, config_hash

from .helpers import ROOT, tiny_config, validated
from .hostile import alias_bomb


def test_shipped_configs_are_valid_and_get_defaults():
    config = validated(yaml.safe_load((ROOT / "config.yaml").read_text()))
    assert config["datasets"]["mnist"]["probe_timeout_s"] == 3
    assert config["variants"]["mlp_baseline"]["hidden_units"] == 128
    assert validated(tiny_config())["report"]["significance_level"] == 0.05
    sweeps = validated(yaml.safe_load((ROOT / "config.sweeps.yaml").read_text()))
    assert list(sweeps["sweeps"]) == ["finetune_depth", "finetune_batch"]
    assert sweeps["report"]["file"] == "sweeps.html"


def mutate(change) -> dict:
    config = tiny_config()
    change(config)
    return config


def add_named(mapping: str, name, like: str):
    """A change that adds a copy of ``config[mapping][like]`` under ``name``."""
    return lambda c: c[mapping].update({name: copy.deepcopy(c[mapping][like])})


NAME_RULE = "is not a valid name; names use only letters, digits and _"


BAD_CONFIGS = {
    "unknown top-level key": (
        lambda c: c.update(epochs=3),
        "(top level)",
        "'epochs' was unexpected",
    ),
    "unknown variant key": (
        lambda c: c["variants"]["cnn"].update(hidden_units=3),
        "variants.cnn",
        "'hidden_units' was unexpected",
    ),
    "unknown model type": (
        lambda c: c["variants"]["cnn"].update(model="resnet"),
        "variants.cnn.model",
        "use one of: mlp, cnn",
    ),
    "memory cap too small": (
        lambda c: c["variants"]["cnn"].update(memory_limit_mb=8),
        "variants.cnn.memory_limit_mb",
        "8 is less than the minimum of 16",
    ),
    "report file outside results": (
        lambda c: c["report"].update(file="../report.html"),
        "report.file",
        "is not a file name ending in .html",
    ),
    "zero epochs": (
        lambda c: c["variants"]["cnn"].update(epochs=0),
        "variants.cnn.epochs",
        "less than the minimum of 1",
    ),
    "negative epochs": (
        lambda c: c["variants"]["mlp_baseline"].update(epochs=-2),
        "variants.mlp_baseline.epochs",
        "less than the minimum of 1",
    ),
    "undefined dataset": (
        lambda c: c["variants"]["cnn"].update(dataset="imagenet"),
        "variants.cnn.dataset",
        "'imagenet' is not defined under datasets",
    ),
    "baseline not a variant": (
        lambda c: c.update(baseline="resnet50"),
        "baseline",
        "'resnet50' is not a variant; choose one of: mlp_baseline, cnn, mlp_batch_batch_size_16",
    ),
    "dataset's baseline not a variant": (
        lambda c: c.update(baseline={"mnist": "resnet50"}),
        "baseline.mnist",
        "'resnet50' is not a variant; choose one of the mnist variants: mlp_baseline, cnn",
    ),
    "baseline of an unknown dataset": (
        lambda c: c.update(baseline={"imagenet": "cnn"}),
        "baseline.imagenet",
        "'imagenet' is not a dataset; key each baseline by one of: mnist, flowers",
    ),
    "baseline from another dataset": (
        lambda c: c.update(baseline={"mnist": "cnn", "flowers": "cnn"}),
        "baseline.flowers",
        "'cnn' trains on mnist, not flowers; choose one of the flowers variants: frozen, finetuned",
    ),
    "baseline for a dataset no variant trains on": (
        lambda c: c.update(datasets={**c["datasets"], "cifar": {}}, baseline={"cifar": "cnn"}),
        "baseline.cifar",
        "'cnn' trains on mnist, not cifar; no variant trains on cifar; remove baseline.cifar",
    ),
    "baseline neither name nor mapping": (
        lambda c: c.update(baseline=5),
        "baseline",
        "5 is neither a variant name nor a mapping dataset: variant (e.g. baseline: ",
    ),
    "baseline an empty mapping": (
        lambda c: c.update(baseline={}),
        "baseline",
        "{} is neither a variant name nor a mapping dataset: variant",
    ),
    "baseline named c++": (
        lambda c: c.update(baseline="c++"),
        "baseline",
        f"'c++' {NAME_RULE} (e.g. c_plus_plus)",
    ),
    "baseline keyed by a bad dataset name": (
        lambda c: c.update(baseline={"mn-ist": "cnn"}),
        "baseline",
        f"'mn-ist' {NAME_RULE} (e.g. mn_ist)",
    ),
    "dataset's baseline with a bad name": (
        lambda c: c.update(baseline={"mnist": "c++"}),
        "baseline.mnist",
        f"'c++' {NAME_RULE} (e.g. c_plus_plus)",
    ),
    "unknown source": (
        lambda c: c["datasets"]["mnist"].update(source="internet"),
        "datasets.mnist.source",
        "use one of: auto, tfds, directory, bundled",
    ),
    "unknown bad-image policy": (
        lambda c: c["datasets"]["mnist"].update(on_bad_image="ignore"),
        "datasets.mnist.on_bad_image",
        "'ignore' is not allowed; use one of: skip, fail",
    ),
    "directory source without a folder": (
        lambda c: c["datasets"]["mnist"].update(source="directory"),
        "datasets.mnist.directory",
        "needs a folder of class sub-folders",
    ),
    "transfer without a defined backbone": (
        lambda c: c["variants"]["frozen"].update(backbone="resnet"),
        "variants.frozen.backbone",
        "'resnet' is not defined under backbones",
    ),
    "unknown backbone source": (
        lambda c: c["backbones"]["lite"].update(source="torchvision"),
        "backbones.lite.source",
        "use one of: auto, hub, keras_applications, efficientnet_lite0_bundled",
    ),
    "init_from a missing variant": (
        lambda c: c["variants"]["finetuned"].update(init_from="nothing"),
        "variants.finetuned.init_from",
        "'nothing' is not another variant",
    ),
    "init_from a variant on another dataset": (
        lambda c: c["variants"]["finetuned"].update(init_from="cnn"),
        "variants.finetuned.init_from",
        "must be a transfer variant with the same dataset",
    ),
    "init_from chain that loops": (
        lambda c: c["variants"]["frozen"].update(init_from="finetuned"),
        "variants.frozen.init_from",
        "loops back to frozen",
    ),
    "unknown conversion format": (
        lambda c: c["convert"].update(formats=["tflite_fp32", "coreml"]),
        "convert.formats.1",
        "'coreml' is not allowed; use one of: savedmodel",
    ),
    "conversion of a missing variant": (
        lambda c: c["convert"].update(variants=["resnet"]),
        "convert.variants",
        "'resnet' is not a variant",
    ),
    "too few benchmark repeats": (
        lambda c: c["benchmark"].update(repeats=2),
        "benchmark.repeats",
        "less than the minimum of 5",
    ),
    "unknown architecture": (
        lambda c: c["architectures"].update(models=["vgg16"]),
        "architectures.models.0",
        "'vgg16' is not allowed",
    ),
    "tensorrt profile with a bad batch": (
        lambda c: c["convert"].update(tensorrt={"max_batch": 0}),
        "convert.tensorrt.max_batch",
        "less than the minimum of 1",
    ),
    "grey-and-alpha channels": (
        lambda c: c["datasets"]["flowers"].update(channels=2),
        "datasets.flowers.channels",
        "use one of: 1, 3",
    ),
    "tiny image size": (
        lambda c: c["datasets"]["mnist"].update(image_size=4),
        "datasets.mnist.image_size",
        "less than the minimum of 8",
    ),
    "unknown learning-rate schedule": (
        lambda c: c["variants"]["cnn"].update(lr_schedule="linear"),
        "variants.cnn.lr_schedule",
        "use one of: constant, cosine",
    ),
    "zero batch floor": (
        lambda c: c["variants"]["cnn"].update(min_batch_size=0),
        "variants.cnn.min_batch_size",
        "less than the minimum of 1",
    ),
    "unknown int8 input type": (
        lambda c: c["convert"].update(tflite_int8_io="uint8"),
        "convert.tflite_int8_io",
        "use one of: int8, float",
    ),
    "float share above one": (
        lambda c: c["convert"].update(tflite_int8_float_share=1.5),
        "convert.tflite_int8_float_share",
        "greater than the maximum of 1",
    ),
    "ONNX float share below zero": (
        lambda c: c["convert"].update(onnx_int8_float_share=-0.1),
        "convert.onnx_int8_float_share",
        "less than the minimum of 0",
    ),
    "OpenVINO settings of their own (int8 runs onnx_int8's model)": (
        lambda c: c["convert"].update(openvino_int8={"bias_correction": "full"}),
        "convert",
        "'openvino_int8' was unexpected",
    ),
    "OpenVINO float layer switch as text": (
        lambda c: c["convert"].update(float_first_convolution="yes"),
        "convert.float_first_convolution",
        "'yes' is not of type 'boolean'",
    ),
    "transfer key on a cnn": (
        lambda c: c["variants"]["cnn"].update(unfreeze=True),
        "variants.cnn",
        "'unfreeze' was unexpected",
    ),
    "variant named c++": (
        add_named("variants", "c++", "cnn"),
        "variants",
        f"'c++' {NAME_RULE} (e.g. c_plus_plus)",
    ),
    "variant named ../../escape": (
        add_named("variants", "../../escape", "cnn"),
        "variants",
        f"'../../escape' {NAME_RULE} (e.g. escape)",
    ),
    "dataset named <b>x</b>": (
        add_named("datasets", "<b>x</b>", "mnist"),
        "datasets",
        f"'<b>x</b>' {NAME_RULE} (e.g. b_x_b)",
    ),
    "dataset named ../../escape": (
        add_named("datasets", "../../escape", "mnist"),
        "datasets",
        f"'../../escape' {NAME_RULE} (e.g. escape)",
    ),
    "backbone named ../../escape": (
        add_named("backbones", "../../escape", "lite"),
        "backbones",
        f"'../../escape' {NAME_RULE} (e.g. escape)",
    ),
    "backbone named with a space": (
        add_named("backbones", "mobile net", "lite"),
        "backbones",
        f"'mobile net' {NAME_RULE} (e.g. mobile_net)",
    ),
    "name with a trailing newline": (
        add_named("variants", "cnn\n", "cnn"),
        "variants",
        f"'cnn\\n' {NAME_RULE} (e.g. cnn)",
    ),
    "name of accented letters": (
        add_named("datasets", "café", "mnist"),
        "datasets",
        f"'café' {NAME_RULE} (e.g. cafe)",
    ),
    "empty name": (
        add_named("variants", "", "cnn"),
        "variants",
        f"'' {NAME_RULE} (e.g. my_variant)",
    ),
    "name YAML reads as a number": (
        add_named("datasets", 7, "mnist"),
        "datasets",
        "7 is not a valid name; names are text of letters, digits and _ (quote it in YAML: '7')",
    ),
    "a learning rate that is not a number": (
        lambda c: c["variants"]["cnn"].update(learning_rate=float("nan")),
        "variants.cnn.learning_rate",
        "nan is not a finite number",
    ),
    "an infinite latency budget": (
        lambda c: c.update(report={"latency_budgets_ms": [float("inf"), float("nan")]}),
        "report.latency_budgets_ms[0]",
        "inf is not a finite number",
    ),
    "engines that cannot hold the batch they are tuned for": (
        lambda c: c["convert"]["tensorrt"].update(max_batch=4),
        "convert.tensorrt.max_batch",
        "4 is below opt_batch (8), so no engine could be built",
    ),
    "part of a TF Hub layer unfrozen": (
        lambda c: c["backbones"]["lite"].update(source="hub"),
        "variants.finetuned.unfreeze_from",
        "'block6' names a layer, but backbone lite is a TF Hub layer, which has no layers",
    ),
    "directory with wildcard braces": (
        lambda c: c["datasets"]["mnist"].update(source="directory", directory="/data/{set}"),
        "datasets.mnist.directory",
        "'/data/{set}' holds {, }, < or >, which Snakemake reads as wildcards",
    ),
}


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=list(BAD_CONFIGS))
def test_bad_config_names_the_field(case):
    change, field, words = BAD_CONFIGS[case]
    with pytest.raises(ConfigError) as caught:
        validated(mutate(change))
    lines = [line for line in str(caught.value).splitlines() if line.startswith("  - ")]
    assert any(line.startswith(f"  - {field}: ") and words in line for line in lines), lines


def test_unknown_model_is_reported_once_not_as_unexpected_keys():
    with pytest.raises(ConfigError) as caught:
        validated(mutate(lambda c: c["variants"]["cnn"].update(model="resnet")))
    assert "unexpected" not in str(caught.value)


def test_a_bad_baseline_is_one_line_not_jsonschemas_any_of_the_given_schemas():
    for baseline in (5, {"mnist": "c++"}):
        with pytest.raises(ConfigError) as caught:
            validated(mutate(lambda c, b=baseline: c.update(baseline=b)))
        problems = [line for line in str(caught.value).splitlines() if line.startswith("  - ")]
        assert len(problems) == 1 and "any of the given schemas" not in problems[0], problems


def test_one_baseline_name_serves_its_own_dataset():
    config = validated(mutate(lambda c: c.update(baseline="frozen")))
    assert baselines(config) == {"flowers": "frozen"}


def test_a_baseline_mapping_gives_each_dataset_its_own():
    config = validated(mutate(lambda c: c.update(baseline={"flowers": "frozen", "mnist": "cnn"})))
    assert baselines(config) == {"flowers": "frozen", "mnist": "cnn"}
    assert baselines(validated(mutate(lambda c: c.update(baseline={"mnist": "cnn"})))) == {
        "mnist": "cnn"
    }


def test_names_of_letters_digits_and_underscores_pass():
    config = tiny_config()
    config["datasets"]["MNIST_28"] = config["datasets"].pop("mnist")
    config["backbones"]["lite0"] = config["backbones"].pop("lite")
    config["variants"]["mlp_2"] = config["variants"].pop("mlp_baseline")
    config["baseline"] = "mlp_2"
    for variant in config["variants"].values():
        variant["dataset"] = "MNIST_28" if variant["dataset"] == "mnist" else variant["dataset"]
        if "backbone" in variant:
            variant["backbone"] = "lite0"
    points = {"mlp_batch_batch_size_16", "mlp_batch_batch_size_64"}
    assert set(validated(config)["variants"]) == {"mlp_2", "cnn", "frozen", "finetuned", *points}


def directory_config(folder: str) -> dict:
    return validated(
        mutate(lambda c: c["datasets"]["mnist"].update(source="directory", directory=folder))
    )


def test_a_missing_image_folder_is_named_before_any_job(tmp_path):
    missing = str(tmp_path / "nope")
    config = directory_config(missing)  # the schema part reads no disk
    with pytest.raises(ConfigError) as caught:
        check_folders(config)
    assert f"  - datasets.mnist.directory: {missing!r} is not a folder; " in str(caught.value)
    (tmp_path / "nope").mkdir()
    check_folders(config)


def test_an_image_folder_must_be_a_folder_not_a_file(tmp_path):
    archive = tmp_path / "images.zip"
    archive.write_bytes(b"PK")
    problems = folder_problems(directory_config(str(archive)))
    assert len(problems) == 1 and f"{str(archive)!r} is not a folder" in problems[0]


def test_relative_image_folders_start_at_the_working_directory(tmp_path, monkeypatch):
    config = directory_config("images")
    (tmp_path / "run" / "images").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert folder_problems(config) == [
        "datasets.mnist.directory: 'images' is not a folder; point it at a folder holding one "
        "sub-folder of images per class (a relative path starts at the working directory "
        f"snakemake runs in, {tmp_path})"
    ]
    monkeypatch.chdir(tmp_path / "run")
    assert folder_problems(config) == []


def test_image_folders_may_start_at_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "pets").mkdir()
    assert folder_problems(directory_config("~/pets")) == []
    assert folder_problems(directory_config("~/cars")) != []


def test_folders_of_other_sources_are_not_checked(tmp_path):
    config = validated(
        mutate(lambda c: c["datasets"]["mnist"].update(directory=str(tmp_path / "nope")))
    )
    assert config["datasets"]["mnist"]["source"] == "bundled"
    assert folder_problems(config) == []


def test_config_hash_ignores_key_order_but_not_values():
    config = validated(tiny_config())
    reordered = copy.deepcopy(dict(reversed(list(config.items()))))
    assert config_hash(reordered) == config_hash(config)
    config["variants"]["cnn"]["epochs"] += 1
    assert config_hash(config) != config_hash(reordered)


def test_tensorrt_engines_are_tuned_for_the_batch_their_throughput_is_timed_at():
    config = tiny_config()
    config["convert"]["tensorrt"] = {"opt_batch": 16}
    with pytest.raises(ConfigError, match=r"convert.tensorrt.opt_batch: 16 differs from "
                                          r"benchmark.throughput_batch \(8\)"):  # fmt: skip
        validated(config)
    config["convert"]["formats"] = ["onnx"]  # no engine, no conflict
    validated(config)


def test_tensorrt_batch_limits_are_checked_only_where_engines_are_built():
    config = tiny_config()
    config["convert"]["tensorrt"]["max_batch"] = 4
    config["convert"]["formats"] = ["onnx"]
    validated(config)


def test_a_yaml_alias_bomb_under_a_valid_key_is_refused_naming_the_file(tmp_path):
    from tfedge.config_files import check_files

    config = tiny_config()
    config["architectures"]["models"] = "BOMB"
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(yaml.safe_dump(config).replace("models: BOMB", f"models: {alias_bomb()}"))
    with pytest.raises(ConfigError, match=r"^.*bomb.yaml holds more than 100,000 values"):
        check_files([bomb], ROOT / "schemas" / "config.schema.yaml")
