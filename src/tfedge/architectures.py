"""MobileNet and GoogLeNet/Inception side by side: size, compute and speed on this machine.

The papers quote parameters, multiply-accumulates (MACs) and ImageNet top-1 for their own
implementations; this module builds the same architectures untrained (``weights=None``, so
nothing is downloaded), counts their parameters and MACs from the Keras graph, and times them,
so the published trade-offs can be checked against what this machine measures.

Keras ships every network here except GoogLeNet (Inception v1), which
tfedge.models.googlenet writes from the paper's Table 1; tfedge.models.compute counts MACs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from tfedge.bench import Clock, latency_stats, time_calls
from tfedge.keras_env import keras, tf
from tfedge.models.compute import count_macs, count_weighted_layers
from tfedge.models.googlenet import build_googlenet
from tfedge.stats import median_interval


@dataclass(frozen=True)
class Published:
    """What a paper reports for its own model: the reference the measurements are set against."""

    params: int
    macs: int
    top1: float
    citation: str


@dataclass(frozen=True)
class Architecture:
    builder: Callable[[], keras.Model]
    input_size: int
    published: Published


def _keras_application(name: str, size: int) -> Callable[[], keras.Model]:
    """A builder for an untrained keras.applications network with its ImageNet classifier."""

    def build() -> keras.Model:
        application = getattr(keras.applications, name)
        return application(input_shape=(size, size, 3), weights=None, include_top=True)

    return build


ARCHITECTURES: dict[str, Architecture] = {
    "mobilenet_v1": Architecture(
        _keras_application("MobileNet", 224),
        224,
        Published(4_200_000, 569_000_000, 70.6, "Howard et al., arXiv:1704.04861, Table 8"),
    ),
    "mobilenet_v2": Architecture(
        _keras_application("MobileNetV2", 224),
        224,
        Published(3_400_000, 300_000_000, 72.0, "Sandler et al., arXiv:1801.04381, Table 4"),
    ),
    "mobilenet_v3_small": Architecture(
        _keras_application("MobileNetV3Small", 224),
        224,
        Published(2_500_000, 56_000_000, 67.4, "Howard et al., arXiv:1905.02244, Table 3"),
    ),
    "mobilenet_v3_large": Architecture(
        _keras_application("MobileNetV3Large", 224),
        224,
        Published(
            5_400_000,
            217_000_000,
            75.2,
            "Howard et al., arXiv:1905.02244, Table 3 (217M MACs as tabulated by "
            "tensorflow/models and the Keras docs)",
        ),
    ),
    "googlenet": Architecture(
        build_googlenet,
        224,
        Published(
            6_800_000,
            1_550_000_000,
            69.8,
            "Szegedy et al., arXiv:1409.4842, as tabulated in Howard et al., arXiv:1704.04861, "
            "Table 8",
        ),
    ),
    "inception_v3": Architecture(
        _keras_application("InceptionV3", 299),
        299,
        Published(
            23_900_000,
            5_700_000_000,
            78.8,
            "Szegedy et al., arXiv:1512.00567 (21.2% single-crop top-1 error); 23.9M "
            "parameters as tabulated by the Keras docs",
        ),
    ),
}


def _forward_graph(model: keras.Model, size: int):
    """The batch-1 forward pass traced once: what is timed and what LiteRT converts."""
    spec = tf.TensorSpec((1, size, size, 3), tf.float32)
    return tf.function(lambda images: model(images, training=False)).get_concrete_function(spec)


def _latency(forward, size: int, repeats: int, warmup: int, clock: Clock) -> dict:
    """Median batch-1 latency of the graph-compiled forward pass, the way a server calls it.

    With its 95 % bootstrap interval: the precision the timed calls give the median. The
    timings cost a few seconds of the job (building and converting cost the rest), so the
    configured count stays fixed and the precision is stated rather than aimed for.
    """
    image = tf.zeros((1, size, size, 3), tf.float32)
    durations = time_calls(lambda: forward(image).numpy(), warmup, repeats, clock)
    stats = latency_stats(durations)
    return {
        "latency_p50_ms": stats["p50_ms"],
        "latency_p50_interval_ms": median_interval(stats["samples_ms"]),
    }


def _tflite_fp32_bytes(forward) -> int:
    """Size of the fp32 LiteRT flatbuffer: what an edge device would have to store and load.

    Converted from the traced graph, not through ``from_keras_model``: that path first saves
    the model as a SavedModel, tracing every layer for serialisation, which took 24 of the
    26 s per MobileNetV2 (45 s for Inception v3). The flatbuffer is the same graph and
    weights; only about 200 bytes of SavedModel signature metadata differ.
    """
    return len(tf.lite.TFLiteConverter.from_concrete_functions([forward]).convert())


def measure(name: str, repeats: int, warmup: int, clock: Clock = time.perf_counter) -> dict:
    """Build ``name`` untrained and measure its size, compute and batch-1 speed here."""
    spec = ARCHITECTURES[name]
    model = spec.builder()
    forward = _forward_graph(model, spec.input_size)
    return {
        "name": name,
        "input_size": spec.input_size,
        "params": int(model.count_params()),
        "macs": count_macs(model),
        "layers": count_weighted_layers(model),
        **_latency(forward, spec.input_size, repeats, warmup, clock),
        "tflite_fp32_bytes": _tflite_fp32_bytes(forward),
        "published": asdict(spec.published),
    }


def measure_all(names, repeats: int, warmup: int) -> list[dict]:
    """``measure`` each name in turn, freeing the previous graph so memory stays flat."""
    results = []
    for name in names:
        results.append(measure(name, repeats, warmup))
        keras.backend.clear_session()
    return results
