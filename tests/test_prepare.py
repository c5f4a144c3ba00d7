"""Stratified, seeded splits; TFRecords and manifest; the tf.data pipeline reads them back."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tfedge.data.prepare import cap_per_class, make_splits, min_images_per_class
from tfedge.data.sources import LabelledImages, SourceData, numbered
from tfedge.files import read_json, sha256

from .helpers import dataset_settings


def labelled(images: list[bytes], labels: np.ndarray, split: str = "train") -> LabelledImages:
    return LabelledImages(images, labels, numbered(split, range(len(labels))))


def fake_source(per_class: int = 50, classes: int = 4, with_test: bool = False) -> SourceData:
    return uneven_source([per_class] * classes, with_test)


def uneven_source(counts: list[int], with_test: bool = False) -> SourceData:
    """Fake encoded images (each unique), ``counts[c]`` of class c; a 5-per-class test split."""
    labels = np.repeat(np.arange(len(counts)), counts)
    splits = {"train": labelled([bytes([i % 256, i // 256]) for i in range(len(labels))], labels)}
    if with_test:
        test_labels = np.repeat(np.arange(len(counts)), 5)
        splits["test"] = labelled([b"t"] * len(test_labels), test_labels, "test")
    return SourceData(splits, [f"c{i}" for i in range(len(counts))], "bundled", "test")


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
    assert capped.names == [
        name for name in fake_source().splits["train"].names if name in capped.names
    ]
    assert cap_per_class(fake_source().splits["train"], None, 0).labels.size == 200


def per_class(data: LabelledImages, classes: int) -> list[int]:
    return np.bincount(data.labels, minlength=classes).tolist()


@pytest.mark.parametrize("with_test", [False, True])
def test_max_per_class_caps_the_train_split_only(with_test):
    source = uneven_source([60, 25, 40], with_test)
    full = make_splits(source, dataset_settings(max_per_class=None))
    capped = make_splits(source, dataset_settings(max_per_class=10))
    assert capped["test"].images == full["test"].images
    assert capped["validation"].images == full["validation"].images
    assert per_class(capped["train"], 3) == [10, 10, 10]
    assert set(capped["train"].images) < set(full["train"].images)
    again = make_splits(source, dataset_settings(max_per_class=10))
    assert again["train"].images == capped["train"].images


def test_max_per_class_leaves_smaller_classes_whole():
    splits = make_splits(uneven_source([60, 25, 40]), dataset_settings(max_per_class=20))
    full = make_splits(uneven_source([60, 25, 40]), dataset_settings())
    assert per_class(splits["train"], 3) == [20, per_class(full["train"], 3)[1], 20]


def every_split_gets_every_class(counts: list[int], settings: dict, with_test: bool) -> bool:
    """True when make_splits gives each class an image in train, validation and test."""
    try:
        splits = make_splits(uneven_source(counts, with_test), settings)
    except ValueError:  # sklearn refuses: a split smaller than the number of classes
        return False
    return all(min(per_class(split, len(counts))) >= 1 for split in splits.values())


def class_counts_at_least(needed: int) -> list[list[int]]:
    """Balanced, many, uneven and lopsided classes, the smallest holding ``needed`` images."""
    return [
        [needed] * 2,
        [needed] * 7,
        list(range(needed, needed + 6)),
        [needed, 30 * needed],
        [needed] * 5 + [3 * needed + 1],
    ]


FRACTIONS = [0.05, 0.1, 0.2, 0.3, 0.33, 0.45, 0.49]


@pytest.mark.parametrize("with_test", [False, True])
def test_min_images_per_class_gives_every_class_an_image_in_every_split(with_test):
    defaults = dataset_settings()
    test_fractions = [0.2] if with_test else FRACTIONS  # unused when the source has a test split
    for validation, test in itertools.product(FRACTIONS, test_fractions):
        settings = {**defaults, "validation_fraction": validation, "test_fraction": test}
        needed = min_images_per_class(settings, has_test_split=with_test)
        for counts in class_counts_at_least(needed):
            assert every_split_gets_every_class(counts, settings, with_test), (
                validation,
                test,
                counts,
            )


def test_min_images_per_class_for_the_default_fractions():
    settings = dataset_settings()
    assert (settings["validation_fraction"], settings["test_fraction"]) == (0.1, 0.2)
    assert min_images_per_class(settings, has_test_split=False) == 14
    assert min_images_per_class(settings, has_test_split=True) == 10
    # Negative control: fewer images, and sklearn fails (the crash users saw) or a split
    # misses a class, so the brute force above does detect a minimum set too low.
    assert not every_split_gets_every_class([10] * 7, settings, with_test=False)
    assert not every_split_gets_every_class([5] * 3, settings, with_test=True)


def test_prepared_files_match_manifest_and_read_back(tiny_mnist):
    from tfedge.data.pipeline import image_dataset

    manifest = read_json(tiny_mnist)
    assert manifest["source_used"] == "bundled"
    # Test and validation come off all 50 digits per class; only train (36) is capped at 20.
    assert manifest["splits"]["test"]["per_class"] == {str(d): 10 for d in range(10)}
    assert manifest["splits"]["validation"]["per_class"] == {str(d): 4 for d in range(10)}
    assert manifest["splits"]["train"]["per_class"] == {str(d): 20 for d in range(10)}
    assert manifest["images"] == {
        "checked": 500,
        "converted": 0,
        "skipped": [],
        "on_bad_image": "skip",
    }
    assert manifest["ignored_files"] == {"count": 0, "by_suffix": {}, "examples": []}
    assert manifest["nested_images"] == 0
    for split, entry in manifest["splits"].items():
        path = tiny_mnist.parent / entry["file"]
        assert sha256(path) == entry["sha256"]
        images, labels = zip(*image_dataset(tiny_mnist, split, batch_size=1000))
        images, labels = images[0].numpy(), labels[0].numpy()
        assert images.shape == (entry["count"], 28, 28, 1)
        assert images.min() >= 0.0 and images.max() <= 1.0 and images.max() > 0.9
        assert np.bincount(labels, minlength=10).tolist() == list(entry["per_class"].values())
