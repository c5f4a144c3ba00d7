"""GoogLeNet (Inception v1), built from Table 1 of Szegedy et al., arXiv:1409.4842.

Keras ships MobileNet V1-V3 and Inception V3 but not GoogLeNet; the architectures comparison
(tfedge.architectures) builds this one untrained to measure it beside them.
"""

from __future__ import annotations

from tfedge.keras_env import keras

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
