"""memory_limit_mb caps TensorFlow's memory, so the out-of-memory back-off happens for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest

from tfedge.files import read_json
from tfedge.logs import CPU_MEMORY_LIMIT, job_log, limit_memory

from .conftest import outputs_in, variant_settings

# The train job's way: the cap is set before TensorFlow loads, then tfedge.train imports it.
TRAIN_JOB = """
import json, sys
from tfedge.logs import job_log

args = json.loads(sys.argv[1])
with job_log(args["log"], memory_mb=args["variant"]["memory_limit_mb"]):
    from tfedge.train import TrainOutputs, train_variant

    outputs = TrainOutputs(**args["outputs"])
    train_variant("cnn", args["variant"], 0, args["manifest"], outputs, args["work"])
"""

# A CNN whose peak allocator memory per batch size, measured without a cap on the 200 tiny
# MNIST training images (peak_tensor_memory_mb), is 181 MB at 32, 215 MB at 64 and 276 MB at
# 128: 245 MB leaves 30 MB on either side of batch 64. The 89 MB of weights and Adam slots
# make a retry fail if the failed attempt's memory is not released.
CAP_MB = 245
CAPPED_CNN = {
    "epochs": 1,
    "batch_size": 128,
    "min_batch_size": 64,
    "filters": [64],
    "dense_units": 512,
    "augment": False,
    "memory_limit_mb": CAP_MB,
}


@pytest.mark.slow
def test_a_memory_cap_makes_the_batch_back_off_for_real(tiny_mnist, tmp_path):
    """Batch 128 does not fit in the cap, 64 does; each failed allocation waits 10 s first."""
    outputs = outputs_in(tmp_path)
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
    assert summary["batch_size_requested"] == 128 and summary["batch_size"] == 64
    [backoff] = summary["oom_backoffs"]
    assert backoff["from_batch_size"] == 128 and backoff["to"] == 64
    assert backoff["error"].startswith("ResourceExhaustedError: OOM when allocating tensor")
    assert "bfc_cpu_allocator_for_gpu" in backoff["error"]
    assert summary["memory_limit_mb"] == summary["memory_available_mb"] == CAP_MB
    assert 0 < summary["peak_tensor_memory_mb"] <= CAP_MB
    assert "keeps that cap" not in log


def test_limit_memory_sets_the_allocator_cap_only_for_a_cap(monkeypatch, tmp_path):
    monkeypatch.delenv(CPU_MEMORY_LIMIT, raising=False)
    limit_memory(None)
    assert CPU_MEMORY_LIMIT not in os.environ
    with job_log(str(tmp_path / "job.log"), memory_mb=300):
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


def fit_and_drop_a_model(units: int) -> None:
    """Compile and fit a model as training does, then let every reference to it go."""
    from tfedge.keras_env import keras
    from tfedge.train import compile_model

    model = keras.Sequential([keras.Input((units,)), keras.layers.Dense(units, name="big")])
    compile_model(model, variant_settings("mlp_baseline"), 8, 8)
    rng = np.random.default_rng(0)
    model.fit(rng.random((8, units), np.float32), rng.integers(0, 10, 8), verbose=0)


def test_a_dropped_model_frees_its_weights_and_optimizer_slots():
    """Keras's stock Adam kept each traced training step, with its weights, alive for good."""
    import gc

    from tfedge.keras_env import tf

    units = 2048  # a 16 MB kernel, 48 MB with Adam's two slots
    gc.collect()
    before = tf.config.experimental.get_memory_info("CPU:0")["current"]
    fit_and_drop_a_model(units)
    gc.collect()
    kept_mb = (tf.config.experimental.get_memory_info("CPU:0")["current"] - before) / 2**20
    assert kept_mb < 4
