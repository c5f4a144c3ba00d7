"""Model builders by config name. Each returns an uncompiled Keras model that outputs logits."""

from __future__ import annotations

from tfedge.keras_env import keras
from tfedge.models.backbones import BackboneChoice
from tfedge.models.cnn import build_cnn
from tfedge.models.mlp import build_mlp

BUILDERS = {"mlp": build_mlp, "cnn": build_cnn}


def build_model(
    variant: dict,
    input_shape: tuple[int, int, int],
    num_classes: int,
    backbone: BackboneChoice | None = None,
) -> keras.Model:
    """The model a variant's config describes, for images of ``input_shape``."""
    if variant["model"] == "transfer":
        from tfedge.models.transfer import build_transfer

        return build_transfer(variant, input_shape, num_classes, backbone)
    return BUILDERS[variant["model"]](variant, input_shape, num_classes)


def load_model(path: str, hub_module: str | None = None) -> keras.Model:
    """Load a saved ``.keras`` model, TF Hub layers included.

    A hub layer's config names the module folder where the saving job had it; ``hub_module``
    is where this job has the same module (its own staged input), and replaces it.
    """
    import tensorflow_hub as hub

    class StagedHubLayer(hub.KerasLayer):
        @classmethod
        def from_config(cls, config: dict) -> hub.KerasLayer:
            return hub.KerasLayer(**{**config, "handle": hub_module or config["handle"]})

    return keras.models.load_model(path, custom_objects={"KerasLayer": StagedHubLayer})


def leaf_layers(model: keras.Model) -> list:
    """Every non-container layer inside ``model``, in order (nested models flattened)."""
    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            layers += leaf_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            layers.append(layer)
    return layers


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
