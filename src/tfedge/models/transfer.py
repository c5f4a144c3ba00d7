"""Transfer learning: a pretrained backbone, then Dropout and a Dense classifier head.

The model is ``inputs in [0, 1] → backbone (its own input scaling inside) → head``. The
backbone is always called in inference mode, so its batch-normalisation statistics stay the
ImageNet ones even while fine-tuning (the Keras transfer-learning guide's advice). The head is a
model of its own so that a frozen backbone can be run once and the head trained on the cached
features (ARCHITECTURE.md §7).
"""

from __future__ import annotations

import logging
from pathlib import Path

from tfedge.keras_env import keras
from tfedge.models import leaf_layers
from tfedge.models.backbones import (
    FEATURE_LAYER,
    KERAS_APPLICATION_SCALING,
    BackboneChoice,
    keras_weights_file,
)

log = logging.getLogger(__name__)
HEAD_LAYER = "head"


def hub_feature_extractor(choice: BackboneChoice, inputs):
    """The hub module the download job copied (``choice.files``), as a frozen Keras layer."""
    import tensorflow_hub as hub

    layer = hub.KerasLayer(choice.files, trainable=False, name="hub_features")
    return layer(inputs)


def keras_application_extractor(choice: BackboneChoice, inputs):
    """keras.applications' network with the ImageNet weights the download job saved."""
    name = choice.keras_application
    scale, offset = KERAS_APPLICATION_SCALING[name]
    scaled = keras.layers.Rescaling(scale, offset, name="input_scaling")(inputs)
    weights = Path(choice.files) / keras_weights_file(inputs.shape[1])
    network = getattr(keras.applications, name)(
        include_top=False, weights=str(weights), pooling="avg", input_shape=inputs.shape[1:]
    )
    return network(scaled)


def bundled_extractor(inputs):
    from tfedge.models import efficientnet_lite

    scale = 255.0 / efficientnet_lite.STDDEV_RGB
    offset = -efficientnet_lite.MEAN_RGB / efficientnet_lite.STDDEV_RGB
    normalised = keras.layers.Rescaling(scale, offset, name="input_scaling")(inputs)
    network = efficientnet_lite.build_efficientnet_lite0(
        input_shape=tuple(inputs.shape[1:]), include_top=False, pooling="avg", weights="bundled"
    )
    return network(normalised)


def build_backbone(choice: BackboneChoice, image_size: int) -> keras.Model:
    """Images in [0, 1] → feature vector, frozen; named ``backbone`` inside the full model."""
    inputs = keras.Input((image_size, image_size, 3), name="backbone_input")
    if choice.source == "hub":
        features = hub_feature_extractor(choice, inputs)
    elif choice.source == "keras_applications":
        features = keras_application_extractor(choice, inputs)
    else:
        features = bundled_extractor(inputs)
    backbone = keras.Model(inputs, features, name=FEATURE_LAYER)
    backbone.trainable = False
    return backbone


def build_head(feature_dim: int, num_classes: int, dropout: float) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((feature_dim,), name="features"),
            keras.layers.Dropout(dropout, name="head_dropout"),
            keras.layers.Dense(num_classes, name="logits"),
        ],
        name=HEAD_LAYER,
    )


def build_transfer(
    variant: dict, input_shape: tuple, num_classes: int, backbone_choice: BackboneChoice
) -> keras.Model:
    if input_shape[-1] != 3:
        raise ValueError(
            f"a transfer variant needs RGB images; set channels: 3 for dataset {variant['dataset']}"
        )
    backbone = build_backbone(backbone_choice, input_shape[0])
    head = build_head(backbone.output_shape[-1], num_classes, variant["dropout"])
    inputs = keras.Input(input_shape, name="image")
    outputs = head(backbone(inputs, training=False))
    return keras.Model(inputs, outputs, name="transfer")


def set_backbone_trainable(model: keras.Model, unfreeze: bool, unfreeze_from: str | None) -> int:
    """Freeze the backbone, or unfreeze it from the first layer whose name starts with
    ``unfreeze_from``; returns how many backbone layers train.

    Batch normalisation stays frozen: its ImageNet statistics and scales are kept, so small
    fine-tuning batches cannot disturb them. A TF Hub backbone is one layer: it trains whole,
    its batch-norm scales too (its statistics stay: the backbone runs in inference mode).
    """
    backbone = model.get_layer(FEATURE_LAYER)
    backbone.trainable = unfreeze
    if not unfreeze:
        return 0
    layers = leaf_layers(backbone)
    for layer in layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    if unfreeze_from is not None:
        names = [layer.name for layer in layers]
        start = next((i for i, name in enumerate(names) if name.startswith(unfreeze_from)), None)
        if start is None:
            if len(layers) == 1:
                log.info("the backbone is one layer (TF Hub); unfreezing it whole")
                return 1
            raise ValueError(
                f"unfreeze_from: no backbone layer name starts with {unfreeze_from!r}; "
                f"layers are named e.g. {', '.join(names[:: max(1, len(names) // 12)])}"
            )
        for layer in layers[:start]:
            layer.trainable = False
    return sum(layer.trainable for layer in layers)
