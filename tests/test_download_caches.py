"""The network path without a network: TFDS's real builders and TF Hub's real resolver, fed
through their own offline mechanisms, with every socket refused.

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
import socket
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfedge.data.sources import load_source
from tfedge.models.backbones import choose_backbone

from .conftest import backbone_settings, dataset_settings

pytestmark = pytest.mark.slow  # real TFDS builders and a 224 px network (10-30 s each)

FLOWER_CLASSES = ("daisy", "dandelion", "roses", "sunflowers", "tulips")
MNIST_COUNTS = {"train": 60_000, "t10k": 10_000}  # what the builder reads from each idx file


@pytest.fixture
def no_network(monkeypatch):
    """Any connection from Python fails at once, as on a compute node without a network."""

    def refused(*args, **kwargs):
        raise OSError("network refused in this test")

    monkeypatch.setattr(socket.socket, "connect", refused)
    monkeypatch.setattr(socket, "create_connection", refused)


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


def jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (24, 32, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    return buffer.getvalue()


def flower_photos(per_class: int) -> tuple[bytes, set[bytes]]:
    """flower_photos.tgz as download.tensorflow.org serves it (a folder per class and a
    LICENSE.txt), and the JPEG files in it."""
    buffer, photos = io.BytesIO(), set()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:

        def add(name: str, data: bytes) -> None:
            entry = tarfile.TarInfo(f"flower_photos/{name}")
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))

        add("LICENSE.txt", b"Photos made for tfedge's tests.\n")
        for index, name in enumerate(FLOWER_CLASSES):
            for number in range(per_class):
                photo = jpeg(100 * index + number)
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


def flowers_settings(data_dir: Path, source: str) -> dict:
    return dataset_settings(
        source=source, tfds_name="tf_flowers", tfds_test_split=None, data_dir=str(data_dir),
        image_size=64, channels=3,
    )  # fmt: skip


def test_tf_flowers_prepares_from_its_downloaded_archive_offline(tmp_path, no_network):
    import tensorflow_datasets as tfds

    [url] = tfds.builder_cls("tf_flowers").url_infos
    archive, photos = flower_photos(per_class=4)
    place_finished_download(tmp_path, "tf_flowers", url, archive)

    data = load_source("flowers", flowers_settings(tmp_path, "auto"))
    assert data.source_used == "tfds"
    assert (
        data.reason == f"auto: the downloads of TFDS 'tf_flowers' are in {tmp_path / 'downloads'}"
    )
    assert sorted(data.class_names) == sorted(FLOWER_CLASSES)
    train = data.splits["train"]
    assert set(train.images) == photos  # the stored JPEG bytes, not a re-encode
    assert np.bincount(train.labels).tolist() == [4] * 5

    again = load_source("flowers", flowers_settings(tmp_path, "tfds"))
    assert set(again.splits["train"].images) == photos
    prepared = load_source("flowers", flowers_settings(tmp_path, "auto"))
    assert prepared.reason == f"auto: TFDS 'tf_flowers' is prepared in {tmp_path}"


def test_mnist_prepares_from_its_downloaded_idx_files_offline(tmp_path, no_network):
    import tensorflow_datasets as tfds

    for url in tfds.builder_cls("mnist").url_infos:
        place_finished_download(tmp_path, "mnist", url, mnist_idx(url.rsplit("/", 1)[1]))

    data = load_source("mnist", dataset_settings(source="tfds", data_dir=str(tmp_path)))
    assert data.source_used == "tfds"
    assert {split: len(images.labels) for split, images in data.splits.items()} == {
        "train": 60_000,
        "test": 10_000,
    }
    test = data.splits["test"]
    for index in (0, 7, 9_999):  # each PNG holds the stripe its label says
        pixels = np.asarray(Image.open(io.BytesIO(test.images[index])))
        assert pixels[14, 14] == 25 * test.labels[index]


def test_without_downloads_or_a_network_tfds_says_which_host_it_needs(tmp_path, no_network):
    from tfedge.data.sources import SourceUnavailable

    with pytest.raises(SourceUnavailable, match="download.tensorflow.org did not answer"):
        load_source("flowers", flowers_settings(tmp_path, "tfds"))


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> tuple[str, Path]:
    """The default hub handle's module in a TF Hub cache: the bundled EfficientNet-Lite0 as a
    224 px TF2 SavedModel (images in [0, 1] → 1,280 features)."""
    from tfedge.keras_env import keras, tf
    from tfedge.models.transfer import bundled_extractor

    handle = backbone_settings(source="auto")["hub_handle"]
    cache = tmp_path / "tfhub_modules"
    module = cache / hashlib.sha1(handle.encode("utf8")).hexdigest()
    inputs = keras.Input((224, 224, 3))
    tf.saved_model.save(keras.Model(inputs, bundled_extractor(inputs)), str(module))
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    return handle, module


def test_the_default_hub_handle_resolves_from_the_tfhub_cache(hub_cache, no_network):
    from tfedge.keras_env import keras
    from tfedge.models.transfer import build_backbone, bundled_extractor

    handle, module = hub_cache
    choice = choose_backbone("mobilenet", backbone_settings(source="auto"))
    assert (choice.source, choice.hub_handle) == ("hub", handle)
    assert choice.reason == f"auto: {handle} is in the TF Hub cache at {module}"

    images = np.random.default_rng(0).random((2, 224, 224, 3), np.float32)
    features = build_backbone(choice, 224)(images).numpy()
    inputs = keras.Input((224, 224, 3))
    expected = keras.Model(inputs, bundled_extractor(inputs))(images).numpy()
    assert features.shape == (2, 1280) and features.std() > 0
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)
