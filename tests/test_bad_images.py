"""Your own images, safely: every image is decoded at the door, as training will decode it.

Broken files are skipped and named (or fail the job, naming them), files only Pillow reads
are converted, classes too small to split are refused before sklearn sees them, and every
record written decodes with the input pipeline's own decode function.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfedge.data.checks import BadImages, bad_images_message, check_source, decodable
from tfedge.data.prepare import TooFewImages
from tfedge.data.sources import SourceData, from_arrays, load_source, numbered
from tfedge.files import read_json

from .helpers import dataset_settings, prepare
from .hostile import png_header_claiming

GOOD_PER_CLASS = 15  # the default fractions need 14 images per class
COLOUR = (200, 100, 50)
GREY = 124  # COLOUR as one channel (ITU-R 601 luma), which TF and Pillow both use


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def colour(size=(20, 16)) -> Image.Image:
    return Image.new("RGB", size, COLOUR)


def grey16() -> Image.Image:
    """16-bit greyscale at GREY * 257: read as 8 bits it must come back as GREY, not 255."""
    return Image.fromarray(np.full((16, 20), GREY * 257, np.uint16))


def jpeg() -> bytes:
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8)
    return encoded(Image.fromarray(noise), "JPEG")


def png() -> bytes:
    noise = np.random.default_rng(1).integers(0, 256, (32, 32, 3), np.uint8)
    return encoded(Image.fromarray(noise), "PNG")


BAD = {
    "cats/truncated.jpg": jpeg()[:300],
    "cats/text.png": b"this is a text file, not a picture\n",
    "dogs/half.png": png()[: len(png()) // 2],
    "dogs/empty.jpg": b"",
}

# file -> (bytes, value training must see, whether Pillow converts it for 1 and 3 channels)
CONVERTIBLE = {
    "grey.gif": (encoded(Image.new("L", (20, 16), GREY), "GIF"), GREY, (True, False)),
    "palette.png": (encoded(colour().convert("P"), "PNG"), COLOUR, (False, False)),
    "cmyk.jpg": (encoded(colour().convert("CMYK"), "JPEG", quality=95), COLOUR, (True, False)),
    "deep.png": (encoded(grey16(), "PNG"), GREY, (False, False)),
    "alpha.png": (
        encoded(Image.new("RGBA", (20, 16), (*COLOUR, 90)), "PNG"),
        COLOUR,
        (False, False),
    ),
    "photo.webp": (encoded(colour(), "WEBP", lossless=True), COLOUR, (True, False)),
    "deep.tif": (encoded(grey16(), "TIFF"), GREY, (True, True)),
    "plain.bmp": (encoded(colour(), "BMP"), COLOUR, (True, False)),
}


def image_folder(root: Path, extra: dict[str, bytes], per_class: dict[str, int] | None = None):
    """Class folders of small grey PNGs (GOOD_PER_CLASS each by default), plus ``extra`` files."""
    per_class = per_class or {"cats": GOOD_PER_CLASS, "dogs": GOOD_PER_CLASS}
    for index, (name, count) in enumerate(per_class.items()):
        (root / name).mkdir(parents=True)
        for number in range(count):
            pixels = np.full((12, 10), 10 * index + number, np.uint8)
            Image.fromarray(pixels).save(root / name / f"{number}.png")
    for relative, data in extra.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    return root


def folder_settings(root: Path, **overrides) -> dict:
    return dataset_settings(source="directory", directory=str(root), image_size=16, **overrides)


def prepare_folder(tmp_path: Path, settings: dict) -> Path:
    (tmp_path / "out").mkdir(exist_ok=True)
    return prepare(tmp_path / "out", "pets", settings)


def records_decode_as_training_does(manifest_path: Path) -> int:
    """Reads every split's TFRecord back and decodes each image with the pipeline's function."""
    from tfedge.data.pipeline import decode_image
    from tfedge.data.records import parse_example
    from tfedge.keras_env import tf

    manifest = read_json(manifest_path)
    size, channels = manifest["image_size"], manifest["channels"]
    total = 0
    for entry in manifest["splits"].values():
        path = manifest_path.parent / entry["file"]
        count = 0
        for serialized in tf.data.TFRecordDataset(str(path)):
            image, _label = parse_example(serialized)
            assert decode_image(image, size, channels).shape == (size, size, channels)
            count += 1
        assert count == entry["count"]
        total += count
    return total


# --- bad files -------------------------------------------------------------------------


def test_bad_files_are_skipped_logged_and_listed(tmp_path, caplog):
    root = image_folder(tmp_path / "images", BAD)
    manifest_path = prepare_folder(tmp_path, folder_settings(root, channels=3))
    manifest = read_json(manifest_path)
    report = manifest["images"]
    assert report["checked"] == 34 and report["converted"] == 0
    assert report["on_bad_image"] == "skip"
    reasons = {entry["file"]: entry["reason"] for entry in report["skipped"]}
    assert sorted(reasons) == sorted(BAD)
    assert reasons["dogs/empty.jpg"] == "empty file (0 bytes)"
    assert "truncated" in reasons["cats/truncated.jpg"].lower()
    assert (
        "cannot identify image file; TensorFlow: Unknown image file format"
        in reasons["cats/text.png"]
    )
    for reason in reasons.values():
        assert 0 < len(reason) <= 120 and "\n" not in reason
        assert "function_node" not in reason and "BytesIO" not in reason
    for file in BAD:
        assert f"datasets.pets: skipping {file}: " in caplog.text
    assert sum(entry["count"] for entry in manifest["splits"].values()) == 30
    assert records_decode_as_training_does(manifest_path) == 30


def test_on_bad_image_fail_names_every_bad_file_and_the_fix(tmp_path):
    root = image_folder(tmp_path / "images", BAD)
    with pytest.raises(BadImages) as raised:
        prepare_folder(tmp_path, folder_settings(root, on_bad_image="fail"))
    message = str(raised.value)
    assert message.startswith("datasets.pets: 4 files are not images TensorFlow or Pillow can")
    for file in BAD:
        assert f"\n  {file}: " in message
    assert "Replace or remove these files, or set datasets.pets.on_bad_image: skip" in message
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_the_error_lists_twenty_files_and_counts_the_rest():
    bad = [{"file": f"cats/{number}.jpg", "reason": "broken"} for number in range(25)]
    message = bad_images_message("pets", bad)
    assert "  cats/19.jpg: broken\n  and 5 more\n" in message
    assert "cats/20.jpg" not in message and message.startswith("datasets.pets: 25 files")


def test_a_bad_record_of_another_source_is_named_by_split_and_number():
    images = np.zeros((4, 8, 8), np.uint8)
    data = from_arrays(images, np.array([0, 0, 1, 1]), numbered("train", range(4)))
    data.images[2] = b"garbage"
    source = SourceData({"train": data}, ["zero", "one"], "bundled", "made here")
    checked, report = check_source("mnist", source, dataset_settings())
    assert [entry["file"] for entry in report["skipped"]] == ["train #2"]
    assert checked.splits["train"].names == ["train #0", "train #1", "train #3"]
    assert checked.splits["train"].labels.tolist() == [0, 0, 1]


def test_images_above_the_pixel_limit_are_listed_and_never_decoded(monkeypatch):
    """A 20000x20000 header (the bomb: a few hundred KB that decode to 400 MB) and a 32x32
    image under a limit of 1,000 pixels are both skipped with the reason; the decoder sees
    neither."""
    from tfedge.data import checks

    images = np.zeros((3, 8, 8), np.uint8)
    data = from_arrays(images, np.array([0, 1, 1]), numbered("train", range(3)))
    data.images[0] = png_header_claiming(20_000, 20_000)
    data.images[1] = png()  # 32 x 32 = 1,024 pixels
    source = SourceData({"train": data}, ["zero", "one"], "bundled", "made here")
    decoded = []
    real_decode = checks.decoded_by_tensorflow
    monkeypatch.setattr(
        checks,
        "decoded_by_tensorflow",
        lambda images, c: decoded.extend(images) or real_decode(images, c),
    )
    checked, report = check_source("mnist", source, dataset_settings(max_image_pixels=1_000))
    reasons = {entry["file"]: entry["reason"] for entry in report["skipped"]}
    assert reasons == {
        "train #0": "over 178,956,970 pixels, above max_image_pixels (1,000): not decoded",
        "train #1": "32x32 is 1,024 pixels, above max_image_pixels (1,000): not decoded",
    }
    assert checked.splits["train"].names == ["train #2"]
    assert data.images[0] not in decoded and data.images[1] not in decoded
    default = check_source("mnist", source, dataset_settings())[1]["skipped"]
    assert [entry["file"] for entry in default] == ["train #0"]


def test_the_check_uses_the_bytes_in_memory_and_reads_no_file_again(tmp_path):
    root = image_folder(tmp_path / "images", {"cats/text.png": b"not an image"})
    settings = folder_settings(root)
    source = load_source("pets", settings)
    shutil.rmtree(root)
    checked, report = check_source("pets", source, settings)
    assert report["checked"] == 31 and [entry["file"] for entry in report["skipped"]] == [
        "cats/text.png"
    ]
    assert len(checked.splits["train"].images) == 30


# --- files Pillow converts ---------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("file", CONVERTIBLE)
def test_each_readable_format_is_kept_with_its_pixels(file, channels):
    from tfedge.data.pipeline import decode_image

    data, expected, converted_for = CONVERTIBLE[file]
    usable, converted = decodable(data, channels)
    assert converted == converted_for[channels == 3]
    assert (usable[:8] == b"\x89PNG\r\n\x1a\n") or not converted
    pixels = decode_image(usable, 8, channels).numpy() * 255
    if channels == 1:
        expected = GREY
    elif np.isscalar(expected):
        expected = (expected,) * 3
    assert np.allclose(pixels.mean(axis=(0, 1)), expected, atol=6), pixels.mean(axis=(0, 1))


@pytest.mark.parametrize("channels", [1, 3])
def test_convertible_files_are_kept_counted_and_written_decodable(tmp_path, channels):
    files = {f"cats/{name}": data for name, (data, _value, _conv) in CONVERTIBLE.items()}
    root = image_folder(tmp_path / "images", files)
    manifest_path = prepare_folder(tmp_path, folder_settings(root, channels=channels))
    manifest = read_json(manifest_path)
    expected = sum(conv[channels == 3] for _data, _value, conv in CONVERTIBLE.values())
    assert manifest["images"] == {
        "checked": 38,
        "converted": expected,
        "skipped": [],
        "on_bad_image": "skip",
    }
    assert manifest["ignored_files"]["count"] == 0
    assert records_decode_as_training_does(manifest_path) == 38


# --- what is not used, what is taken from below ----------------------------------------------


def test_manifest_counts_ignored_files_and_nested_images(tmp_path):
    extra = {
        "README.txt": b"my pets",
        ".DS_Store": b"\0",
        "cats/._0.png": b"\0",
        "dogs/puppies/litter2/a.png": encoded(colour(), "PNG"),
    }
    root = image_folder(tmp_path / "images", extra)
    manifest_path = prepare_folder(tmp_path, folder_settings(root))
    manifest = read_json(manifest_path)
    assert manifest["ignored_files"] == {
        "count": 3,
        "by_suffix": {"(hidden)": 2, ".txt": 1},
        "examples": [".DS_Store", "README.txt", "cats/._0.png"],
    }
    assert manifest["nested_images"] == 1
    assert manifest["images"]["checked"] == 31
    dogs = sum(entry["per_class"]["dogs"] for entry in manifest["splits"].values())
    assert dogs == 16
    assert records_decode_as_training_does(manifest_path) == 31


# --- classes too small to split ------------------------------------------------------------


def test_empty_and_tiny_classes_are_named_with_the_minimum(tmp_path):
    root = image_folder(tmp_path / "images", {}, {"birds": 0, "cats": 15, "mice": 2, "dogs": 20})
    with pytest.raises(TooFewImages) as raised:
        prepare_folder(tmp_path, folder_settings(root))
    message = str(raised.value)
    assert "datasets.pets: every class needs at least 14 usable images" in message
    assert "(validation_fraction 0.1, test_fraction 0.2)" in message
    assert "too few in birds (0), mice (2)." in message
    assert (
        "Add images to these classes, remove their folders, or lower validation_fraction or "
        in message
    )


def test_a_class_counts_only_its_decodable_images(tmp_path):
    root = image_folder(tmp_path / "images", {"cats/text.png": b"no"}, {"cats": 13, "dogs": 15})
    with pytest.raises(TooFewImages, match=r"too few in cats \(13\)\."):
        prepare_folder(tmp_path, folder_settings(root))


def test_lower_fractions_let_a_small_class_through(tmp_path):
    root = image_folder(tmp_path / "images", {}, {"cats": 8, "dogs": 8})
    with pytest.raises(TooFewImages, match="at least 14 usable images"):
        prepare_folder(tmp_path, folder_settings(root))
    settings = folder_settings(root, validation_fraction=0.2, test_fraction=0.2)
    manifest = read_json(prepare_folder(tmp_path, settings))
    for entry in manifest["splits"].values():
        assert min(entry["per_class"].values()) >= 1


def test_the_check_takes_no_more_threads_than_the_job_has(monkeypatch):
    from tfedge.data.checks import job_threads
    from tfedge.keras_env import tf

    monkeypatch.setattr(tf.config.threading, "get_intra_op_parallelism_threads", lambda: 0)
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "3")
    assert job_threads() == 3  # the job context's environment (tfedge.job)
    monkeypatch.setattr(tf.config.threading, "get_intra_op_parallelism_threads", lambda: 2)
    assert job_threads() == 2  # a thread pool set in this process
