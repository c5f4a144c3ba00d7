"""The tiny DAG through profiles/slurm on a live single-node SLURM, with the README's command
and one's own config (tests/configs/tiny.yaml) given beside the shipped config.yaml.

profiles/slurm/local_cluster.sh brings the cluster up here (Debian's SLURM 22.05, as root) and
takes it down again if this module started it. Checked: the run finishes with a report; every
SLURM job asked for what the rules declare and no more CPUs than the profile says a node has;
the TensorRT formats end as skipped, with the reason, on a cluster without GPUs; and every train
job trained exactly the settings the main process planned (train.json records them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from tfedge import paths
from tfedge.config.helpers import canonical
from tfedge.files import read_json
from tfedge.formats import FORMATS
from tfedge.resources import TRAIN_MEMORY_MARGIN_MB, TRAIN_MEMORY_MB, train_memory_mb

from .helpers import ROOT, TINY_CONFIG, validated
from .snakemake_runs import copy_workflow, snakemake

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

CLUSTER = ROOT / "profiles" / "slurm" / "local_cluster.sh"
PROFILE = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
CAPPED_MB = 3000  # mlp_baseline's memory_limit_mb on the cluster: plus the margin, over 4000
# What each rule declares (rules/*.smk): threads, mem_mb, runtime in minutes; a train job's
# mem_mb follows its variant (train_memory_mb), 8000 where the variant sets no limit.
DECLARED = {
    "prepare_data": (1, 4000, 60),
    "train": (1, 8000, 240),
    "evaluate": (1, 4000, 30),
    "convert": (PROFILE["set-threads"]["convert"], 6000, 60),
    "convert_tensorrt": (1, 6000, 60),
    "benchmark": (PROFILE["cores"], 6000, 60),
    "benchmark_tensorrt": (PROFILE["cores"], 6000, 60),
    "architectures": (PROFILE["cores"], 8000, 60),
}


@pytest.fixture(scope="module")
def cluster():
    """A running cluster: the one already up, or one started (and stopped) here."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.fail("the SLURM tests bring up a cluster with apt-get, as root")
    was_up = subprocess.run([CLUSTER, "status"], capture_output=True).returncode == 0
    started = subprocess.run([CLUSTER, "up"], capture_output=True, text=True, timeout=900)
    assert started.returncode == 0, started.stdout + started.stderr
    yield
    if not was_up:
        subprocess.run([CLUSTER, "down"], check=True, timeout=120)


def sacct_jobs(since: str) -> list[dict]:
    """Every SLURM job submitted since ``since``: its comment, CPUs, memory and time limit."""
    fields = "JobID,Comment%200,AllocCPUS,ReqMem,TimelimitRaw,State"
    result = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-S", since, "-o", fields],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    names = ("id", "comment", "cpus", "memory", "minutes", "state")
    return [dict(zip(names, line.split("|"))) for line in result.stdout.splitlines()]


