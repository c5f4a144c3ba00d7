"""A format that cannot run here records its skip without TensorFlow or any model runtime.

The adapters run as Snakemake runs them, a fresh Python per job, with a stand-in
``snakemake`` object and an environment in which importing TensorFlow, Keras, TF Hub, the
runtimes or TensorRT raises. TensorRT blocked is what makes the skip certain on any machine.
Conversions built from the ONNX model run with TensorFlow alone blocked: they need none.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tfedge.files import read_json, write_json
from tfedge.formats import RECORD
from tfedge.integrity import describe_files, seal_of

from .helpers import ROOT
from .snakemake_runs import import_blocker

HEAVY = ["tensorflow", "tf_keras", "keras", "tensorflow_hub", "onnxruntime", "onnx", "tf2onnx",
         "ai_edge_litert", "sklearn", "tensorrt"]  # fmt: skip
# Runs scripts/<argv[1]> with a stand-in ``snakemake`` object built from the JSON in argv[2]:
# named files as Snakemake's own lists of them, the rest as attributes.
RUN_ADAPTER = """
import json, runpy, sys
from types import SimpleNamespace as NS
from snakemake.iocontainers import Namedlist
spec = json.loads(sys.argv[2])
smk = NS(**{key: NS(**value) if isinstance(value, dict) else value for key, value in spec.items()})
smk.input, smk.output = Namedlist(fromdict=spec["input"]), Namedlist(fromdict=spec["output"])
runpy.run_path(sys.argv[1], init_globals={"snakemake": smk})
"""


def run_adapter(script: str, spec: dict, env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", RUN_ADAPTER, str(ROOT / "scripts" / script), json.dumps(spec)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def job(folder: Path, name: str, inputs: dict, outputs: dict) -> dict:
    return {
        "rule": name,
        "input": inputs,
        "output": outputs,
        "log": [str(folder / f"{name}.log")],
        "params": {"settings": {"tensorrt": {"max_batch": 32, "opt_batch": 8}}},
        "wildcards": {"variant": "cnn", "format": "tensorrt_fp16"},
        "threads": 2,
    }


@pytest.fixture
def blocked(tmp_path) -> dict:
    return import_blocker(tmp_path / "blocker", HEAVY, "imported by a skipped job")


def test_tensorrt_conversion_and_benchmark_skip_without_heavy_imports(tmp_path, blocked):
    write_json(tmp_path / "onnx" / RECORD, {"variant": "cnn", "format": "onnx", "status": "ok"})
    converted = str(tmp_path / "tensorrt_fp16")
    inputs = {"source": str(tmp_path / "onnx"), "manifest": "missing/manifest.json"}
    outputs = {"folder": converted, "job": str(tmp_path / "convert.json")}
    conversion = run_adapter("convert.py", job(tmp_path, "convert", inputs, outputs), blocked)
    assert conversion.returncode == 0, (tmp_path / "convert.log").read_text()
    record = read_json(Path(converted) / RECORD)
    assert record["status"] == "skipped"
    assert record["reason"].startswith("tensorrt not importable")
    assert [path.name for path in Path(converted).iterdir()] == [RECORD]
    job_record = read_json(tmp_path / "convert.json")
    assert job_record == {
        "rule": "convert", "inputs": sorted(["missing/manifest.json", str(tmp_path / "onnx")]),
        "outputs": sorted([converted, str(tmp_path / "convert.json")]),
        "files": {f"{converted}/{RECORD}": describe_files(converted, [RECORD])[RECORD]},
        "seal": seal_of(job_record),
    }  # fmt: skip

    inputs = {
        "converted/tensorrt_fp16": converted,
        "manifest": "missing",
        "reference": "missing.npz",
    }
    bench_path = str(tmp_path / "bench.json")
    spec = job(tmp_path, "benchmark_tensorrt", inputs, {"bench": bench_path})
    bench = run_adapter("benchmark.py", spec, blocked)
    assert bench.returncode == 0, (tmp_path / "benchmark.log").read_text()
    assert read_json(bench_path) == {
        "variant": "cnn", "format": "tensorrt_fp16", "status": "skipped",
        "reason": record["reason"], "size_bytes": None, "threads": 2,
    }  # fmt: skip


def test_the_blocker_stops_a_job_that_needs_tensorflow(tmp_path, blocked):
    """Negative control: a format that converts here does import TensorFlow, and fails."""
    converted = str(tmp_path / "tflite_fp32")
    write_json(tmp_path / "train.json", {"variant": "cnn", "seed": 0, "files": {}})
    inputs = {"source": str(tmp_path / "savedmodel"), "manifest": "missing/manifest.json"}
    spec = job(tmp_path, "convert", inputs, {"folder": converted})
    spec["wildcards"]["format"] = "tflite_fp32"
    assert run_adapter("convert.py", spec, blocked).returncode == 0
    record = read_json(Path(converted) / RECORD)
    assert record["status"] == "failed"
    assert "tensorflow imported by a skipped job" in record["reason"]


@pytest.mark.slow
def test_the_job_context_limits_tensorflow_without_importing_it(tmp_path):
    code = (
        "import os, sys\n"
        "from types import SimpleNamespace\n"
        "from tfedge.job import job\n"
        "with job(SimpleNamespace(threads=1, log=[sys.argv[1]], output=[])):\n"
        "    imported = 'tensorflow' in sys.modules\n"
        "    from tfedge.keras_env import tf\n"
        "    tf.matmul(tf.ones((64, 64)), tf.ones((64, 64))).numpy()\n"
        "tasks = [open(f'/proc/self/task/{task}/comm').read().strip()\n"
        "         for task in os.listdir('/proc/self/task')]\n"
        "print(imported, tasks.count('tf_Compute'))\n"  # the inter-op pool's threads
    )
    command = [sys.executable, "-c", code, str(tmp_path / "job.log")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "1"], result.stderr


TENSORFLOW = ["tensorflow", "tf_keras", "keras", "tensorflow_hub"]


@pytest.mark.slow  # the shared conversions fixture: 40 s, which the slow converter tests pay anyway
@pytest.mark.parametrize("fmt", ["onnx_fp16", "onnx_int8"])
def test_a_conversion_built_from_the_onnx_model_needs_no_tensorflow(
    fmt, conversions, tiny_mnist, tmp_path
):
    """Made with ONNX and ONNX Runtime alone; int8 calibration images are decoded without TF."""
    folder, _ = conversions
    blocked = import_blocker(tmp_path / "blocker", TENSORFLOW, "imported by an ONNX conversion")
    inputs = {"source": str(folder / "onnx"), "manifest": str(tiny_mnist)}
    spec = job(tmp_path, "convert", inputs, {"folder": str(tmp_path / fmt)})
    spec["wildcards"]["format"] = fmt
    spec["params"]["settings"] = {
        "calibration_images": 16, "float_first_convolution": True, "onnx_int8_float_share": 0.2,
    }  # fmt: skip
    result = run_adapter("convert.py", spec, blocked)
    assert result.returncode == 0, (tmp_path / "convert.log").read_text()[-3000:]
    record = read_json(tmp_path / fmt / RECORD)
    assert record["status"] == "ok", record["reason"]
    if fmt == "onnx_int8":  # nodes past the two up to the first Conv, ranked without TensorFlow
        details = record["details"]
        assert details["ranked_nodes"] > 0 and len(details["float_layers"]) > 2, details
