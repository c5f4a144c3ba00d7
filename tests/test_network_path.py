"""The shipped config's shape on the path users with a network take: source auto everywhere,
TFDS's and TF Hub's caches filled as their downloads fill them (tests/download_caches.py),
and every Internet socket refused in every process but the two download jobs' scripts. The
run goes download → prepare → frozen → fine-tuned → every CPU format → report.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tfedge import paths
from tfedge.files import read_json

from .download_caches import fill_tfds_downloads, hub_stand_in
from .helpers import ROOT
from .snakemake_runs import copy_workflow, snakemake

pytestmark = [pytest.mark.slow, pytest.mark.workflow]

DOWNLOAD_SCRIPTS = ("download_data.py", "download_backbone.py")

# Written as sitecustomize.py on PYTHONPATH: every Python process the run starts imports it.
NETWORK_GUARD = f"""
import os, socket, sys
from pathlib import Path

_scripts = [Path(arg).name for arg in sys.orig_argv[1:] if arg.endswith(".py")]
_name = _scripts[0] if _scripts else " ".join(sys.orig_argv[1:3])
_allowed = _name.endswith({DOWNLOAD_SCRIPTS!r})
with open(os.environ["NETWORK_GUARD_LOG"], "a") as _log:
    _log.write(f"{{'allowed' if _allowed else 'refused'}} {{_name}}\\n")
if not _allowed:
    _connect = socket.socket.connect

    def _refuse(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"{{_name}} is not a download job: no network here")
        return _connect(self, address)

    socket.socket.connect = _refuse
"""


def guarded_env(folder: Path, **variables: str) -> dict:
    """The environment of a run whose processes may open Internet sockets only in the
    download jobs; each process logs to NETWORK_GUARD_LOG whether it may."""
    import os

    (folder / "guard").mkdir()
    (folder / "guard" / "sitecustomize.py").write_text(NETWORK_GUARD)
    search_path = [str(folder / "guard"), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(search_path),
        "NETWORK_GUARD_LOG": str(folder / "guard.log"),
        **variables,
    }


def test_the_guard_refuses_every_process_but_a_download_jobs(tmp_path):
    """The guard itself: a listening port here is refused to a job's script and reached from
    a download job's (as Snakemake names its copy of the script)."""
    env = guarded_env(tmp_path)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        probe = f"import socket; socket.create_connection({server.getsockname()!r}, timeout=5)"
        outcomes = {}
        for script in ("tmp1a2b.train.py", "tmp3c4d.download_data.py"):
            (tmp_path / script).write_text(probe)
            result = subprocess.run(
                [sys.executable, str(tmp_path / script)], env=env, capture_output=True, text=True
            )
            outcomes[script] = result.returncode == 0 or result.stderr[-200:]
    assert outcomes["tmp3c4d.download_data.py"] is True
    assert "tmp1a2b.train.py is not a download job" in outcomes["tmp1a2b.train.py"]


def shipped_shape(data_dir: Path) -> dict:
    """config.yaml with its datasets, backbone, variants and formats, made small: source auto
    everywhere, few images and epochs; 224 px for the flowers, which the hub module needs."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for dataset in config["datasets"].values():
        assert dataset["source"] == "auto"
        dataset.update(data_dir=str(data_dir), max_per_class=20)
    config["datasets"]["mnist"]["validation_fraction"] = 0.002  # 120 of MNIST's 60,000
    variants = config["variants"]
    for variant in variants.values():
        variant["epochs"] = 1
    variants["cnn"].update(filters=[8, 16], dense_units=16)
    for name in ("mobilenet_frozen", "mobilenet_finetuned"):
        variants[name]["batch_size"] = 16
    config["convert"].update(
        variants=["mobilenet_finetuned"], calibration_images=16, tensorrt={"opt_batch": 4}
    )
    config["benchmark"].update(warmup=1, repeats=5, throughput_batch=4, throughput_repeats=1)
    config["architectures"].update(models=["mobilenet_v2"], warmup=1, repeats=3)
    return config


def test_auto_everywhere_on_filled_caches_runs_with_the_network_only_in_download_jobs(
    tmp_path,
):
    data_dir = tmp_path / "tensorflow_datasets"
    fill_tfds_downloads(data_dir, flowers_per_class=16)
    config = shipped_shape(data_dir)
    handle = config["backbones"]["mobilenet_v2"]["hub_handle"]
    module = hub_stand_in(tmp_path / "tfhub_modules", handle)
    (tmp_path / "workflow").mkdir()
    workdir = copy_workflow(tmp_path / "workflow", config)
    env = guarded_env(tmp_path, TFHUB_CACHE_DIR=str(tmp_path / "tfhub_modules"))

    result = snakemake(workdir, "--cores", "2", "report", env=env)
    assert result.returncode == 0, result.stderr[-5000:]

    for name in ("mnist", "flowers"):
        record = read_json(workdir / paths.dataset_download(name))
        assert record["source_used"] == "tfds", record
        assert record["reason"] == (
            f"auto: the downloads of TFDS {record['tfds_name']!r} are in {data_dir / 'downloads'}"
        )
    backbone = read_json(workdir / paths.backbone_download("mobilenet_v2"))
    assert backbone["source_used"] == "hub"
    assert backbone["reason"] == f"auto: {handle} is in the TF Hub cache at {module}"
    for variant in ("mobilenet_frozen", "mobilenet_finetuned"):
        summary = read_json(workdir / paths.model_file(variant, 0, "train.json"))
        assert summary["source_used"] == "tfds" and summary["backbone"]["source"] == "hub"
    cpu_formats = paths.timed_together(config)
    bench = read_json(workdir / paths.bench("mobilenet_finetuned", "onnx_int8"))
    assert bench["status"] == "ok", bench
    assert {
        fmt
        for fmt in cpu_formats
        if read_json(workdir / paths.bench("mobilenet_finetuned", fmt))["status"] == "ok"
    } == set(cpu_formats)

    report = (workdir / paths.report()).read_text()
    assert "offline-banner" not in report
    assert "auto: the downloads of TFDS &#39;tf_flowers&#39;" in report
    assert f"auto: {handle} is in the TF Hub cache" in report

    guard = (tmp_path / "guard.log").read_text().splitlines()
    allowed = {line.split(" ", 1)[1] for line in guard if line.startswith("allowed")}
    refused = {line.split(" ", 1)[1] for line in guard if line.startswith("refused")}
    assert {name.rsplit(".", 2)[-2] for name in allowed} == {"download_data", "download_backbone"}
    for job_script in ("prepare_data", "train", "evaluate", "convert", "benchmark", "report"):
        assert any(name.endswith(f".{job_script}.py") for name in refused), (job_script, refused)
