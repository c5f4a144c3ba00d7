# Config validation, wildcard constraints and the helpers the rules share. Imports nothing
# heavy: Snakemake runs this on every invocation, dry runs included.
from pathlib import Path

from tfedge import paths
from tfedge.config import canonical, validate_config
from tfedge.config_files import config_sources, describe_sources
from tfedge.formats import FORMATS, TRAINED_MODEL, pattern, settings_slice

# What the config came from, for error messages: config.yaml, a --configfile merged over
# it, or (with --replace-workflow-config) the --configfile alone.
CONFIG_SOURCE = describe_sources(
    config_sources(
        "config.yaml",
        workflow.overwrite_configfiles,
        workflow.config_settings.replace_workflow_config,
    ),
    command_line_values=bool(workflow.config_settings.config),
)
validate_config(
    config,
    Path(workflow.basedir) / "schemas" / "config.schema.yaml",
    source=CONFIG_SOURCE,
)

SEEDS = config["seeds"]
VARIANTS = config["variants"]
DATASETS = config["datasets"]
REFERENCE_SEED = SEEDS[0]
# Formats by the environment their jobs run in; the TensorRT ones also need a GPU.
CPU_FORMATS = pattern("tensorflow")
TENSORRT_FORMATS = pattern("tensorrt")
CPU_BENCHMARK_FORMATS = paths.timed_together(config)


wildcard_constraints:
    dataset="|".join(DATASETS),
    variant="|".join(VARIANTS),
    seed=r"\d+",
    format="|".join(FORMATS),


def dataset_of(wildcards):
    return VARIANTS[wildcards.variant]["dataset"]


def dataset_inputs(*splits):
    """Input function: the manifest and the given splits of the variant's dataset."""

    def inputs(wildcards):
        dataset = dataset_of(wildcards)
        files = {split: paths.tfrecord(dataset, split) for split in splits}
        return {**files, "manifest": paths.manifest(dataset)}

    return inputs


def init_from_inputs(wildcards):
    """A fine-tuning variant starts from its init_from variant's finished run (same seed)."""
    parent = VARIANTS[wildcards.variant].get("init_from")
    if parent is None:
        return {}
    return {
        "init_model": paths.model_file(parent, wildcards.seed, "model.keras"),
        "init_summary": paths.model_file(parent, wildcards.seed, "train.json"),
    }


def variant_settings(wildcards):
    return canonical(VARIANTS[wildcards.variant])


def backbone_settings(wildcards):
    name = VARIANTS[wildcards.variant].get("backbone")
    return canonical(config["backbones"][name]) if name else None


def conversion_settings(wildcards):
    """Only the convert settings the format uses, so unrelated edits do not rerun it."""
    return canonical(settings_slice(wildcards.format, config["convert"]))


def conversion_source(wildcards):
    """What a format converts: the trained SavedModel, or the converted folder it builds on."""
    built_from = FORMATS[wildcards.format].built_from
    if built_from == TRAINED_MODEL:
        return paths.model_file(wildcards.variant, REFERENCE_SEED, "savedmodel")
    return paths.converted_dir(wildcards.variant, built_from)


def every_conversion(path_of):
    """path_of(variant, format) for every conversion the config asks for."""
    return [path_of(*conversion) for conversion in paths.conversions(config)]


def report_input_files(wildcards):
    """The report's result files by kind, as tfedge.paths.report_inputs lists them."""
    keyed = paths.report_inputs(config)
    return {kind: list(files.values()) for kind, files in keyed.items()}
