"""A small VGG-style convolutional net built to beat the quickstart MLP on MNIST.

Each block is two 3x3 convolutions with batch normalisation, then 2x2 max-pooling and
dropout; a Dense layer and dropout lead to the logits. With [32, 64] filters it has about
0.4M parameters; with augmentation in the input pipeline it reaches the high 99s on MNIST.
"""

from tfedge.keras_env import keras

# Keras's default 0.99 needs thousands of steps before the moving statistics that inference
# uses catch up; 0.9 settles within an epoch of a few thousand images.
BN_MOMENTUM = 0.9


def conv_block(x, filters: int, convolutions: int, dropout: float, index: int):
    for repeat in range(convolutions):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=False, name=f"conv{index}_{repeat}"
        )(x)
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{index}_{repeat}")(x)
        x = keras.layers.ReLU(name=f"relu{index}_{repeat}")(x)
    x = keras.layers.MaxPooling2D(name=f"pool{index}")(x)
    return keras.layers.Dropout(dropout, name=f"drop{index}")(x)


def build_cnn(variant: dict, input_shape: tuple, num_classes: int) -> keras.Model:
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for index, filters in enumerate(variant["filters"]):
        x = conv_block(x, filters, variant["convolutions_per_block"], variant["dropout"], index)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(variant["dense_units"], use_bias=False, name="dense")(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name="bn_dense")(x)
    x = keras.layers.ReLU(name="relu_dense")(x)
    x = keras.layers.Dropout(variant["dropout"], name="drop_dense")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="cnn")
