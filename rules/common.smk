# Config validation, wildcard constraints and the helpers the rules share. Imports nothing
# heavy: Snakemake runs this on every invocation, dry runs included.
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from tfedge import paths, snakemake_report
from tfedge.code_digest import code_digest
from tfedge.config.helpers import canonical
from tfedge.config.validation import validate_config
from tfedge.config_files import config_sources, describe_sources
from tfedge.data.fingerprint import LinkLeavesFolder, folder_state
from tfedge.formats import FORMATS, TRAINED_MODEL, pattern, settings_slice
from tfedge.resources import train_memory_mb

# What the config came from, for error messages: config.yaml, or the --configfiles in order.
CONFIG_SOURCE = describe_sources(
    config_sources("config.yaml", workflow.overwrite_configfiles),
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
    backbone="|".join(config["backbones"]),
    variant="|".join(VARIANTS),
    seed=r"\d+",
    format="|".join(FORMATS),


def every_core():
    """Threads of the jobs that time things: a whole machine, so nothing runs beside them.

    That is --cores: locally the machine's, on a cluster one node's, which the profile
    states (with max-threads, the same number, which cluster jobs are also given).
    """
    try:
        return workflow.cores
    except WorkflowError:
        raise WorkflowError(
            "benchmarks take a whole node, so a cluster run needs to know how many CPUs a "
            "node has: set cores and max-threads in the profile (or --cores N --max-threads "
            "N) to the CPUs of one node (sinfo -o %c on SLURM)"
        ) from None


def library_code(script, *modules):
    """The `code` param: a digest of the library code the rule's script runs (with `modules`
    it runs besides), so editing it reruns the rule (tfedge.code_digest)."""
    return code_digest(Path(workflow.basedir) / "scripts" / script, *modules)


def conversion_code(wildcards):
    return library_code("convert.py", FORMATS[wildcards.format].converter_module)


def tensorrt_benchmark_code(wildcards):
    """The benchmark's code and TensorRT's runner, which the CPU benchmark's digest leaves out
    (tfedge.convert.runtimes imports it by name)."""
    return library_code("benchmark.py", FORMATS[wildcards.format].runner_module)


def tensorrt_converted(wildcards):
    """The one engine a TensorRT benchmark job times, named like the CPU job's inputs."""
    return {
        f"converted/{wildcards.format}": paths.converted_dir(
            wildcards.variant, wildcards.format
        )
    }


def dataset_of(wildcards):
    return VARIANTS[wildcards.variant]["dataset"]


def dataset_inputs(*splits):
    """Input function: the manifest and the given splits of the variant's dataset."""

    def inputs(wildcards):
        dataset = dataset_of(wildcards)
        files = {split: paths.tfrecord(dataset, split) for split in splits}
        return {**files, "manifest": paths.manifest(dataset)}

    return inputs


def dataset_download_inputs(wildcards):
    """prepare_data of a tfds or auto dataset reads what its download job fetched."""
    dataset = wildcards.dataset
    if dataset not in paths.downloaded_datasets(config):
        return {}
    return {
        "download": paths.dataset_download(dataset),
        "tfds": paths.dataset_download_dir(dataset),
    }


def backbone_download_inputs(wildcards):
    """A transfer variant's train job reads the module or weights its backbone's download
    job fetched (none for the bundled network)."""
    backbone = VARIANTS[wildcards.variant].get("backbone")
    if backbone not in paths.downloaded_backbones(config):
        return {}
    return {
        "backbone_record": paths.backbone_download(backbone),
        "backbone_files": paths.backbone_download_dir(backbone),
    }


def backbone_image_sizes(backbone):
    """{dataset: image_size} of every dataset a transfer variant feeds ``backbone``."""
    return {
        variant["dataset"]: DATASETS[variant["dataset"]]["image_size"]
        for variant in VARIANTS.values()
        if variant["model"] == "transfer" and variant["backbone"] == backbone
    }


def init_from_inputs(wildcards):
    """A fine-tuning variant starts from its init_from variant's finished run (same seed)."""
    parent = VARIANTS[wildcards.variant].get("init_from")
    if parent is None:
        return {}
    return {
        "init_model": paths.model_file(parent, wildcards.seed, "model.keras"),
        "init_summary": paths.model_file(parent, wildcards.seed, "train.json"),
    }


def images_fingerprint(wildcards):
    """prepare_data's rerun trigger for an image folder; the log says what changed. Its walk
    of the folder is also where a link out of it is found, before any job runs."""
    dataset = wildcards.dataset
    try:
        fingerprint, changes = folder_state(
            DATASETS[dataset], paths.images_record(dataset)
        )
    except LinkLeavesFolder as error:
        raise WorkflowError(f"datasets.{dataset}.directory: {error}") from None
    if changes:
        logger.info(f"datasets.{dataset}: {changes} since prepare_data last read it")
    return fingerprint


# What only a dataset's download job reads; prepare_data follows its record instead.
DOWNLOAD_ONLY_SETTINGS = ("data_dir", "probe_timeout_s")


def prepare_settings(settings):
    """prepare_data's slice of a dataset's settings, so a probe timeout edit reruns nothing
    past the download job."""
    return canonical(
        {
            key: value
            for key, value in settings.items()
            if key not in DOWNLOAD_ONLY_SETTINGS
        }
    )


def variant_settings(wildcards):
    return canonical(VARIANTS[wildcards.variant])


def train_memory(wildcards):
    return train_memory_mb(VARIANTS[wildcards.variant])


def backbone_settings(wildcards):
    name = VARIANTS[wildcards.variant].get("backbone")
    return canonical(config["backbones"][name]) if name else None


def conversion_settings(wildcards):
    """Only the convert settings the format uses, so unrelated edits do not rerun it."""
    return canonical(settings_slice(wildcards.format, config["convert"]))


def conversion_source(wildcards):
    """What a format converts: the trained SavedModel with its record (train.json), or the
    converted folder it builds on (which holds its record, conversion.json)."""
    built_from = FORMATS[wildcards.format].built_from
    if built_from == TRAINED_MODEL:
        return {
            "source": paths.model_file(wildcards.variant, REFERENCE_SEED, "savedmodel"),
            "source_record": paths.model_file(
                wildcards.variant, REFERENCE_SEED, "train.json"
            ),
        }
    return {"source": paths.converted_dir(wildcards.variant, built_from)}


def every_conversion(path_of):
    """path_of(variant, format) for every conversion the config asks for."""
    return [path_of(*conversion) for conversion in paths.conversions(config)]


def report_input_files(wildcards):
    """Every result the report reads, each under its own name (tfedge.paths.report_inputs),
    and the page's templates, which it reads from the checkout."""
    sections = sorted(
        Path(workflow.basedir, "report", "templates", "sections").glob("*.j2")
    )
    names = [f"report/templates/sections/{path.name}" for path in sections]
    return {**paths.report_inputs(config), **{name: local(name) for name in names}}


def chart_kind(wildcards):
    """A chart's subcategory in Snakemake's report: what kind of chart it is."""
    return snakemake_report.CHART_KINDS[wildcards.chart]


def chart_labels(wildcards):
    return snakemake_report.chart_labels(config, wildcards.chart, wildcards.subject)


def table_labels(wildcards):
    return {"table": wildcards.table.replace("_", " ")}


def measurement_labels(fmt=None):
    """Labels of a benchmark record in Snakemake's report; ``fmt`` where it is no wildcard."""

    def labels(wildcards):
        return snakemake_report.measurement_labels(
            config, wildcards.variant, fmt or wildcards.format
        )

    return labels


def measurement(path, fmt=None):
    """A benchmark record, marked for Snakemake's report under its variant."""
    return report(
        path,
        caption="../report/captions/measurement.rst",
        category="4. Measurements",
        subcategory="{variant}",
        labels=measurement_labels(fmt),
    )


def tracking_output():
    """With tracking.backend: mlflow, the report job also logs the runs to MLflow
    (tfedge.tracking) and records what it logged."""
    if config["tracking"]["backend"] != "mlflow":
        return {}
    return {"tracking": paths.tracking_record()}
