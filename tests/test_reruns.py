"""What a plan reruns after an edit in a finished tiny run, and only that (damage:
tests/test_damage.py)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from tfedge.formats import FORMATS

from .helpers import ROOT, TINY_CONFIG, validated
from .snakemake_runs import (
    copy_workflow,
    dry_run,
    planned_jobs,
    snakemake,
)


@pytest.mark.workflow
@pytest.mark.slow
def test_up_to_date_tree_plans_nothing(tiny_run):
    assert "Nothing to be done" in dry_run(tiny_run)
    assert planned_jobs(tiny_run) == set()


def plan_with_config(tiny_run: Path, tmp_path: Path, config_text: str) -> set[tuple[str, str]]:
    """The jobs ``snakemake -n report`` plans in a new copy of the finished run with this config."""
    edited = Path(tempfile.mkdtemp(prefix="edited", dir=tmp_path))
    shutil.copytree(tiny_run, edited, symlinks=True, dirs_exist_ok=True)
    (edited / "config.yaml").write_text(config_text)
    return planned_jobs(edited)


def plan_after_edit(tiny_run: Path, tmp_path: Path, edit) -> set[tuple[str, str]]:
    """The jobs ``snakemake -n report`` plans in a copy of the finished run after ``edit``."""
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    edit(config)
    return plan_with_config(tiny_run, tmp_path, yaml.safe_dump(config))


def reversed_keys(value):
    """``value`` with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    return value


@pytest.mark.workflow
@pytest.mark.slow
def test_reordering_every_key_reruns_nothing(tiny_run, tmp_path):
    config = reversed_keys(yaml.safe_load((tiny_run / "config.yaml").read_text()))
    assert plan_with_config(tiny_run, tmp_path, yaml.safe_dump(config, sort_keys=False)) == set()


@pytest.mark.workflow
@pytest.mark.slow
def test_the_hand_written_config_and_its_sorted_round_trip_plan_the_same(tiny_run, tmp_path):
    """The run was made from the config in its written order; sorted keys, or the file with
    its comments, rerun nothing."""
    written = (tiny_run / "config.yaml").read_text()
    sorted_keys = yaml.safe_dump(yaml.safe_load(written))
    assert sorted_keys != written != TINY_CONFIG.read_text()
    assert plan_with_config(tiny_run, tmp_path, sorted_keys) == set()
    assert plan_with_config(tiny_run, tmp_path, TINY_CONFIG.read_text()) == set()


@pytest.mark.workflow
@pytest.mark.slow
def test_writing_defaults_out_reruns_nothing(tiny_run, tmp_path):
    def explicit_defaults(config):
        config["variants"]["cnn"]["learning_rate"] = 0.001
        config["datasets"]["mnist"]["validation_fraction"] = 0.1
        config["convert"]["tolerance"] = 0.01
        config["backbones"]["lite"]["probe_timeout_s"] = 3

    assert plan_after_edit(tiny_run, tmp_path, explicit_defaults) == set()


@pytest.mark.workflow
@pytest.mark.slow
def test_a_setting_only_the_download_job_reads_reruns_no_prepare_data(tiny_run, tmp_path):
    """probe_timeout_s and data_dir are the download job's (a bundled dataset has none), not
    prepare_data's: editing them replans nothing made from the images (the report, which shows
    the config, renders again)."""

    def download_settings(config):
        config["datasets"]["mnist"]["probe_timeout_s"] = 10
        config["datasets"]["mnist"]["data_dir"] = str(tmp_path / "tfds")

    assert plan_after_edit(tiny_run, tmp_path, download_settings) == {("report", "")}


def library_copy(tmp_path: Path, edit=None) -> dict:
    """An environment whose tfedge is a copy of the package, edited by ``edit(folder)``."""
    library = tmp_path / "library"
    shutil.copytree(ROOT / "src" / "tfedge", library / "tfedge")
    if edit:
        edit(library / "tfedge")
    return {**os.environ, "PYTHONPATH": str(library)}


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.workflow
@pytest.mark.slow
def test_a_library_change_reruns_the_jobs_that_run_it(tiny_run, tmp_path):
    def new_optimizer(package):
        replace_in(
            package / "train_attempt.py",
            "keras.optimizers.Adam(rate)",
            "keras.optimizers.Adam(rate, epsilon=1e-6)",
        )

    planned = planned_jobs(tiny_run, env=library_copy(tmp_path, new_optimizer))
    rules = {rule for rule, _ in planned}
    trained = {wildcards for rule, wildcards in planned if rule == "train"}
    config = validated(yaml.safe_load((tiny_run / "config.yaml").read_text()))
    assert len(trained) == len(config["variants"]) * len(config["seeds"])
    assert "prepare_data" not in rules and "architectures" not in rules


@pytest.mark.workflow
@pytest.mark.slow
def test_a_docstring_or_comment_change_reruns_nothing(tiny_run, tmp_path):
    def reworded(package):
        replace_in(package / "train" / "job.py", '"""The train job:', '"""The train job, reworded:')
        replace_in(package / "bench.py", "\ndef ", "\n# a new comment\ndef ")

    assert planned_jobs(tiny_run, env=library_copy(tmp_path, reworded)) == set()


def test_an_empty_convert_list_plans_no_conversion(tmp_path):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["convert"]["variants"] = []
    rules = {rule for rule, _ in planned_jobs(copy_workflow(tmp_path, config))}
    assert rules == {"prepare_data", "train", "evaluate", "architectures", "report"}