def slurm_config() -> dict:
    """The tiny config, with one variant's memory capped: its training job asks for more."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["variants"]["mlp_baseline"]["memory_limit_mb"] = CAPPED_MB
    return config


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory) -> tuple[Path, list[dict]]:
    """The README's command with one's own config (the tiny one, ``slurm_config``) beside the
    shipped one."""
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm"), shipped)
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(slurm_config(), sort_keys=False))
    since = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    result = snakemake(
        workdir, "--workflow-profile", "profiles/slurm", "report", "--configfile", "tiny.yaml"
    )
    assert result.returncode == 0, result.stderr[-8000:]
    return workdir, sacct_jobs(since)


def test_the_readme_command_makes_the_report(slurm_run):
    workdir, jobs = slurm_run
    assert (workdir / "results" / "report.html").is_file()
    assert jobs and all(job["state"] == "COMPLETED" for job in jobs), jobs


def rules_of(comment: str) -> list[str]:
    """The rules a SLURM job ran, from the plugin's comment: rule_<rule>_wildcards_… or
    rule_<group>_<rule>_<rule>… for a group job."""
    words = comment.removeprefix("rule_").split("_wildcards_")[0]
    return [rule for rule in DECLARED if f"_{rule}_" in f"_{words}_"]


def test_every_job_asks_for_what_its_rules_declare_and_fits_a_node(slurm_run):
    """A job of one rule asks for exactly what the rule declares. A group job (the profile's
    groups) runs its members one after another, so it asks for the CPUs of its widest member,
    never more than one node's (the profile's cores), and at least any member's memory and
    time."""
    _, jobs = slurm_run
    ran = set()
    for job in jobs:
        rules = rules_of(job["comment"])
        assert rules, job
        ran.update(rules)
        threads, memory, minutes = zip(*(DECLARED[rule] for rule in rules))
        cpus, asked_mb = int(job["cpus"]), int(job["memory"].removesuffix("M"))
        assert cpus == max(threads) <= PROFILE["cores"], job
        if "train" in rules:  # checked against the variant's own limit below
            memory = tuple(mb for rule, mb in zip(rules, memory) if rule != "train")
        assert asked_mb >= max(memory) and int(job["minutes"]) >= max(minutes), job
        single = job["comment"].removeprefix("rule_").split("_wildcards_")[0] in DECLARED
        if single:
            assert (cpus, asked_mb, int(job["minutes"])) == DECLARED[rules[0]], job
    assert ran == set(DECLARED)


def test_a_training_job_asks_for_its_variant_s_memory_limit_and_a_margin(slurm_run):
    """Each run's group job (training, then evaluation) asks for the larger of the two:
    memory_limit_mb plus the margin where the variant sets a limit, else the default."""
    _, jobs = slurm_run
    config = validated(slurm_config())
    evaluate_mb = DECLARED["evaluate"][1]
    asked = {
        job["comment"].removeprefix("rule_").split("_evaluate_train")[0]: int(
            job["memory"].removesuffix("M")
        )
        for job in jobs
        if job["comment"].endswith("_evaluate_train")
    }
    expected = {
        f"training-{variant}-{seed}": max(train_memory_mb(settings), evaluate_mb)
        for variant, settings in config["variants"].items()
        for seed in config["seeds"]
    }
    assert asked == expected
    assert expected["training-mlp_baseline-0"] == CAPPED_MB + TRAIN_MEMORY_MARGIN_MB > evaluate_mb
    assert expected["training-cnn-0"] == TRAIN_MEMORY_MB


def test_a_run_and_its_evaluation_are_one_slurm_job(slurm_run):
    """The profile groups per run: each training run with its evaluation, so a fine-tuned run
    and the run it starts from are two SLURM jobs, and neither asks for a second CPU."""
    _, jobs = slurm_run
    config = validated(slurm_config())
    runs = {
        f"training-{variant}-{seed}" for variant in config["variants"] for seed in config["seeds"]
    }
    grouped = {
        job["comment"].removeprefix("rule_").split("_evaluate_train")[0]
        for job in jobs
        if job["comment"].endswith("_evaluate_train")
    }
    assert grouped == runs


def test_tensorrt_is_skipped_with_its_reason_on_a_cluster_without_gpus(slurm_run):
    workdir, _ = slurm_run
    tensorrt = [name for name, row in FORMATS.items() if row.family == "tensorrt"]
    for fmt in tensorrt:
        record = read_json(workdir / "results" / "bench" / "cnn" / f"{fmt}.json")
        assert record["status"] == "skipped", record
        assert record["reason"].startswith(("tensorrt not importable", "no CUDA device"))


def test_every_train_job_trained_the_planned_settings(slurm_run):
    workdir, _ = slurm_run
    config = validated(slurm_config())
    for variant, settings in config["variants"].items():
        backbone = settings.get("backbone")
        planned = {
            "variant": canonical(settings),
            "backbone": canonical(config["backbones"][backbone]) if backbone else None,
        }
        for seed in config["seeds"]:
            summary = read_json(workdir / paths.model_file(variant, seed, "train.json"))
            assert summary["settings"] == planned, (variant, seed)
