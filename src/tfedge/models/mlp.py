"""The TF2 beginner quickstart's network, layer for layer."""

from tfedge.keras_env import keras


def build_mlp(variant: dict, input_shape: tuple, num_classes: int) -> keras.Model:
    """Flatten → Dense(128, relu) → Dropout(0.2) → Dense(10) logits, as in the tutorial."""
    return keras.Sequential(
        [
            keras.layers.Flatten(input_shape=input_shape),
            keras.layers.Dense(variant["hidden_units"], activation="relu"),
            keras.layers.Dropout(variant["dropout"]),
            keras.layers.Dense(num_classes),
        ],
        name="mlp",
    )
