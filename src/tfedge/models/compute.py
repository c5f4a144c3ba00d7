"""How much arithmetic a Keras model does per image: multiply-accumulates counted from its graph.

The papers' "mult-adds" (MobileNet, Inception) count the multiply-accumulates of convolutions
and dense layers; this module counts the same from the built graph, for the architectures
comparison and for the models tfedge trains (train.json's ``macs``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from tfedge.keras_env import keras
from tfedge.models import leaf_layers

layers = keras.layers


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


# Layers with weights that do no multiply-accumulates the papers count.
ELEMENTWISE = (layers.BatchNormalization, layers.LayerNormalization)


def counted_macs(model: keras.Model) -> int | None:
    """``count_macs``, or None when a layer with weights is opaque to it (a TF Hub layer)."""
    for layer in leaf_layers(model):
        known = any(isinstance(layer, kind) for kind, _ in _MAC_RULES)
        if layer.weights and not known and not isinstance(layer, ELEMENTWISE):
            return None
    return count_macs(model)
