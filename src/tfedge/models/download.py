"""The download_backbone job: one backbone's pretrained weights fetched (or found) under results/.

This is where ``source: auto`` decides, once, between the TF Hub module and the bundled
EfficientNet-Lite0, and where the network may be used. A hub handle that is a SavedModel
folder here or already in the TF Hub cache is copied without it; otherwise tensorflow_hub's
resolver downloads it (into ``TFHUB_CACHE_DIR``) when tfhub.dev answers. keras.applications
weights come from the Keras cache (~/.keras/models) or its download. The record
(``results/downloads/backbones/<name>.json``) says what was used and why, with the versions;
the job's own record lists every file's size and SHA-256. Train jobs build from the copy and
never open a connection.

A module whose signature fixes its input size is checked here against the image size of every
variant that uses it, so a mismatch stops the run before any training job starts.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from tfedge.models.backbones import BUNDLED, BackboneUnavailable, keras_weights_file
from tfedge.network import download_hosts, host_reachable

log = logging.getLogger(__name__)


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


def choose_source(settings: dict) -> tuple[str, str]:
    """(the source a backbone's settings resolve to, and why): ``auto`` takes the hub handle
    when it is here, cached or its host answers, else the bundled network."""
    source, handle = settings["source"], settings["hub_handle"]
    if source == "hub":
        return "hub", f"hub handle {handle}"
    if source == "keras_applications":
        return source, f"keras.applications.{settings['keras_application']}, ImageNet weights"
    place = hub_offline_place(handle)
    if place:
        return "hub", f"auto: {place}"
    timeout = settings["probe_timeout_s"]
    host = handle_host(handle)
    if host and host_reachable(host, timeout):
        return "hub", f"auto: {host[0]} answered within {timeout} s"
    missing = f"{host[0]} did not answer within {timeout} s" if host else "it is not a URL"
    return BUNDLED, (
        f"auto fell back to the bundled EfficientNet-Lite0: {handle} is not cached and {missing}"
    )


def handle_host(handle: str) -> tuple[str, int] | None:
    """(host, port) a URL handle is fetched from (tfhub.dev for the default, which forwards
    to Kaggle's storage); None for a path."""
    hosts = download_hosts([handle])
    return hosts[0] if hosts and hosts[0][0] else None


def module_input_size(module: Path) -> tuple[int, int] | None:
    """(height, width) a SavedModel's call signature fixes for its images; None when it takes
    any size."""
    from tfedge.keras_env import tf

    sizes = set()
    for function in tf.saved_model.load(str(module)).__call__.concrete_functions:
        images = function.structured_input_signature[0][0]
        sizes.add(tuple(images.shape[1:3]))
    fixed = [size for size in sizes if None not in size]
    return fixed[0] if len(fixed) == len(sizes) == 1 else None


def check_input_size(name: str, handle: str, fixed: tuple[int, int], image_sizes: dict) -> None:
    """Every dataset the backbone sees must have the module's fixed size; else name both."""
    height, width = fixed
    wrong = {dataset: size for dataset, size in image_sizes.items() if (size, size) != fixed}
    if wrong:
        found = ", ".join(
            f"datasets.{dataset}.image_size is {size}" for dataset, size in wrong.items()
        )
        raise BackboneUnavailable(
            f"backbones.{name}: the module {handle} takes {height}×{width} images only, but "
            f"{found}: set image_size: {height} there, or choose a hub_handle whose module "
            "takes any size (or source efficientnet_lite0_bundled, which does)"
        )


def fetch_hub_module(name: str, handle: str, image_sizes: dict, folder: Path) -> None:
    """Copy the module (resolved, and downloaded if need be, by tensorflow_hub) into
    ``folder`` and check its input size."""
    import tensorflow_hub as hub

    try:
        module = hub.resolve(handle)
    except Exception as error:
        raise BackboneUnavailable(
            f"backbones.{name}: cannot fetch TF Hub handle {handle!r} ({error}); download it "
            "where the network allows and set TFHUB_CACHE_DIR, point hub_handle at a local "
            "SavedModel folder, or use source auto or efficientnet_lite0_bundled"
        ) from error
    log.info("copying the module of %s from %s", handle, module)
    shutil.copytree(module, folder, dirs_exist_ok=True)
    fixed = module_input_size(folder)
    if fixed:
        check_input_size(name, handle, fixed, image_sizes)


def fetch_keras_weights(name: str, application: str, image_sizes: dict, folder: Path) -> None:
    """keras.applications' ImageNet weights at each image size used (MobileNets have one file
    per input size), built once through Keras' own cache and download, saved in ``folder``."""
    from tfedge.keras_env import keras

    for size in sorted(set(image_sizes.values())):
        try:
            network = getattr(keras.applications, application)(
                include_top=False, weights="imagenet", pooling="avg", input_shape=(size, size, 3)
            )
        except Exception as error:
            raise BackboneUnavailable(
                f"backbones.{name}: keras.applications.{application} ImageNet weights are neither "
                f"in ~/.keras/models nor downloadable ({error}); copy them there or use source auto"
            ) from error
        network.save_weights(str(folder / keras_weights_file(size)))


def fetch_backbone(name: str, settings: dict, image_sizes: dict, folder: str | Path) -> dict:
    """Fetch backbone ``name`` into ``folder`` for datasets of ``image_sizes`` ({dataset: px});
    returns the record. A fallback to the bundled network leaves ``folder`` empty."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    source, reason = choose_source(settings)
    application = settings["keras_application"]
    if source == BUNDLED:
        log.warning("backbones.%s: %s", name, reason)
    elif source == "hub":
        fetch_hub_module(name, settings["hub_handle"], image_sizes, folder)
    else:
        fetch_keras_weights(name, application, image_sizes, folder)
    return {
        "backbone": name,
        "source_requested": settings["source"],
        "source_used": source,
        "reason": reason,
        "hub_handle": settings["hub_handle"] if source == "hub" else None,
        "keras_application": settings["keras_application"]
        if source == "keras_applications"
        else None,
        "versions": library_versions(source),
        "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def library_versions(source: str) -> dict:
    """The version of the library that fetched the weights (they may change with it)."""
    if source == "hub":
        import tensorflow_hub as hub

        return {"tensorflow_hub": hub.__version__}
    if source == "keras_applications":
        from tfedge.keras_env import keras

        return {"tf_keras": keras.__version__}
    return {}
