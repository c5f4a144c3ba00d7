"""TFDS's and TF Hub's own caches, filled as their downloads would fill them, for tests that
run the network path without a network (tests/test_download_caches.py, test_network_path.py).

- TFDS: files made here in exactly the layout each builder downloads (tf_flowers' archive of
  class folders, MNIST's four idx files with the counts the builder reads), placed where
  TFDS's download manager keeps a finished download (``downloads/<get_dl_fname(url,
  checksum)>`` with its ``.INFO``). The builder extracts them and generates its examples.
- TF Hub: the bundled EfficientNet-Lite0, exported as a TF2 SavedModel at 224 px, in
  ``$TFHUB_CACHE_DIR/<sha1 of the handle>``, where tensorflow_hub's resolver looks first.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

FLOWER_CLASSES = ("daisy", "dandelion", "roses", "sunflowers", "tulips")
MNIST_COUNTS = {"train": 60_000, "t10k": 10_000}  # what the builder reads from each idx file


def place_finished_download(data_dir: Path, dataset: str, url: str, payload: bytes) -> None:
    """Put ``payload`` where TFDS's download manager finds ``url`` already downloaded."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download import resource

    info = tfds.builder_cls(dataset).url_infos[url]
    path = data_dir / "downloads" / resource.get_dl_fname(url, info.checksum)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    name = url.rsplit("/", 1)[1]
    resource.write_info_file(
        url=url, path=path, dataset_name=dataset, original_fname=name, url_info=info
    )


def jpeg(seed: int, size: tuple[int, int] = (24, 32)) -> bytes:
    """A JPEG of ``size`` (height, width): 24×32 random colours, scaled up."""
    pixels = np.random.default_rng(seed).integers(0, 256, (24, 32, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).resize(size[::-1]).save(buffer, "JPEG")
    return buffer.getvalue()


def flower_photos(
    per_class: int | dict[str, int], size: tuple[int, int] = (24, 32)
) -> tuple[bytes, set[bytes]]:
    """flower_photos.tgz as download.tensorflow.org serves it (a folder per class and a
    LICENSE.txt), and the JPEG files in it: ``per_class`` photos of ``size`` in each class
    (a number, or one per class)."""
    counts = per_class if isinstance(per_class, dict) else dict.fromkeys(FLOWER_CLASSES, per_class)
    buffer, photos = io.BytesIO(), set()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:

        def add(name: str, data: bytes) -> None:
            entry = tarfile.TarInfo(f"flower_photos/{name}")
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))

        add("LICENSE.txt", b"Photos made for tfedge's tests.\n")
        for index, name in enumerate(FLOWER_CLASSES):
            for number in range(counts[name]):
                photo = jpeg(10_000 * index + number, size)
                photos.add(photo)
                add(f"{name}/{number}.jpg", photo)
    return buffer.getvalue(), photos


def mnist_idx(name: str) -> bytes:
    """One of MNIST's gzipped idx files: each digit a stripe of grey that encodes its label."""
    count = MNIST_COUNTS[name.split("-")[0]]
    labels = (np.arange(count) % 10).astype(np.uint8)
    if "labels" in name:
        return gzip.compress(struct.pack(">II", 2049, count) + labels.tobytes(), 1)
    images = np.zeros((count, 28, 28), np.uint8)
    images[:, :, 4:24] = (25 * labels)[:, None, None]
    return gzip.compress(struct.pack(">IIII", 2051, count, 28, 28) + images.tobytes(), 1)


def fill_tfds_downloads(
    data_dir: Path, flowers_per_class: int | dict[str, int], size: tuple[int, int] = (24, 32)
) -> set[bytes]:
    """tf_flowers' archive and MNIST's idx files as finished downloads in ``data_dir``;
    returns the flower photos."""
    import tensorflow_datasets as tfds

    [url] = tfds.builder_cls("tf_flowers").url_infos
    archive, photos = flower_photos(flowers_per_class, size)
    place_finished_download(data_dir, "tf_flowers", url, archive)
    for url in tfds.builder_cls("mnist").url_infos:
        place_finished_download(data_dir, "mnist", url, mnist_idx(url.rsplit("/", 1)[1]))
    return photos


def hub_stand_in(cache: Path, handle: str) -> Path:
    """The module of ``handle`` in the TF Hub cache ``cache``: the bundled EfficientNet-Lite0
    as a 224 px TF2 SavedModel (images in [0, 1] → 1,280 features)."""
    from tfedge.keras_env import keras, tf
    from tfedge.models.transfer import bundled_extractor

    module = cache / hashlib.sha1(handle.encode("utf8")).hexdigest()
    inputs = keras.Input((224, 224, 3))
    tf.saved_model.save(keras.Model(inputs, bundled_extractor(inputs)), str(module))
    return module
