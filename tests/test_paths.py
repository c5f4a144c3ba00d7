"""Where results live, the report's named inputs, and the jobs the report reads records of."""

from __future__ import annotations

import re

import pytest

from tfedge import paths

from .helpers import tiny_config, validated
from .snakemake_runs import copy_workflow, dry_run, job_blocks, planned_jobs


def test_report_inputs_name_every_run_dataset_conversion_and_job():
    config = validated(tiny_config())
    names = paths.report_inputs(config)
    assert names["metrics/cnn/1"] == "results/metrics/cnn/seed1.json"
    assert names["benchmarks/cnn/onnx"] == "results/bench/cnn/onnx.json"
    assert names["manifests/flowers"] == "results/data/flowers/manifest.json"
    assert names["architectures"] == "results/architectures.json"
    assert names["job_times/train/cnn/seed1"] == "results/benchmarks/train/cnn_seed1.tsv"
    assert (
        names["job_records/architectures"] == "results/benchmarks/architectures/architectures.json"
    )
    runs = len(config["variants"]) * len(config["seeds"])
    assert sum(name.startswith("summaries/") for name in names) == runs
    assert {name for name in names if name.startswith("benchmarks/")} == {
        f"benchmarks/{variant}/{fmt}" for variant, fmt in paths.conversions(config)
    }


def test_an_empty_convert_list_gives_no_conversion_and_null_gives_all():
    config = validated(tiny_config())
    config["convert"]["variants"] = []
    assert paths.conversions(config) == []
    assert not any(name.startswith("benchmarks/") for name in paths.report_inputs(config))
    config["convert"]["variants"] = None
    assert {variant for variant, _ in paths.conversions(config)} == set(config["variants"])


def wildcard_names(rule: str, wildcards: str) -> tuple:
    """A dry run's job ("train", "variant=cnn, seed=0") as paths.jobs names it."""
    values = dict(re.findall(r"(\w+)=([^,]+)", wildcards))
    if "seed" in values:
        values["seed"] = f"seed{values['seed']}"
    return (rule.removesuffix("_tensorrt"), *values.values())


@pytest.mark.workflow
def test_the_job_list_is_the_dag_snakemake_plans(tmp_path):
    """Every job a dry run plans has records the report reads, and no other."""
    config = tiny_config()
    config["datasets"]["flowers"]["source"] = "auto"  # both fetched by a download job
    config["backbones"]["lite"]["source"] = "auto"
    config = validated(config)
    config["convert"]["formats"] = ["tflite_fp32", "tensorrt_fp16"]  # TensorRT needs onnx
    copy_workflow(tmp_path, config)
    planned = {
        wildcard_names(rule, wildcards)
        for rule, wildcards in planned_jobs(tmp_path)
        if rule not in ("report", "all")
    }
    assert planned == set(paths.jobs(config))
    assert ("convert", "cnn", "onnx") in planned
    assert {("download_data", "flowers"), ("download_backbone", "lite")} <= planned
    assert ("download_data", "mnist") not in planned  # bundled: nothing to fetch
    assert {("benchmark", "cnn"), ("benchmark", "cnn", "tensorrt_fp16")} <= planned


@pytest.mark.workflow
def test_the_downloads_target_plans_the_download_jobs_and_nothing_else(tmp_path):
    """README: `make downloads` (snakemake downloads) fetches in advance, e.g. on a login node."""
    config = tiny_config()
    config["datasets"]["flowers"]["source"] = "tfds"
    config["backbones"]["lite"]["source"] = "hub"
    config["variants"]["finetuned"]["unfreeze_from"] = None  # a hub layer trains whole
    copy_workflow(tmp_path, validated(config))
    planned = job_blocks(dry_run(tmp_path, target="downloads"))
    assert set(planned) == {
        ("download_data", "dataset=flowers"),
        ("download_backbone", "backbone=lite"),
        ("downloads", ""),
    }
