"""The job context of every adapter: its log, and its cores and memory cap for TensorFlow.

The cores and the cap are environment variables TensorFlow reads when it starts, so they are
set here, before TF loads.

Sends everything a job prints, TensorFlow's C++ logging included, to its Snakemake log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator


def limit_threads(threads: int) -> None:
    """Give TensorFlow the job's cores and no more, without importing it.

    TensorFlow reads these variables when it creates its thread pools, so a job that never
    needs TensorFlow (a format that cannot run here) does not pay seconds to import it only
    to set them; subprocesses (tf2onnx) inherit them too. Same split as ``use_threads``.
    """
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(max(1, min(2, threads)))


CPU_MEMORY_LIMIT = "TF_CPU_BFC_MEM_LIMIT_IN_MB"


def limit_memory(memory_mb: int | None) -> None:
    """Cap TensorFlow's CPU allocator at ``memory_mb`` (a variant's memory_limit_mb; None: no cap).

    The allocator (BFC, see keras_env) reads the cap once, when TensorFlow's runtime starts,
    and then raises ResourceExhaustedError for what does not fit, so the batch back-off
    happens at a known size. On a GPU machine it caps the host's allocator too;
    ``keras_env.cap_memory`` caps the GPUs.
    """
    if memory_mb is not None:
        os.environ[CPU_MEMORY_LIMIT] = str(memory_mb)


def log_to_stderr() -> None:
    """Log at INFO level, with times, to standard error (a job's log file once redirected)."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )


@contextlib.contextmanager
def job_log(path: str, threads: int | None = None, memory_mb: int | None = None) -> Iterator[None]:
    """Redirect file descriptors 1 and 2 to ``path`` and log at INFO level there.

    Redirecting the descriptors (not just ``sys.stdout``) also captures what TensorFlow's
    native code writes, which would otherwise clutter the Snakemake console. With
    ``threads``, TensorFlow gets that many cores (``limit_threads``); with ``memory_mb``, that
    much memory (``limit_memory``).
    """
    if threads is not None:
        limit_threads(threads)
    limit_memory(memory_mb)
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
