"""The download jobs without a network: TFDS's real builders and TF Hub's real resolver, fed
through their own offline mechanisms (tests/download_caches.py), with every socket refused.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfedge.data.download import fetch_dataset
from tfedge.data.sources import Fetched, SourceUnavailable, load_source
from tfedge.models.backbones import recorded_choice
from tfedge.models.download import fetch_backbone

from .download_caches import (
    FLOWER_CLASSES,
    flower_photos,
    hub_stand_in,
    mnist_idx,
    place_finished_download,
)
from .helpers import backbone_settings, dataset_settings

pytestmark = pytest.mark.slow  # real TFDS builders and a 224 px network (10-30 s each)


def flowers_settings(data_dir: Path, source: str) -> dict:
    return dataset_settings(
        source=source, tfds_name="tf_flowers", tfds_test_split=None, data_dir=str(data_dir),
        image_size=64, channels=3,
    )  # fmt: skip


def fetched(name: str, settings: dict, folder: Path) -> tuple[dict, Fetched]:
    """What the download job records, and what prepare_data then reads (its load_source)."""
    record = fetch_dataset(name, settings, folder)
    return record, load_source(name, settings, Fetched(record, folder))


def test_tf_flowers_prepares_from_its_downloaded_archive_offline(tmp_path, no_network):
    import tensorflow_datasets as tfds

    [(url, info)] = tfds.builder_cls("tf_flowers").url_infos.items()
    archive, photos = flower_photos(per_class=4)
    place_finished_download(tmp_path, "tf_flowers", url, archive)

    record, data = fetched("flowers", flowers_settings(tmp_path, "auto"), tmp_path / "first")
    assert record["source_used"] == data.source_used == "tfds"
    assert (
        data.reason
        == record["reason"]
        == (f"auto: the downloads of TFDS 'tf_flowers' are in {tmp_path / 'downloads'}")
    )
    assert record["version"] == str(tfds.builder_cls("tf_flowers").VERSION)
    assert record["files"] == [{"url": url, "bytes": int(info.size), "sha256": info.checksum}]
    assert sorted(data.class_names) == sorted(FLOWER_CLASSES)
    train = data.splits["train"]
    assert set(train.images) == photos  # the stored JPEG bytes, not a re-encode
    assert np.bincount(train.labels).tolist() == [4] * 5

    # Prepared in data_dir (as `tfds build` leaves it), it is copied, not prepared again.
    tfds.builder("tf_flowers", data_dir=str(tmp_path)).download_and_prepare()
    record, again = fetched("flowers", flowers_settings(tmp_path, "tfds"), tmp_path / "second")
    assert record["reason"] == f"TFDS 'tf_flowers' is prepared in {tmp_path}"
    assert set(again.splits["train"].images) == photos


def test_mnist_prepares_from_its_downloaded_idx_files_offline(tmp_path, no_network):
    import tensorflow_datasets as tfds

    for url in tfds.builder_cls("mnist").url_infos:
        place_finished_download(tmp_path, "mnist", url, mnist_idx(url.rsplit("/", 1)[1]))

    settings = dataset_settings(source="tfds", data_dir=str(tmp_path))
    record, data = fetched("mnist", settings, tmp_path / "fetched")
    assert record["source_used"] == data.source_used == "tfds"
    assert {split: len(images.labels) for split, images in data.splits.items()} == {
        "train": 60_000,
        "test": 10_000,
    }
    test = data.splits["test"]
    for index in (0, 7, 9_999):  # each PNG holds the stripe its label says
        pixels = np.asarray(Image.open(io.BytesIO(test.images[index])))
        assert pixels[14, 14] == 25 * test.labels[index]


def test_without_downloads_or_a_network_tfds_says_which_host_it_needs(tmp_path, no_network):
    with pytest.raises(SourceUnavailable, match="download.tensorflow.org did not answer"):
        fetch_dataset("flowers", flowers_settings(tmp_path, "tfds"), tmp_path / "fetched")


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> tuple[str, Path]:
    handle = backbone_settings(source="auto")["hub_handle"]
    module = hub_stand_in(tmp_path / "tfhub_modules", handle)
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "tfhub_modules"))
    return handle, module


def test_the_default_hub_handle_resolves_from_the_tfhub_cache(hub_cache, no_network, tmp_path):
    from tfedge.keras_env import keras
    from tfedge.models.transfer import build_backbone, bundled_extractor

    handle, module = hub_cache
    settings = backbone_settings(source="auto")
    record = fetch_backbone("mobilenet", settings, {"flowers": 224}, tmp_path / "files")
    assert (record["source_used"], record["hub_handle"]) == ("hub", handle)
    assert record["reason"] == f"auto: {handle} is in the TF Hub cache at {module}"
    with pytest.raises(Exception, match="takes 224×224 images only, but datasets.flowers"):
        fetch_backbone("mobilenet", settings, {"flowers": 64}, tmp_path / "small")

    choice = recorded_choice("mobilenet", settings, record, str(tmp_path / "files"))
    images = np.random.default_rng(0).random((2, 224, 224, 3), np.float32)
    features = build_backbone(choice, 224)(images).numpy()
    inputs = keras.Input((224, 224, 3))
    expected = keras.Model(inputs, bundled_extractor(inputs))(images).numpy()
    assert features.shape == (2, 1280) and features.std() > 0
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)
