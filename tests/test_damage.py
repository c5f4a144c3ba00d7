"""Damage in a finished tiny run, through the README's own target: a dry run names it and changes
nothing, a real `snakemake report` remakes it and what was made from it, and a job that finds
damage prints the user's own command with the fix."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from .snakemake_runs import dry_run, job_blocks, planned_jobs, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slow]


def copy_of(tiny_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_run, tempfile.mkdtemp(dir=tmp_path), dirs_exist_ok=True))


def tree_state(root: Path) -> dict[str, tuple]:
    """Every file's and folder's (size, mtime_ns, SHA-256 of a file) below ``root``."""
    state = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        state[path.relative_to(root).as_posix()] = (info.st_size, info.st_mtime_ns, digest)
    return state


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def edit_keeping_size(path: Path) -> None:
    """Change one digit in a JSON record: the size stays, the content does not."""
    text = path.read_text()
    index = next(i for i, char in enumerate(text) if char in "123456789")
    path.write_text(text[:index] + str(int(text[index]) % 9 + 1) + text[index + 1 :])


def remove(*names: str) -> Callable[[Path], None]:
    def damage(results: Path) -> None:
        for name in names:
            path = results / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()

    return damage


# Each damage, the output the plan names, a job its rebuild must plan (the maker, and one made
# from it), and a job it must not.
DAMAGE = {
    "a file deleted in a converted folder": (
        remove("converted/cnn/tflite_fp32/model.tflite"),
        "results/converted/cnn/tflite_fp32 is damaged (results/converted/cnn/tflite_fp32/"
        "model.tflite is missing)",
        [("convert", "variant=cnn, format=tflite_fp32"), ("benchmark", "variant=cnn")],
        ("convert", "variant=cnn, format=onnx"),
    ),
    "a converted folder removed": (
        remove("converted/cnn/onnx"),
        "results/converted/cnn/onnx is damaged",
        [("convert", "variant=cnn, format=onnx"), ("convert", "variant=cnn, format=onnx_int8")],
        ("convert", "variant=cnn, format=tflite_fp32"),
    ),
    "a truncated SavedModel variables file": (
        lambda results: truncate(
            results / "models/cnn/seed0/savedmodel/variables/variables.data-00000-of-00001"
        ),
        "results/models/cnn/seed0/savedmodel is damaged",
        [("train", "variant=cnn, seed=0"), ("convert", "variant=cnn, format=savedmodel")],
        ("train", "variant=cnn, seed=1"),
    ),
    "a truncated model.keras": (
        lambda results: truncate(results / "models/frozen/seed0/model.keras"),
        "results/models/frozen/seed0/model.keras is damaged",
        [("train", "variant=frozen, seed=0"), ("train", "variant=finetuned, seed=0")],
        ("train", "variant=frozen, seed=1"),
    ),
    "a data split deleted": (
        remove("data/mnist/test.tfrecord"),
        "results/data/mnist/test.tfrecord is damaged",
        [("prepare_data", "dataset=mnist"), ("evaluate", "variant=cnn, seed=1")],
        ("prepare_data", "dataset=flowers"),
    ),
    "a deleted manifest": (
        remove("data/flowers/manifest.json"),
        "results/data/flowers/manifest.json is damaged",
        [("prepare_data", "dataset=flowers"), ("train", "variant=frozen, seed=0")],
        ("prepare_data", "dataset=mnist"),
    ),
    "a deleted train.json": (
        remove("models/cnn/seed1/train.json"),
        "results/models/cnn/seed1/train.json is damaged",
        [("train", "variant=cnn, seed=1"), ("evaluate", "variant=cnn, seed=1")],
        ("train", "variant=cnn, seed=0"),
    ),
    "a number edited in conversion.json": (
        lambda results: edit_keeping_size(results / "converted/cnn/onnx_fp16/conversion.json"),
        "results/converted/cnn/onnx_fp16 is damaged (results/converted/cnn/onnx_fp16/"
        "conversion.json has changed",
        [("convert", "variant=cnn, format=onnx_fp16"), ("benchmark", "variant=cnn")],
        ("convert", "variant=cnn, format=onnx"),
    ),
    "an edited job record": (
        lambda results: edit_keeping_size(results / "benchmarks/evaluate/mlp_baseline_seed0.json"),
        "results/benchmarks/evaluate/mlp_baseline_seed0.json is damaged (the job's record was "
        "edited)",
        [("evaluate", "variant=mlp_baseline, seed=0"), ("report", "")],
        ("train", "variant=mlp_baseline, seed=0"),
    ),
    "a training run removed whole, record and all": (
        remove("models/mlp_baseline/seed1", "benchmarks/train/mlp_baseline_seed1.json"),
        "results/models/mlp_baseline/seed1/savedmodel is damaged (results/models/mlp_baseline/"
        "seed1/savedmodel is missing, though results/benchmarks/evaluate/mlp_baseline_seed1.json "
        "read it",
        [("train", "variant=mlp_baseline, seed=1"), ("evaluate", "variant=mlp_baseline, seed=1")],
        ("train", "variant=mlp_baseline, seed=0"),
    ),
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_the_report_target_plans_the_rebuild_of_every_kind_of_damage(kind, tiny_run, tmp_path):
    damage, message, planned, untouched = DAMAGE[kind]
    edited = copy_of(tiny_run, tmp_path)
    damage(edited / "results")
    output = dry_run(edited, target="report")
    jobs = set(job_blocks(output))
    assert message in output
    assert "planned to be remade with everything made from it, as --forcerun" in output
    assert set(planned) | {("report", "")} <= jobs, sorted(jobs)
    assert untouched not in jobs


def several_kinds_of_damage(results: Path) -> None:
    for kind in ("a file deleted in a converted folder", "a truncated model.keras"):
        DAMAGE[kind][0](results)


def test_a_dry_run_changes_nothing_and_names_the_damage_every_time(tiny_run, tmp_path):
    edited = copy_of(tiny_run, tmp_path)
    several_kinds_of_damage(edited / "results")
    before = tree_state(edited / "results")
    for _ in range(2):  # the damage stays named until it is repaired
        output = dry_run(edited, target="report")
        assert "results/converted/cnn/tflite_fp32 is damaged" in output
        assert "results/models/frozen/seed0/model.keras is damaged" in output
        assert tree_state(edited / "results") == before


@pytest.mark.parametrize("target", [None, "all", "results/metrics/mlp_baseline/seed0.json"])
def test_any_target_plans_the_rebuild(target, tiny_run, tmp_path):
    edited = copy_of(tiny_run, tmp_path)
    several_kinds_of_damage(edited / "results")
    result = snakemake(edited, "-n", *([target] if target else []))
    assert result.returncode == 0, result.stderr
    jobs = set(job_blocks(result.stdout + result.stderr))
    assert ("convert", "variant=cnn, format=tflite_fp32") in jobs
    assert ("train", "variant=frozen, seed=0") in jobs


def test_a_real_run_of_the_report_target_keeps_the_damage_and_remakes_it(tiny_run, tmp_path):
    edited = copy_of(tiny_run, tmp_path)
    results = edited / "results"
    remove("converted/cnn/tflite_fp32")(results)
    edit_keeping_size(results / "converted/cnn/onnx_fp16/conversion.json")
    edited_record = (results / "converted/cnn/onnx_fp16/conversion.json").read_bytes()
    result = snakemake(edited, "--cores", "2", "report")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (results / "converted/cnn/tflite_fp32/model.tflite").is_file()
    [kept] = (results / ".damaged").iterdir()
    assert (kept / "converted/cnn/onnx_fp16/conversion.json").read_bytes() == edited_record
    assert (kept / "converted/cnn/onnx_fp16/model.onnx").is_file()  # whole, with its model
    assert (kept / "benchmarks/convert/cnn_tflite_fp32.json").is_file()  # what was left of it
    assert planned_jobs(edited) == set()
    assert "is damaged" not in dry_run(edited)


def without_make(environment: os._Environ) -> dict:
    """The environment as a shell gives it, not as `make test` does (make sets MAKELEVEL)."""
    return {name: value for name, value in environment.items() if name != "MAKELEVEL"}


@pytest.mark.parametrize(
    "environment, command",
    [
        ({}, "snakemake report --configfile own.yaml --forcerun {target}"),
        ({"MAKELEVEL": "1"}, "make report CONFIG=own.yaml FORCERUN={target}"),
    ],
)
def test_a_job_that_finds_damage_prints_the_users_own_command(
    environment, command, tiny_run, tmp_path
):
    """A change that keeps the size escapes the plan; the fine-tuning job that reads the model
    finds it, and its fix keeps the user's target and config file."""
    edited = copy_of(tiny_run, tmp_path)
    shutil.copy(edited / "config.yaml", edited / "own.yaml")
    parent = edited / "results/models/frozen/seed0/model.keras"
    parent.write_bytes(parent.read_bytes()[:-1] + b"!")
    child = "results/models/finetuned/seed0/model.keras"
    result = snakemake(
        edited, "--cores", "2", "report", "--forcerun", child, "--configfile", "own.yaml",
        env={**without_make(os.environ), **environment},
    )  # fmt: skip
    assert result.returncode != 0
    log = (edited / "results/logs/train/finetuned_seed0.log").read_text()
    assert "results/models/frozen/seed0 is damaged: model.keras has changed" in log
    target = "results/models/frozen/seed0/model.keras"
    assert command.format(target=target) in log


def test_a_whole_run_is_checked_by_hash_on_demand(tiny_run, tmp_path):
    """A flipped byte in a model keeps its size, so only hashing finds it: what the README's
    `python -m tfedge.verify_run` does."""
    edited = copy_of(tiny_run, tmp_path)
    check = [sys.executable, "-m", "tfedge.verify_run"]
    intact = subprocess.run(check, cwd=edited, capture_output=True, text=True)
    assert intact.returncode == 0 and "0 damaged output(s)" in intact.stdout, intact.stderr
    model = edited / "results/models/cnn/seed1/model.keras"
    model.write_bytes(model.read_bytes()[:-1] + b"!")
    found = subprocess.run(check, cwd=edited, capture_output=True, text=True)
    assert found.returncode == 1
    assert found.stdout.startswith(
        "results/models/cnn/seed1/model.keras: results/models/cnn/seed1/model.keras has changed"
    )
