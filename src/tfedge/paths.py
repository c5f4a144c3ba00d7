"""Where every artefact lives under results/.

The Snakemake rules and the library both use these functions, so the layout is
written down once. Pure string functions: imported at parse time.
"""

from __future__ import annotations

from tfedge.formats import FORMATS, TRAINED_MODEL

RESULTS = "results"
# Sources whose files a download job fetches (rules/download.smk), for datasets and backbones.
DOWNLOADED_DATASET_SOURCES = ("tfds", "auto")
DOWNLOADED_BACKBONE_SOURCES = ("hub", "keras_applications", "auto")


def dataset_download(dataset: str) -> str:
    """A download_data job's record: what was fetched, from where, and why (auto's choice)."""
    return f"{RESULTS}/downloads/data/{dataset}.json"


def dataset_download_dir(dataset: str) -> str:
    """The TFDS data_dir a download_data job prepared the data set in."""
    return f"{RESULTS}/downloads/data/{dataset}"


def backbone_download(backbone: str) -> str:
    """A download_backbone job's record: the module or weights used, from where, and why."""
    return f"{RESULTS}/downloads/backbones/{backbone}.json"


def backbone_download_dir(backbone: str) -> str:
    """The hub module or keras.applications weights a download_backbone job fetched."""
    return f"{RESULTS}/downloads/backbones/{backbone}"


def data_dir(dataset: str) -> str:
    return f"{RESULTS}/data/{dataset}"


def tfrecord(dataset: str, split: str) -> str:
    return f"{data_dir(dataset)}/{split}.tfrecord"


def manifest(dataset: str) -> str:
    return f"{data_dir(dataset)}/manifest.json"


def images_record(dataset: str) -> str:
    """What prepare_data read from a ``source: directory`` folder: every image's size, time
    and SHA-256 (empty for other sources)."""
    return f"{data_dir(dataset)}/images.json"


def model_dir(variant: str, seed: int | str) -> str:
    return f"{RESULTS}/models/{variant}/seed{seed}"


def train_work_dir(variant: str, seed: int | str) -> str:
    """Checkpoints and partial logs of an unfinished training run (kept when a job dies)."""
    return f"{RESULTS}/.work/train/{variant}/seed{seed}"


def metrics(variant: str, seed: int | str) -> str:
    return f"{RESULTS}/metrics/{variant}/seed{seed}.json"


def predictions(variant: str, seed: int | str) -> str:
    return f"{RESULTS}/metrics/{variant}/seed{seed}.predictions.npz"


def report(file: str = "report.html") -> str:
    """The HTML report; ``file`` is the config's ``report.file``."""
    return f"{RESULTS}/{file}"


def report_charts() -> str:
    """The report's charts as SVG files, ``<kind>/<subject>.svg``, for Snakemake's report."""
    return f"{RESULTS}/report_files/charts"


def report_tables() -> str:
    """The report's tables as CSV files (Snakemake's report shows them)."""
    return f"{RESULTS}/report_files/tables"


def tracking_record() -> str:
    """What the report job logged to MLflow (tracking.backend: mlflow), and what was there."""
    return f"{RESULTS}/tracking/mlflow.json"


def log(rule: str, *names: object) -> str:
    return f"{RESULTS}/logs/{rule}/" + "_".join(str(name) for name in names) + ".log"


def job_benchmark(rule: str, *names: object) -> str:
    """Snakemake's ``benchmark:`` record of one job: wall time, peak memory, CPU time."""
    return f"{RESULTS}/benchmarks/{rule}/" + ("_".join(map(str, names)) or rule) + ".tsv"


def model_file(variant: str, seed: int | str, name: str) -> str:
    """A file of a finished training run: model.keras, train.json, history.csv, …"""
    return f"{model_dir(variant, seed)}/{name}"


def converted_dir(variant: str, fmt: str) -> str:
    """A converted model's folder: conversion.json and, when conversion succeeded, the model."""
    return f"{RESULTS}/converted/{variant}/{fmt}"


def bench(variant: str, fmt: str) -> str:
    return f"{RESULTS}/bench/{variant}/{fmt}.json"


def architectures() -> str:
    return f"{RESULTS}/architectures.json"


def converted_variants(config: dict) -> list[str]:
    """``convert.variants``: null converts every variant, an empty list none."""
    chosen = config["convert"]["variants"]
    return list(config["variants"]) if chosen is None else list(chosen)


