"""The one entry of every Snakemake adapter (scripts/*.py): a job's setup, in one place.

``with job(snakemake):`` gives TensorFlow the job's threads (and a training job's memory cap)
before anything imports it, turns usage statistics off (OpenVINO, NNCF, MLflow), sends
everything the job prints to its Snakemake log (TensorFlow's C++ logging included), and logs a
failure with its traceback. Both limits are environment variables that TensorFlow reads when it
starts, so the library itself sets nothing process-wide, and processes the job starts (tf2onnx,
a training attempt) inherit them. No TensorFlow here: a job that has nothing to do (a format
skipped here) never loads it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from tfedge.files import write_json
from tfedge.integrity import output_files, sealed
from tfedge.paths import RESULTS

CPU_MEMORY_LIMIT = "TF_CPU_BFC_MEM_LIMIT_IN_MB"
RESULTS_FOLDER = f"{RESULTS}/"
OPENVINO_STATISTICS = "openvino_telemetry"  # the package OpenVINO's converter and NNCF send with
MLFLOW_STATISTICS_OFF = "MLFLOW_DISABLE_TELEMETRY"


def inter_op_threads(threads: int) -> int:
    """TensorFlow's inter-op pool: two independent ops at most, never more than the cores."""
    return max(1, min(2, threads))


def limit_threads(threads: int) -> None:
    """Give TensorFlow the job's cores and no more: intra-op ``threads``, inter-op up to 2."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(inter_op_threads(threads))


def limit_memory(memory_mb: int | None) -> None:
    """Cap TensorFlow's CPU allocator at ``memory_mb`` (a variant's memory_limit_mb; None: no cap).

    The allocator (BFC, see keras_env) reads the cap once, when TensorFlow's runtime starts,
    and then refuses what does not fit, so the batch back-off happens at a known size. On a
    GPU machine it caps the host's allocator too; ``keras_env.cap_memory`` caps the GPUs.
    """
    if memory_mb is not None:
        os.environ[CPU_MEMORY_LIMIT] = str(memory_mb)


def decline_usage_statistics() -> None:
    """Keep OpenVINO's converter, NNCF and MLflow from sending usage statistics.

    Each would write into the user's home and open a connection, from a job that must write
    only its outputs and, unless it downloads, reach no network. OpenVINO's converter and NNCF
    report through openvino_telemetry, which takes a missing consent file for consent
    (``~/intel/openvino_ga_cid``); its own opt-out writes a consent file into the home, so the
    job makes the package unimportable (``None`` in ``sys.modules``) and both libraries fall
    back to the no-op stubs they ship for when it is not installed. MLflow (tracking) reads
    ``MLFLOW_DISABLE_TELEMETRY`` (otherwise ``~/.config/mlflow/telemetry.json``).
    """
    sys.modules.setdefault(OPENVINO_STATISTICS, None)
    os.environ[MLFLOW_STATISTICS_OFF] = "true"


def log_to_stderr() -> None:
    """Log at INFO level, with times, to standard error (a job's log file once redirected)."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )


@contextlib.contextmanager
def logged_to(path: str) -> Iterator[None]:
    """Redirect file descriptors 1 and 2 to ``path`` and log at INFO level there.

    Redirecting the descriptors (not just ``sys.stdout``) also captures what TensorFlow's
    native code and child processes write, which would otherwise clutter Snakemake's console.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a", buffering=1) as stream:
        os.dup2(stream.fileno(), 1)
        os.dup2(stream.fileno(), 2)
        log_to_stderr()
        try:
            yield
        except BaseException:
            logging.getLogger("tfedge").exception("job failed")
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for descriptor in saved:
                os.close(descriptor)


def results_path(path: str) -> str:
    """A file as the workflow names it, ``results/…``, also where storage staged it elsewhere."""
    start = path.find(RESULTS_FOLDER)
    return path[start:] if start >= 0 else path


def job_record(snakemake: Any) -> dict:
    """What the job read and wrote, as its rule declares, with the size and SHA-256 of every
    file it wrote, sealed (tfedge.integrity). The report's longest chain of jobs follows these,
    so it never restates the DAG, and planning checks the results against them."""
    outputs = {results_path(str(path)): str(path) for path in snakemake.output}
    return sealed(
        {
            "rule": snakemake.rule,
            "inputs": sorted({results_path(str(path)) for path in snakemake.input}),
            "outputs": sorted(outputs),
            "files": output_files(outputs, skip=results_path(str(snakemake.output.job))),
        }
    )


@contextlib.contextmanager
def job(snakemake: Any, memory_mb: int | None = None) -> Iterator[None]:
    """Set up the job Snakemake hands a script: its threads, memory cap and log; when it
    succeeds, write its record (the rule's output named ``job``)."""
    limit_threads(snakemake.threads)
    limit_memory(memory_mb)
    decline_usage_statistics()
    with logged_to(snakemake.log[0]):
        yield
        if hasattr(snakemake.output, "job"):
            write_json(snakemake.output.job, job_record(snakemake))
