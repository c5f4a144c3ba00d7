"""The one place TensorFlow and Keras are imported.

DESIGN decision 1: tfedge uses Keras 2 (``tf_keras``) because TF Hub's ``KerasLayer`` and
tf2onnx do not work with Keras 3. ``TF_USE_LEGACY_KERAS`` must be set before TensorFlow is
first imported, so every module that needs TF imports it from here.
"""

import logging
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow's default CPU allocator hands every large tensor back to the OS and faults it in
# again for the next batch: evaluating 1,000 images at 224 px spent more time in the kernel
# doing that than in the model. The BFC allocator keeps and reuses its memory; results are
# bit for bit the same.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

__all__ = ["tf", "keras", "use_threads"]


def use_threads(threads: int) -> None:
    """Give TensorFlow the job's cores and no more, so parallel jobs do not oversubscribe.

    TensorFlow fixes its thread pools when it first runs an op; a process that already did
    (a test session, a notebook) keeps its pools, with a warning.
    """
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, threads)))
    except RuntimeError:
        logging.getLogger(__name__).warning(
            "TensorFlow is already running; keeping its thread pools instead of %d threads",
            threads,
        )
