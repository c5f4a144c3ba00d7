"""Where the time went: every job's benchmark record, the rules' totals and the longest chain."""

from __future__ import annotations

import re

import pytest

from tfedge import paths
from tfedge.report.job_times import job_times_context, longest_chain, read_record, rule_of
from tfedge.report.render import render_report

from .conftest import tiny_config, validated
from .snakemake_runs import copy_workflow, planned_jobs
from .test_report_render import TEMPLATE, minimal_context

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def record(folder, name: str, seconds: float, peak: str = "100.5", cpu: str = "1.5") -> str:
    path = folder / f"{name}.tsv"
    path.write_text(HEADER + f"{seconds}\t0:00:01\t{peak}\t200\t90\t95\t0\t0\t50\t{cpu}\n")
    return str(path)


def test_a_record_gives_wall_time_peak_memory_and_cpu_time(tmp_path):
    assert read_record(record(tmp_path, "a", 12.5)) == {
        "seconds": 12.5,
        "peak_mb": 100.5,
        "cpu_seconds": 1.5,
    }
    unmeasured = read_record(record(tmp_path, "b", 0.2, peak="-", cpu="NA"))
    assert unmeasured == {"seconds": 0.2, "peak_mb": None, "cpu_seconds": None}


def test_the_longest_chain_follows_the_slowest_dependencies():
    graph = {
        ("prepare_data", "d"): [],
        ("train", "a", "seed0"): [("prepare_data", "d")],
        ("train", "b", "seed0"): [("prepare_data", "d"), ("train", "a", "seed0")],
        ("evaluate", "b", "seed0"): [("train", "b", "seed0")],
        ("architectures",): [],
    }
    seconds = dict(zip(graph, [5.0, 10.0, 3.0, 2.0, 19.0]))
    assert longest_chain(graph, seconds) == [
        ("prepare_data", "d"),
        ("train", "a", "seed0"),
        ("train", "b", "seed0"),
        ("evaluate", "b", "seed0"),
    ]
    seconds[("architectures",)] = 21.0
    assert longest_chain(graph, seconds) == [("architectures",)]


def test_context_sums_jobs_by_rule_and_names_tensorrt_rules(tmp_path):
    graph = {
        ("train", "cnn", "seed0"): [],
        ("train", "mlp", "seed0"): [],
        ("convert", "cnn", "tensorrt_fp16"): [("train", "cnn", "seed0")],
    }
    seconds = [10.0, 20.0, 40.0]
    files = {job: record(tmp_path, f"job{i}", seconds[i]) for i, job in enumerate(graph)}
    context = job_times_context(graph, files)
    assert [(row["rule"], row["jobs"], row["seconds"]) for row in context["rules"]] == [
        ("convert_tensorrt", 1, 40.0),
        ("train", 2, 30.0),
    ]
    assert context["total_seconds"] == 70.0 and context["chain_seconds"] == 50.0
    assert [job["job"] for job in context["chain"]] == ["cnn seed0", "cnn tensorrt_fp16"]
    assert rule_of(("benchmark", "cnn")) == "benchmark"
    assert rule_of(("benchmark", "cnn", "tensorrt_fp16")) == "benchmark_tensorrt"


def wildcard_names(rule: str, wildcards: str) -> tuple:
    """A dry run's job ("train", "variant=cnn, seed=0") as paths.jobs names it."""
    values = dict(re.findall(r"(\w+)=([^,]+)", wildcards))
    if "seed" in values:
        values["seed"] = f"seed{values['seed']}"
    return (rule.removesuffix("_tensorrt"), *values.values())


@pytest.mark.workflow
def test_the_job_list_is_the_dag_snakemake_plans(tmp_path):
    """Every job a dry run plans has a benchmark record the report reads, and no other."""
    config = validated(tiny_config())
    config["convert"]["formats"] = ["tflite_fp32", "tensorrt_fp16"]  # TensorRT needs onnx
    copy_workflow(tmp_path, config)
    planned = {
        wildcard_names(rule, wildcards)
        for rule, wildcards in planned_jobs(tmp_path)
        if rule not in ("report", "all")
    }
    assert planned == set(paths.jobs(config))
    assert ("convert", "cnn", "onnx") in planned
    assert {("benchmark", "cnn"), ("benchmark", "cnn", "tensorrt_fp16")} <= planned


def test_the_report_shows_totals_the_rules_and_the_chain(tmp_path):
    graph = {("prepare_data", "mnist"): [], ("train", "cnn", "seed0"): [("prepare_data", "mnist")]}
    files = {job: record(tmp_path, job[0], seconds) for job, seconds in zip(graph, [4.0, 30.0])}
    html = render_report(TEMPLATE, minimal_context(job_times=job_times_context(graph, files)))
    section = " ".join(html.split('id="job-times"')[1].split('id="environment"')[0].split())
    assert "took 34 s in all" in section and "took 34 s, which no number" in section
    assert '<td>train</td><td class="num">1</td><td class="num">30.0</td>' in section
    assert "prepare_data <code>mnist</code> (4.0 s) → train <code>cnn seed0</code>" in section
    assert section.count("<tr><td>") == 4  # two rules, two jobs


def test_report_inputs_name_one_record_per_job():
    config = validated(tiny_config())
    records = paths.report_inputs(config)["job_times"]
    assert set(records) == set(paths.jobs(config))
    assert records[("train", "cnn", "seed1")] == "results/benchmarks/train/cnn_seed1.tsv"
    assert records[("architectures",)] == "results/benchmarks/architectures/architectures.tsv"
