"""MobileNet and GoogLeNet/Inception side by side: size, compute and speed on this machine.

The papers quote parameters, multiply-accumulates (MACs) and ImageNet top-1 for their own
implementations; this module builds the same architectures untrained (``weights=None``, so
nothing is downloaded), counts their parameters and MACs from the Keras graph, and times them,
so the published trade-offs can be checked against what this machine measures.

Keras ships every network here except GoogLeNet (Inception v1), which ``build_googlenet``
writes from the paper's Table 1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from tfedge.bench import Clock, latency_stats, time_calls
from tfedge.keras_env import keras, tf
from tfedge.models import leaf_layers
from tfedge.stats import median_interval

layers = keras.layers

# GoogLeNet Table 1, inception 3a..5b:
# (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj); None marks a 3x3/2 max pool.
GOOGLENET_TABLE_1 = (
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    None,
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    None,
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
)


def _conv(x, filters: int, size: int, name: str, strides: int = 1):
    """Conv + ReLU: the paper puts a rectified linear unit after every convolution."""
    return layers.Conv2D(
        filters, size, strides=strides, padding="same", activation="relu", name=name
    )(x)


def _max_pool(x, name: str, strides: int = 2):
    return layers.MaxPooling2D(3, strides=strides, padding="same", name=name)(x)


def _inception(x, name: str, filters: tuple[int, ...]):
    """Four parallel branches over the same input, concatenated along channels.

    The 1x1 reductions before the 3x3 and 5x5 convolutions (and the projection after the pool)
    are what keep GoogLeNet's cost down: they shrink the channels the expensive kernels see.
    """
    ones, reduce3, threes, reduce5, fives, pool_proj = filters
    branch1 = _conv(x, ones, 1, f"{name}_1x1")
    branch3 = _conv(_conv(x, reduce3, 1, f"{name}_3x3_reduce"), threes, 3, f"{name}_3x3")
    branch5 = _conv(_conv(x, reduce5, 1, f"{name}_5x5_reduce"), fives, 5, f"{name}_5x5")
    pooled = _max_pool(x, f"{name}_pool", strides=1)
    branch_pool = _conv(pooled, pool_proj, 1, f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_output")([branch1, branch3, branch5, branch_pool])


def build_googlenet(input_shape=(224, 224, 3), num_classes: int = 1000) -> keras.Model:
    """GoogLeNet (Inception v1) as in Table 1 of Szegedy et al., arXiv:1409.4842.

    Two deliberate departures from the paper: the local response normalisation after the first
    pool and after the 3x3 conv is omitted (it has no weights, costs next to nothing, and later
    work dropped it in favour of batch norm), and the two auxiliary classifiers, which only help
    training, are left out. The classifier outputs logits (the paper's "linear" layer).
    """
    inputs = keras.Input(input_shape, name="image")
    x = _conv(inputs, 64, 7, "conv1_7x7", strides=2)
    x = _max_pool(x, "pool1")
    x = _conv(x, 64, 1, "conv2_3x3_reduce")
    x = _conv(x, 192, 3, "conv2_3x3")
    x = _max_pool(x, "pool2")
    pools = 2
    for row in GOOGLENET_TABLE_1:
        if row is None:
            pools += 1
            x = _max_pool(x, f"pool{pools}")
        else:
            x = _inception(x, f"inception_{row[0]}", row[1])
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(0.4, name="dropout")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="googlenet")


def _output_positions(layer) -> tuple[int, int]:
    """(output spatial positions, input channels) of a 2-D layer, in either data format."""
    shape = layer.output_shape
    spatial = shape[2:] if layer.data_format == "channels_first" else shape[1:-1]
    channel_axis = 1 if layer.data_format == "channels_first" else -1
    return math.prod(spatial), layer.input_shape[channel_axis]


def _kernel_area(layer) -> int:
    return math.prod(layer.kernel_size)


def _separable_macs(layer) -> int:
    positions, in_channels = _output_positions(layer)
    depthwise = in_channels * layer.depth_multiplier
    return positions * depthwise * (_kernel_area(layer) + layer.filters)


def _depthwise_macs(layer) -> int:
    positions, in_channels = _output_positions(layer)
    return positions * _kernel_area(layer) * in_channels * layer.depth_multiplier


def _transpose_macs(layer) -> int:
    """A transposed conv spreads every input position over the kernel, so count inputs."""
    channels_first = layer.data_format == "channels_first"
    shape = layer.input_shape
    positions = math.prod(shape[2:] if channels_first else shape[1:-1])
    in_channels = shape[1] if channels_first else shape[-1]
    return positions * _kernel_area(layer) * in_channels * layer.filters


def _conv_macs(layer) -> int:
    positions, in_channels = _output_positions(layer)
    return positions * _kernel_area(layer) * (in_channels // layer.groups) * layer.filters


def _dense_macs(layer) -> int:
    """in * out per position; a Dense on a sequence or a feature map applies at every one."""
    positions = math.prod(layer.output_shape[1:-1])
    return positions * layer.input_shape[-1] * layer.units


# Most specific type first: Separable/Depthwise/Transpose are Conv subclasses in Keras.
_MAC_RULES: tuple[tuple[type, Callable], ...] = (
    (layers.SeparableConv2D, _separable_macs),
    (layers.DepthwiseConv2D, _depthwise_macs),
    (layers.Conv2DTranspose, _transpose_macs),
    (layers.Conv2D, _conv_macs),
    (layers.Dense, _dense_macs),
)


def _layer_macs(layer) -> int:
    for kind, rule in _MAC_RULES:
        if isinstance(layer, kind):
            return rule(layer)
    return 0


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates of one image's forward pass, the papers' "mult-adds".

    Only the layers that do the arithmetic the papers count are included: Conv2D (grouped too),
    DepthwiseConv2D, SeparableConv2D, Conv2DTranspose and Dense. Batch norm, activations,
    pooling, additions, concatenation and squeeze-and-excite multiplies are elementwise and
    left out, as the papers leave them out; so are bias additions. Shapes come from the built
    graph, so the model must have a fixed input size.
    """
    return sum(_layer_macs(layer) for layer in leaf_layers(model))


def count_weighted_layers(model: keras.Model) -> int:
    """Layers that hold weights (convs, dense, batch norm), counted inside nested models too."""
    return sum(1 for layer in leaf_layers(model) if layer.weights)


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
