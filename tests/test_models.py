"""Model builders: the quickstart MLP exactly as the tutorial has it, and the CNN."""

from __future__ import annotations

import numpy as np

from .helpers import variant_settings


def test_mlp_is_the_tf2_quickstart_network():
    from tfedge.keras_env import keras
    from tfedge.models import build_model

    model = build_model(variant_settings("mlp_baseline"), (28, 28, 1), 10)
    layers = model.layers
    assert [type(layer).__name__ for layer in layers] == ["Flatten", "Dense", "Dropout", "Dense"]
    assert layers[1].units == 128 and layers[1].activation is keras.activations.relu
    assert layers[2].rate == 0.2
    assert layers[3].units == 10 and layers[3].activation is keras.activations.linear
    assert model.count_params() == 784 * 128 + 128 + 128 * 10 + 10  # 101,770 as in the tutorial


def test_cnn_outputs_logits_for_each_class_and_follows_its_config():
    from tfedge.models import build_model, layer_table

    variant = variant_settings("cnn", filters=[4, 8, 16], dense_units=12)
    model = build_model(variant, (28, 28, 1), 7)
    assert model.output_shape == (None, 7)
    convolutions = [layer.filters for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert convolutions == [4, 4, 8, 8, 16, 16]
    table = layer_table(model)
    assert sum(row["params"] for row in table) == model.count_params()
    logits = model(np.random.default_rng(0).random((3, 28, 28, 1), np.float32), training=False)
    assert logits.shape == (3, 7)
