# Config validation, wildcard constraints and path helpers. Imports nothing heavy:
# Snakemake runs this on every invocation, dry runs included.
from pathlib import Path

from tfedge import paths
from tfedge.config import validate_config

validate_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")

SEEDS = config["seeds"]
VARIANTS = config["variants"]
DATASETS = config["datasets"]
USED_DATASETS = sorted({variant["dataset"] for variant in VARIANTS.values()})

CPU_FORMATS = r"savedmodel|tflite_(fp32|fp16|int8)|onnx"
TENSORRT_FORMATS = r"tensorrt_(fp32|fp16|int8)"


wildcard_constraints:
    dataset="|".join(DATASETS),
    variant="|".join(VARIANTS),
    seed=r"\d+",
    format=f"{CPU_FORMATS}|{TENSORRT_FORMATS}",


def dataset_of(wildcards):
    return VARIANTS[wildcards.variant]["dataset"]


def dataset_inputs(*splits):
    """Input function: the manifest and the given splits of the variant's dataset."""

    def inputs(wildcards):
        dataset = dataset_of(wildcards)
        files = {split: paths.tfrecord(dataset, split) for split in splits}
        return {**files, "manifest": paths.manifest(dataset)}

    return inputs


def every_run(path_of):
    """path_of(variant, seed) for every variant and seed in the config."""
    return [path_of(variant, seed) for variant in VARIANTS for seed in SEEDS]


CONVERT = config["convert"]
CONVERTED_VARIANTS = CONVERT["variants"] or list(VARIANTS)
FORMATS = CONVERT["formats"]
REFERENCE_SEED = SEEDS[0]


def every_conversion(path_of):
    """path_of(variant, format) for every converted variant and format in the config."""
    return [path_of(variant, fmt) for variant in CONVERTED_VARIANTS for fmt in FORMATS]


def init_from_inputs(wildcards):
    """A fine-tuning variant starts from its init_from variant's finished run (same seed)."""
    parent = VARIANTS[wildcards.variant].get("init_from")
    if parent is None:
        return {}
    return {
        "init_model": paths.model_file(parent, wildcards.seed, "model.keras"),
        "init_summary": paths.model_file(parent, wildcards.seed, "train.json"),
    }


def backbone_settings(wildcards):
    name = VARIANTS[wildcards.variant].get("backbone")
    return config["backbones"][name] if name else None


def conversion_settings(wildcards):
    """Only the settings the format uses, so unrelated edits do not rerun it."""
    kind, _, precision = wildcards.format.partition("_")
    keys = {
        "tflite": (
            ["calibration_images", "tflite_int8_io"] if precision == "int8" else []
        ),
        "onnx": ["onnx_opset"],
        "tensorrt": ["tensorrt"]
        + (["calibration_images"] if precision == "int8" else []),
    }.get(kind, [])
    return {key: CONVERT[key] for key in keys}


def conversion_inputs(wildcards):
    dataset = dataset_of(wildcards)
    inputs = {
        "savedmodel": paths.model_file(wildcards.variant, REFERENCE_SEED, "savedmodel"),
        "manifest": paths.manifest(dataset),
        "train": paths.tfrecord(dataset, "train"),
    }
    if wildcards.format.startswith("tensorrt"):
        inputs["onnx_record"] = paths.conversion(wildcards.variant, "onnx")
    return inputs
