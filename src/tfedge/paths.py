"""Where every artefact lives under results/.

The Snakemake rules and the report collector both use these functions, so the layout is
written down once. Pure string functions: imported at parse time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tfedge.formats import FORMATS, TRAINED_MODEL

RESULTS = "results"
SPLITS = ("train", "validation", "test")


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


def jobs(config: dict) -> dict[tuple, list[tuple]]:
    """Every job the report depends on, as (rule, *names), with the jobs it waits for.

    The names are those of its benchmark file (``job_benchmark``), e.g. ("train", "cnn",
    "seed0").

    The dependencies are those the rules declare; tfedge.report.job_times walks them to
    find the longest chain. TensorRT jobs carry the names of the rules they share a
    pattern with (convert, benchmark); one benchmark job times all of a variant's CPU
    formats (``timed_together``).
    """
    variants, seeds = config["variants"], [f"seed{seed}" for seed in config["seeds"]]
    graph: dict[tuple, list[tuple]] = {("architectures",): []}
    for dataset in sorted({variant["dataset"] for variant in variants.values()}):
        graph[("prepare_data", dataset)] = []
    for name, variant in variants.items():
        parent = variant.get("init_from")
        for seed in seeds:
            needs = [("prepare_data", variant["dataset"])]
            graph[("train", name, seed)] = needs + ([("train", parent, seed)] if parent else [])
            graph[("evaluate", name, seed)] = [("train", name, seed), *needs]
    for variant, fmt in conversions(config):
        needs = graph.setdefault(benchmark_job(variant, fmt), [("evaluate", variant, seeds[0])])
        needs.append(("convert", variant, fmt))
        while ("convert", variant, fmt) not in graph:  # and what it builds on, listed or not
            built_from = FORMATS[fmt].built_from
            if built_from == TRAINED_MODEL:
                graph[("convert", variant, fmt)] = [("train", variant, seeds[0])]
            else:
                graph[("convert", variant, fmt)] = [("convert", variant, built_from)]
                fmt = built_from
    return graph


def report_inputs(config: dict) -> dict[str, dict]:
    """Every result the report reads: kind → {key: path}, for the rule and the script alike.

    The rule declares the paths; the report script pairs the same keys with the paths
    Snakemake hands it (``staged``), which differ from these on remote storage, so neither
    side rebuilds a path on its own. That pairing goes by position, and the rule sees the
    config as written while the script gets it canonical (keys sorted), so each kind is
    listed in key order: the same for any order of the config's keys.
    """
    runs = [(variant, seed) for variant in config["variants"] for seed in config["seeds"]]
    datasets = sorted({variant["dataset"] for variant in config["variants"].values()})
    keyed = {
        "metrics": {run: metrics(*run) for run in runs},
        "predictions": {run: predictions(*run) for run in runs},
        "summaries": {run: model_file(*run, "train.json") for run in runs},
        "histories": {run: model_file(*run, "history.csv") for run in runs},
        "manifests": {dataset: manifest(dataset) for dataset in datasets},
        "benchmarks": {conversion: bench(*conversion) for conversion in conversions(config)},
        "architectures": {"architectures": architectures()},
        "job_times": {job: job_benchmark(*job) for job in jobs(config)},
    }
    return {kind: dict(sorted(entries.items())) for kind, entries in keyed.items()}


def staged(keyed: dict[str, dict], files: Mapping[str, Sequence[str]]) -> dict[str, dict]:
    """``report_inputs`` with each path replaced by the file Snakemake staged for it.

    ``files`` holds, per kind, the job's input files in the order the rule declared them.
    """
    return {kind: dict(zip(entries, files[kind], strict=True)) for kind, entries in keyed.items()}
