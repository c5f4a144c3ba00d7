"""Out of memory is survived however it shows: an exception, a crash, or a kill.

Each attempt runs in a child process; one that ends in any of the three halves the batch and
tries again, and train.json records how every attempt ended. memory_limit_mb caps
TensorFlow's memory so the back-off happens for real at a known size.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import pytest

from tfedge.files import read_json
from tfedge.job import CPU_MEMORY_LIMIT, job, limit_memory
from tfedge.train.job import train_variant
from tfedge.train.stopped import TrainingStopped
from tfedge.train.supervision import ChildExit, ChildProcess, attempt_ending
from tfedge.train.work_folder import ATTEMPTS_RECORD

from .helpers import in_process, train_outputs_in, variant_settings

# An attempt process that dies by ``signal`` above batch 64, after leaving the state a dying
# attempt may leave behind (an epoch log and a checkpoint folder), and trains for real otherwise.
DIES_ABOVE_64 = """
import json, os, pathlib, runpy, signal, sys
request = json.loads(pathlib.Path(sys.argv[1]).read_text())
if request["batch_size"] > 64:
    work = pathlib.Path(request["work"])
    (work / "history.csv").write_text("epoch,accuracy\\n0,0.5\\n")
    (work / "backup").mkdir()
    os.kill(os.getpid(), signal.{name})
