"""Model builders by config name. Each returns an uncompiled Keras model that outputs logits."""

from __future__ import annotations

from collections.abc import Callable

from tfedge.keras_env import keras
from tfedge.models.cnn import build_cnn
from tfedge.models.mlp import build_mlp

BUILDERS: dict[str, Callable[..., keras.Model]] = {"mlp": build_mlp, "cnn": build_cnn}


def build_model(variant: dict, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """The model a variant's config describes, for images of ``input_shape``."""
    return BUILDERS[variant["model"]](variant, input_shape, num_classes)


def layer_table(model: keras.Model) -> list[dict]:
    """Name, type, output shape and parameter count of each layer (the report's structure table)."""
    return [
        {
            "name": layer.name,
            "type": type(layer).__name__,
            "output_shape": str(layer.output_shape),
            "params": int(layer.count_params()),
        }
        for layer in model.layers
    ]