def test_tensorrt_formats_alone_plan_no_cpu_benchmark_job(tmp_path):
    """The per-variant benchmark rule exists only when some CPU format is asked for."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["convert"]["formats"] = ["tensorrt_fp16"]
    jobs = planned_jobs(copy_workflow(tmp_path, config))
    variants = config["convert"]["variants"]
    assert {job for job in jobs if job[0].startswith(("convert", "benchmark"))} == {
        *(("convert", f"variant={variant}, format=onnx") for variant in variants),
        *(("convert", f"variant={variant}, format=onnx_fp16") for variant in variants),
        *(("convert_tensorrt", f"variant={variant}, format=tensorrt_fp16") for variant in variants),
        *(
            ("benchmark_tensorrt", f"variant={variant}, format=tensorrt_fp16")
            for variant in variants
        ),
    }


def conversion_jobs(rule: str) -> set[tuple[str, str]]:
    """Jobs of ``rule`` (convert or benchmark) for the tiny config; TensorRT has its own rules.

    Convert has a job per format; benchmark one per variant for all its CPU formats.
    """
    config = validated(yaml.safe_load(TINY_CONFIG.read_text()))
    jobs = set()
    for variant in config["convert"]["variants"]:
        for fmt in config["convert"]["formats"]:
            if FORMATS[fmt].needs_gpu:
                jobs.add((f"{rule}_tensorrt", f"variant={variant}, format={fmt}"))
            elif rule == "convert":
                jobs.add((rule, f"variant={variant}, format={fmt}"))
            else:
                jobs.add((rule, f"variant={variant}"))
    return jobs


def built_on(source: str) -> set[str]:
    """``source`` and every format built from it, directly or through another."""
    formats = {source}
    while grown := {name for name, row in FORMATS.items() if row.built_from in formats} - formats:
        formats |= grown
    return formats


def jobs_for(rule: str, formats: set[str]) -> set[tuple[str, str]]:
    """The tiny config's ``rule`` jobs that make or time one of ``formats`` (a CPU benchmark
    job times all its variant's CPU formats)."""
    return {
        (name, wildcards)
        for name, wildcards in conversion_jobs(rule)
        if "format=" not in wildcards or wildcards.split("format=")[1] in formats
    }


@pytest.mark.workflow
@pytest.mark.slow
def test_editing_the_quantiser_replans_only_the_int8_conversions_and_what_reads_them(
    tiny_run, tmp_path
):
    def another_bias_correction(package):
        replace_in(
            package / "convert" / "quantize.py",
            "fast_bias_correction=False",
            "fast_bias_correction=True",
        )

    planned = planned_jobs(tiny_run, env=library_copy(tmp_path, another_bias_correction))
    int8 = built_on("onnx_int8")
    assert int8 == {"onnx_int8", "openvino_int8", "tensorrt_int8"}
    expected = jobs_for("convert", int8) | jobs_for("benchmark", int8) | {("report", "")}
    assert planned == expected


@pytest.mark.workflow
@pytest.mark.slow
def test_editing_tensorrt_s_runner_replans_only_the_tensorrt_benchmarks(tiny_run, tmp_path):
    def another_message(package):
        replace_in(
            package / "convert" / "tensorrt_runtime.py",
            "TensorRT could not queue the inference",
            "TensorRT did not queue the inference",
        )

    planned = planned_jobs(tiny_run, env=library_copy(tmp_path, another_message))
    tensorrt = {name for name, row in FORMATS.items() if row.family == "tensorrt"}
    benchmarks = {job for job in jobs_for("benchmark", tensorrt) if "format=" in job[1]}
    assert planned == benchmarks | {("report", "")}


@pytest.mark.workflow
@pytest.mark.slow
def test_editing_one_variant_reruns_only_its_chain_and_the_report(tiny_run, tmp_path):
    def more_cnn_epochs(config):
        config["variants"]["cnn"]["epochs"] += 1

    seeds = yaml.safe_load(TINY_CONFIG.read_text())["seeds"]
    expected = {("train", f"variant=cnn, seed={seed}") for seed in seeds}
    expected |= {("evaluate", f"variant=cnn, seed={seed}") for seed in seeds}
    expected |= conversion_jobs("convert") | conversion_jobs("benchmark") | {("report", "")}
    assert plan_after_edit(tiny_run, tmp_path, more_cnn_epochs) == expected


@pytest.mark.workflow
@pytest.mark.slow
def test_editing_one_sweep_value_reruns_only_that_point_and_the_report(tiny_run, tmp_path):
    def another_batch_size(config):
        config["variants"]["mlp_batch"]["batch_size"] = [16, 128]

    seeds = yaml.safe_load(TINY_CONFIG.read_text())["seeds"]
    expected = {
        (rule, f"variant=mlp_batch_batch_size_128, seed={seed}")
        for rule in ("train", "evaluate")
        for seed in seeds
    }
    assert plan_after_edit(tiny_run, tmp_path, another_batch_size) == expected | {("report", "")}


@pytest.mark.workflow
@pytest.mark.slow
def test_editing_a_benchmark_setting_reruns_only_benchmarks_and_the_report(tiny_run, tmp_path):
    def more_repeats(config):
        config["benchmark"]["repeats"] += 1

    expected = conversion_jobs("benchmark") | {("report", "")}
    assert plan_after_edit(tiny_run, tmp_path, more_repeats) == expected


def test_bad_config_stops_snakemake_before_any_job(tmp_path):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["variants"]["cnn"]["epochs"] = 0
    workdir = copy_workflow(tmp_path, config)
    result = snakemake(workdir, "--cores", "1", "report")
    assert result.returncode != 0
    assert "variants.cnn.epochs: 0 is less than the minimum of 1" in result.stderr + result.stdout
    assert not (workdir / "results").exists()