runpy.run_module("tfedge.train_attempt", run_name="__main__")
"""


def dies_above_64(name: str) -> ChildProcess:
    return ChildProcess((sys.executable, "-c", DIES_ABOVE_64.replace("{name}", name)))


@pytest.mark.slow
def test_an_attempt_killed_by_a_signal_backs_off_and_trusts_nothing_it_left(tiny_mnist, tmp_path):
    variant = variant_settings("mlp_baseline", epochs=2, batch_size=128, min_batch_size=16)
    outputs = train_outputs_in(tmp_path)
    summary = train_variant(
        "mlp_baseline", variant, 0, str(tiny_mnist), outputs, str(tmp_path / "w"),
        runner=dies_above_64("SIGKILL"),
    )  # fmt: skip
    assert summary["batch_size_requested"] == 128 and summary["batch_size"] == 64
    died, completed = summary["attempts"]
    assert died["batch_size"] == 128 and died["ended"] == "died"
    assert died["how"].startswith("killed by SIGKILL")
    assert died["peak_rss_mb"] > 0 and died["seconds"] >= 0
    assert completed["batch_size"] == 64 and completed["ended"] == "completed"
    # The dead attempt's epoch log and checkpoint were not resumed from.
    assert summary["resumed_after_epoch"] == 0 and summary["epochs_run"] == 2
    assert read_json(outputs.summary) == summary
    assert not (tmp_path / "w").exists()


def exit_of(status: int) -> ChildExit:
    return ChildExit(status, peak_rss_mb=100.0)


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (-signal.SIGKILL, "killed by SIGKILL, as the kernel's out-of-memory killer does"),
        (-signal.SIGSEGV, "crashed with SIGSEGV"),
        (-signal.SIGBUS, "crashed with SIGBUS"),
        (-signal.SIGABRT, "aborted with SIGABRT"),
    ],
)
def test_crashes_and_kills_count_as_out_of_memory(tmp_path, status, says):
    ending = attempt_ending(exit_of(status), tmp_path, 64)
    assert ending["ended"] == "died" and ending["how"].startswith(says)


def test_a_stopped_or_failing_attempt_ends_the_job_instead(tmp_path):
    with pytest.raises(
        TrainingStopped, match=r"at batch 64 was stopped by SIGTERM; its checkpoint"
    ):
        attempt_ending(exit_of(-signal.SIGTERM), tmp_path, 64)
    with pytest.raises(TrainingStopped, match=r"failed \(exit status 1\); its error is above"):
        attempt_ending(exit_of(1), tmp_path, 64)


class Killed(Exception):
    """Stands for the train job itself killed (e.g. SLURM's time limit) during an attempt."""


class ScriptedAttempts:
    """Ends each attempt as scripted by batch size: an exit status, Killed, or a real run."""

    def __init__(self, endings: dict[int, int | type[Exception]]):
        self.endings, self.batches = endings, []

    def __call__(self, request: Path) -> ChildExit:
        batch_size = read_json(request)["batch_size"]
        self.batches.append(batch_size)
        ending = self.endings.get(batch_size)
        if ending is None:
            return in_process(request)
        if isinstance(ending, int):
            return exit_of(ending)
        raise ending(f"job killed at batch {batch_size}")


@pytest.mark.slow
def test_a_killed_job_continues_its_back_off_where_it_stood(tiny_mnist, tmp_path):
    variant = variant_settings("mlp_baseline", epochs=1, batch_size=64, min_batch_size=8)
    outputs, work = train_outputs_in(tmp_path), tmp_path / "w"
    first = ScriptedAttempts({64: -signal.SIGSEGV, 32: Killed})
    with pytest.raises(Killed):
        train_variant("mlp_baseline", variant, 0, str(tiny_mnist), outputs, str(work), runner=first)
    assert [a["batch_size"] for a in read_json(work / ATTEMPTS_RECORD)] == [64]

    again = ScriptedAttempts({})
    summary = train_variant(
        "mlp_baseline", variant, 0, str(tiny_mnist), outputs, str(work), runner=again
    )
    assert again.batches == [32] and summary["batch_size"] == 32
    assert [(a["batch_size"], a["ended"]) for a in summary["attempts"]] == [
        (64, "died"),
        (32, "completed"),
    ]


class OutOfMemoryOnce:
    """Raises ResourceExhaustedError in the first training step of the first attempt only."""

    def __init__(self):
        self.raised = False

    def callbacks(self, normal):
        from tfedge.keras_env import keras, tf

        outer = self

        class Exhaust(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                if not outer.raised:
                    outer.raised = True
                    raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

        return lambda work: [*normal(work), Exhaust()]


def raise_out_of_memory_once(monkeypatch) -> None:
    from tfedge import train_attempt

    patched = OutOfMemoryOnce().callbacks(train_attempt.training_callbacks)
    monkeypatch.setattr(train_attempt, "training_callbacks", patched)


def test_an_out_of_memory_exception_halves_the_batch_and_records_it(
    tiny_mnist, tmp_path, monkeypatch
):
    raise_out_of_memory_once(monkeypatch)
    variant = variant_settings("mlp_baseline", epochs=1, batch_size=32)
    summary = train_variant(
        "mlp_baseline", variant, 0, str(tiny_mnist), train_outputs_in(tmp_path),
        str(tmp_path / "w"), runner=in_process,
    )  # fmt: skip
    assert summary["batch_size"] == 16 and summary["batch_size_requested"] == 32
    ran_out, completed = summary["attempts"]
    assert ran_out["batch_size"] == 32 and ran_out["ended"] == "out_of_memory"
    assert ran_out["how"] == "out of memory (ResourceExhaustedError: OOM when allocating tensor)"
    assert completed["batch_size"] == 16 and completed["ended"] == "completed"
    assert read_json(tmp_path / "train.json")["attempts"] == summary["attempts"]


@pytest.mark.parametrize(
    ("memory_limit_mb", "says"),
    [
        (None, r"\(min_batch_size is 8\): lower the dataset's image_size"),
        (300, r"\(min_batch_size is 8, memory_limit_mb is 300\): raise memory_limit_mb, lower"),
    ],
)
def test_out_of_memory_at_the_floor_says_what_to_change_and_each_attempt(
    tiny_mnist, tmp_path, memory_limit_mb, says
):
    variant = variant_settings(
        "mlp_baseline", epochs=1, batch_size=16, min_batch_size=8, memory_limit_mb=memory_limit_mb
    )
    attempts = ScriptedAttempts({16: -signal.SIGKILL, 8: -signal.SIGSEGV})
    with pytest.raises(MemoryError, match=says) as raised:
        train_variant(
            "mlp_baseline", variant, 0, str(tiny_mnist), train_outputs_in(tmp_path),
            str(tmp_path / "w"), runner=attempts,
        )  # fmt: skip
    assert "batch 16: killed by SIGKILL" in str(raised.value)
    assert "batch 8: crashed with SIGSEGV" in str(raised.value)
    assert not (tmp_path / "w").exists()  # a rerun starts again at the batch asked for


# The train job's way: the cap is set before anything starts TensorFlow (the job itself never
# does; its attempt processes inherit the cap).
TRAIN_JOB = """
import json, sys
from types import SimpleNamespace
from tfedge.job import job

args = json.loads(sys.argv[1])
smk = SimpleNamespace(threads=1, log=[args["log"]], output=[])
with job(smk, memory_mb=args["variant"]["memory_limit_mb"]):
    from tfedge.train.job import TrainOutputs, train_variant

    outputs = TrainOutputs(**args["outputs"])
    train_variant("cnn", args["variant"], 0, args["manifest"], outputs, args["work"])
"""

# A CNN whose peak allocator memory per batch size, measured without a cap on the 200 tiny
# MNIST training images (peak_tensor_memory_mb), is 181 MB at 32, 215 MB at 64 and 276 MB at
# 128: 245 MB leaves 30 MB on either side of batch 64. Batch 128 runs out however this CPU
# shows it: TensorFlow raises, or (oneDNN on CPUs without AVX2) crashes.
CAP_MB = 245
CAPPED_CNN = {
    "epochs": 1,
    "batch_size": 128,
    "min_batch_size": 32,
    "filters": [64],
    "dense_units": 512,
    "augment": False,
    "memory_limit_mb": CAP_MB,
}


@pytest.mark.slow
def test_a_memory_cap_makes_the_batch_back_off_for_real(tiny_mnist, tmp_path):
    outputs = train_outputs_in(tmp_path)
    args = {
        "variant": variant_settings("cnn", **CAPPED_CNN),
        "manifest": str(tiny_mnist),
        "outputs": asdict(outputs),
        "work": str(tmp_path / "work"),
        "log": str(tmp_path / "train.log"),
    }
    job = subprocess.run([sys.executable, "-c", TRAIN_JOB, json.dumps(args)], timeout=300)
    log = (tmp_path / "train.log").read_text()
    assert job.returncode == 0, log[-3000:]
    summary = read_json(outputs.summary)
    assert summary["batch_size_requested"] == 128 and summary["batch_size"] in (64, 32)
    *failed, completed = summary["attempts"]
    assert [attempt["batch_size"] for attempt in failed] == [128, 64][: len(failed)]
    assert {attempt["ended"] for attempt in failed} <= {"out_of_memory", "died"}
    assert completed == {**completed, "batch_size": summary["batch_size"], "ended": "completed"}
    assert summary["memory_limit_mb"] == summary["memory_available_mb"] == CAP_MB
    assert 0 < summary["peak_tensor_memory_mb"] <= CAP_MB
    assert "keeps that cap" not in log


def test_limit_memory_sets_the_allocator_cap_only_for_a_cap(monkeypatch, tmp_path):
    monkeypatch.delenv(CPU_MEMORY_LIMIT, raising=False)
    limit_memory(None)
    assert CPU_MEMORY_LIMIT not in os.environ
    with job(SimpleNamespace(threads=1, log=[str(tmp_path / "job.log")], output=[]), memory_mb=300):
        pass
    assert os.environ[CPU_MEMORY_LIMIT] == "300"


def test_a_cap_tensorflow_did_not_start_with_is_named_in_a_warning(monkeypatch, caplog):
    from tfedge.keras_env import cap_memory

    monkeypatch.delenv(CPU_MEMORY_LIMIT, raising=False)
    with caplog.at_level("WARNING", logger="tfedge.keras_env"):
        cap_memory(300)
    assert f"TensorFlow started with {CPU_MEMORY_LIMIT}=(unset)" in caplog.text
    assert "instead of 300 MB" in caplog.text

    caplog.clear()
    monkeypatch.setenv(CPU_MEMORY_LIMIT, "300")
    with caplog.at_level("WARNING", logger="tfedge.keras_env"):
        cap_memory(300)
        cap_memory(None)
    assert caplog.text == ""


def test_the_train_job_itself_never_imports_tensorflow():
    """It must outlive a crashing attempt, and stay small next to it for the OOM killer."""
    probe = "import sys, tfedge.train.job; print('tensorflow' in sys.modules)"
    assert (
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "False"
    )
