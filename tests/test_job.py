"""What every job's setup (tfedge.job) promises beyond threads and logs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Converts a one-node ONNX model with the product's OpenVINO converter, quantises it with NNCF
# and logs a run to a local MLflow store, inside a job's setup or (the control) without it.
# NNCF and MLflow turn their statistics off under pytest, so this runs in a process of its own,
# as a job does.
CONVERT_AND_QUANTIZE = """
import socket
import sys
from pathlib import Path
from types import SimpleNamespace

folder = Path(sys.argv[1])


def refused(*args, **kwargs):
    # Every lookup or connection is refused and noted: nothing leaves this machine.
    with (folder / "connections.txt").open("a") as noted:
        noted.write(repr(args[:2]) + chr(10))
    raise OSError("network refused in this test")


socket.getaddrinfo = socket.create_connection = socket.socket.connect = refused

import numpy as np
import onnx
from onnx import TensorProto, helper

from tfedge.formats import FORMATS, INPUT_NAME, OUTPUT_NAME
from tfedge.job import job

shape = [1, 4]
graph = helper.make_graph(
    [helper.make_node("Relu", [INPUT_NAME], [OUTPUT_NAME])], "relu",
    [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, shape)],
    [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, shape)],
)
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), folder / "m.onnx")


def convert_and_quantize():
    import nncf
    from mlflow.tracking import MlflowClient

    from tfedge.convert import openvino

    openvino.convert(folder / "m.onnx", folder / "ir", FORMATS["openvino_fp32"], {}, "")
    samples = [{INPUT_NAME: np.ones(shape, np.float32)}]
    nncf.quantize(onnx.load(folder / "m.onnx"), nncf.Dataset(samples), subset_size=1)
    client = MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.create_experiment("job", artifact_location=(folder / "a").as_uri())
    client.set_terminated(client.create_run(experiment).info.run_id)


if sys.argv[2] == "job":
    with job(SimpleNamespace(threads=1, log=[str(folder / "job.log")], output=[])):
        convert_and_quantize()
else:
    convert_and_quantize()
"""


# Each turns some library's statistics off by itself (CI services and pytest set several).
STATISTICS_SWITCHES = (
    "CI", "TF_BUILD", "JENKINS_URL", "NNCF_CI", "NNCF_DEV", "PYTEST_CURRENT_TEST",
    "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "BUILDKITE", "TEAMCITY_VERSION",
    "BITBUCKET_BUILD_NUMBER", "CODEBUILD_BUILD_ARN", "CLOUD_RUN_EXECUTION",
    "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "XDG_CONFIG_HOME",
)  # fmt: skip


def run_with_home(tmp_path: Path, setup: str) -> tuple[Path, Path]:
    """Run the conversion with ``HOME`` an empty folder of its own; returns that folder and
    the work folder (where the refused connections are noted)."""
    home, work = tmp_path / setup / "home", tmp_path / setup / "work"
    home.mkdir(parents=True)
    work.mkdir()
    environment = {**os.environ, "HOME": str(home)}
    for variable in STATISTICS_SWITCHES:
        environment.pop(variable, None)
    command = [sys.executable, "-c", CONVERT_AND_QUANTIZE, str(work), setup]
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    return home, work


@pytest.mark.parametrize("setup", ["job", "bare"])
def test_a_job_sends_no_usage_statistics(tmp_path, setup):
    """Inside a job, OpenVINO, NNCF and MLflow leave the home folder alone; the bare control
    shows what they do otherwise (``~/intel`` and ``~/.config/mlflow``, and attempts to send)."""
    home, work = run_with_home(tmp_path, setup)
    written = sorted(path.name for path in home.rglob("*"))
    if setup == "job":
        assert written == []
        assert not (work / "connections.txt").exists()
    else:
        assert {"openvino_ga_cid", "telemetry.json"} <= set(written)
        assert "google-analytics" in (work / "connections.txt").read_text()
