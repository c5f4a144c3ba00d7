"""The one place TensorFlow and Keras are imported.

ARCHITECTURE.md §4: tfedge uses Keras 2 (``tf_keras``) because TF Hub's ``KerasLayer`` and
tf2onnx do not work with Keras 3. ``TF_USE_LEGACY_KERAS`` must be set before TensorFlow is
first imported, so every module that needs TF imports it from here.
"""

import contextlib
import logging
import os

from tfedge.job import CPU_MEMORY_LIMIT

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow's default CPU allocator hands every large tensor back to the OS and faults it in
# again for the next batch: evaluating 1,000 images at 224 px spent more time in the kernel
# doing that than in the model. The BFC allocator keeps and reuses its memory; results are
# bit for bit the same. It also keeps peak statistics and enforces a cap (memory_limit_mb).
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

__all__ = ["tf", "keras", "cap_memory", "reset_peak_memory", "peak_memory_mb"]

log = logging.getLogger(__name__)


def cap_memory(memory_mb: int | None) -> None:
    """Cap each GPU at ``memory_mb``, and warn when the CPU allocator did not get that cap.

    A GPU's cap is a logical device configuration, which TensorFlow accepts only before it
    initialises the GPU. The CPU's cap is an environment variable read when TensorFlow starts
    (``tfedge.job.limit_memory``, which the train job calls before importing TensorFlow); a
    process that started TensorFlow without it (a test session) keeps its allocator.
    """
    if memory_mb is None:
        return
    gpus = tf.config.list_physical_devices("GPU")
    try:
        for gpu in gpus:
            limit = tf.config.LogicalDeviceConfiguration(memory_limit=memory_mb)
            tf.config.set_logical_device_configuration(gpu, [limit])
    except RuntimeError:
        log.warning(
            "TensorFlow has initialised its GPUs; keeping their memory instead of %d MB", memory_mb
        )
    started_with = os.environ.get(CPU_MEMORY_LIMIT)
    if not gpus and started_with != str(memory_mb):
        log.warning(
            "TensorFlow started with %s=%s, so its CPU allocator keeps that cap instead of %d MB "
            "(tfedge.job.limit_memory sets it before TensorFlow loads)",
            CPU_MEMORY_LIMIT,
            started_with or "(unset)",
            memory_mb,
        )


def memory_device() -> str:
    """Where training tensors live: the first GPU, else the CPU."""
    return "GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0"


def reset_peak_memory() -> None:
    """Start measuring ``peak_memory_mb`` afresh (nothing to reset without allocator statistics)."""
    with contextlib.suppress(ValueError):
        tf.config.experimental.reset_memory_stats(memory_device())


def peak_memory_mb() -> float | None:
    """The most TensorFlow's allocator held since ``reset_peak_memory``, in MiB.

    None when the allocator keeps no statistics (the CPU's default one, without BFC).
    """
    try:
        return tf.config.experimental.get_memory_info(memory_device())["peak"] / 2**20
    except ValueError:
        return None