def conversions(config: dict) -> list[tuple[str, str]]:
    """(variant, format) of every conversion the config asks for."""
    formats = config["convert"]["formats"]
    return [(variant, fmt) for variant in converted_variants(config) for fmt in formats]


def used_datasets(config: dict) -> list[str]:
    return sorted({variant["dataset"] for variant in config["variants"].values()})


def downloaded_datasets(config: dict) -> list[str]:
    """The datasets the variants use whose images a download_data job fetches."""
    return [
        dataset
        for dataset in used_datasets(config)
        if config["datasets"][dataset]["source"] in DOWNLOADED_DATASET_SOURCES
    ]


def downloaded_backbones(config: dict) -> list[str]:
    """The backbones the variants use whose weights a download_backbone job fetches."""
    used = {
        variant["backbone"]
        for variant in config["variants"].values()
        if variant["model"] == "transfer"
    }
    return sorted(
        name for name in used if config["backbones"][name]["source"] in DOWNLOADED_BACKBONE_SOURCES
    )


def timed_together(config: dict) -> list[str]:
    """The requested formats one benchmark job per variant times side by side.

    Those that run here on the CPU; TensorRT needs a GPU node and has a job per format.
    """
    formats = config["convert"]["formats"]
    return [fmt for fmt in formats if not FORMATS[fmt].needs_gpu]


def benchmark_job(variant: str, fmt: str) -> tuple:
    """The benchmark job (rule, *names) that times ``fmt`` of ``variant``."""
    if not FORMATS[fmt].needs_gpu:
        return ("benchmark", variant)
    return ("benchmark", variant, fmt)


def conversion_job(variant: str, fmt: str) -> tuple:
    return ("convert", variant, fmt)


def jobs(config: dict) -> list[tuple]:
    """Every job the report depends on, as (rule, *names): the names of its records.

    TensorRT jobs carry the names of the rules they share a pattern with (convert,
    benchmark); one benchmark job times all of a variant's CPU formats (``timed_together``),
    and a format is converted whether listed or not when a listed one builds on it.
    Which job waits for which is not written here: each job records what it read and wrote
    (``job_record``), and the report follows those.
    """
    seeds = [f"seed{seed}" for seed in config["seeds"]]
    found = [("architectures",)]
    found += [("download_data", dataset) for dataset in downloaded_datasets(config)]
    found += [("download_backbone", backbone) for backbone in downloaded_backbones(config)]
    found += [("prepare_data", dataset) for dataset in used_datasets(config)]
    for name in config["variants"]:
        found += [(rule, name, seed) for rule in ("train", "evaluate") for seed in seeds]
    for variant, fmt in conversions(config):
        built = fmt
        while built != TRAINED_MODEL and conversion_job(variant, built) not in found:
            found.append(conversion_job(variant, built))
            built = FORMATS[built].built_from
        if benchmark_job(variant, fmt) not in found:
            found.append(benchmark_job(variant, fmt))
    return found


def job_record(rule: str, *names: object) -> str:
    """What one job read and wrote (tfedge.job writes it), beside its benchmark record."""
    return job_benchmark(rule, *names).removesuffix(".tsv") + ".json"


def input_name(kind: str, *key: object) -> str:
    """The name the report rule gives one of its inputs: ``metrics/cnn/0``, ``architectures``."""
    return "/".join([kind, *map(str, key)])


def report_inputs(config: dict) -> dict[str, str]:
    """Every result the report reads, by name (``input_name``): the rule declares them so and
    Snakemake hands the script the same names, staged, so neither side pairs by position."""
    runs = [(variant, seed) for variant in config["variants"] for seed in config["seeds"]]
    datasets = used_datasets(config)
    kinds = {
        "metrics": {run: metrics(*run) for run in runs},
        "predictions": {run: predictions(*run) for run in runs},
        "summaries": {run: model_file(*run, "train.json") for run in runs},
        "histories": {run: model_file(*run, "history.csv") for run in runs},
        "manifests": {(dataset,): manifest(dataset) for dataset in datasets},
        "benchmarks": {conversion: bench(*conversion) for conversion in conversions(config)},
        "architectures": {(): architectures()},
        "job_times": {job: job_benchmark(*job) for job in jobs(config)},
        "job_records": {job: job_record(*job) for job in jobs(config)},
    }
    return {
        input_name(kind, *key): path for kind, files in kinds.items() for key, path in files.items()
    }
