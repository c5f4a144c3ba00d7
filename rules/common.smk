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


wildcard_constraints:
    dataset="|".join(DATASETS),
    variant="|".join(VARIANTS),
    seed=r"\d+",
    format=r"savedmodel|tflite_(fp32|fp16|int8)|onnx|tensorrt_(fp32|fp16|int8)",


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
