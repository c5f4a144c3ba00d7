"""Stratified, seeded splits; TFRecords and manifest; the tf.data pipeline reads them back."""

from __future__ import annotations

import numpy as np

from tfedge.data.prepare import cap_per_class, make_splits
from tfedge.data.records import sha256
from tfedge.data.sources import LabelledImages, SourceData
from tfedge.files import read_json

from .conftest import dataset_settings


def fake_source(per_class: int = 50, classes: int = 4, with_test: bool = False) -> SourceData:
    labels = np.repeat(np.arange(classes), per_class)
    pool = LabelledImages([bytes([i % 256, i // 256]) for i in range(len(labels))], labels)
    splits = {"train": pool}
    if with_test:
        splits["test"] = LabelledImages([b"t"] * classes * 5, np.repeat(np.arange(classes), 5))
    return SourceData(splits, [f"c{i}" for i in range(classes)], "bundled", "test")


def test_splits_are_stratified_disjoint_and_seeded():
    settings = dataset_settings(test_fraction=0.2, validation_fraction=0.25, split_seed=3)
    splits = make_splits(fake_source(), settings)
    counts = {name: np.bincount(split.labels).tolist() for name, split in splits.items()}
    assert counts == {"train": [30] * 4, "validation": [10] * 4, "test": [10] * 4}
    images = [set(split.images) for split in splits.values()]
    assert sum(map(len, images)) == len(set().union(*images)) == 200
    again = make_splits(fake_source(), settings)
    assert again["test"].images == splits["test"].images
    other_seed = make_splits(fake_source(), {**settings, "split_seed": 4})
    assert other_seed["test"].images != splits["test"].images


def test_a_source_test_split_is_kept_and_never_mixed_into_training():
    splits = make_splits(fake_source(with_test=True), dataset_settings())
    assert splits["test"].images == [b"t"] * 20
    assert len(splits["train"].labels) + len(splits["validation"].labels) == 200


def test_cap_per_class_keeps_at_most_the_limit_of_each_class():
    capped = cap_per_class(fake_source().splits["train"], limit=7, seed=0)
    assert np.bincount(capped.labels).tolist() == [7] * 4
    assert cap_per_class(fake_source().splits["train"], None, 0).labels.size == 200


def test_prepared_files_match_manifest_and_read_back(tiny_mnist):
    from tfedge.data.pipeline import image_dataset

    manifest = read_json(tiny_mnist)
    assert manifest["source_used"] == "bundled"
    assert manifest["splits"]["test"]["per_class"] == {str(d): 4 for d in range(10)}
    for split, entry in manifest["splits"].items():
        path = tiny_mnist.parent / entry["file"]
        assert sha256(path) == entry["sha256"]
        images, labels = zip(*image_dataset(tiny_mnist, split, batch_size=1000))
        images, labels = images[0].numpy(), labels[0].numpy()
        assert images.shape == (entry["count"], 28, 28, 1)
        assert images.min() >= 0.0 and images.max() <= 1.0 and images.max() > 0.9
        assert np.bincount(labels, minlength=10).tolist() == list(entry["per_class"].values())
