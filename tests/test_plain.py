"""The prepared splits read without TensorFlow match the tf.data pipeline image for image."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tfedge.data import plain
from tfedge.files import read_json


@pytest.mark.parametrize("dataset", ["tiny_mnist", "tiny_flowers"])
def test_every_image_and_label_match_the_tf_data_pipeline(dataset, request):
    from tfedge.data.pipeline import image_dataset

    manifest = request.getfixturevalue(dataset)  # flowers: 28 px stand-ins resized to 32
    expected = [(image.numpy(), int(label)) for images, labels in image_dataset(manifest, "test", 1)
                for image, label in zip(images, labels)]  # fmt: skip
    found = [(image, label) for _, image, label in plain.split_images(manifest, "test")]
    assert len(found) == len(expected) == read_json(manifest)["splits"]["test"]["count"]
    for (image, label), (reference, reference_label) in zip(found, expected):
        assert label == reference_label and image.shape == reference.shape
        np.testing.assert_allclose(image, reference, atol=1e-5)


@pytest.mark.parametrize(("source", "size"), [(28, 224), (64, 24), (50, 37)])
def test_resizing_matches_tensorflow_growing_and_shrinking(source, size):
    from tfedge.data.pipeline import decode_image
    from tfedge.keras_env import tf

    pixels = np.random.default_rng(source).integers(0, 256, (source, source, 3), dtype=np.uint8)
    encoded = io.BytesIO()
    Image.fromarray(pixels).save(encoded, format="PNG")
    reference = decode_image(tf.constant(encoded.getvalue()), size, 3).numpy()
    np.testing.assert_allclose(plain.decode(encoded.getvalue(), size, 3), reference, atol=1e-5)


def test_calibration_images_come_from_the_train_split_in_a_seeded_draw(tiny_mnist):
    from tfedge.convert.calibration import calibration_images

    train = np.stack([image for _, image, _ in plain.split_images(tiny_mnist, "train")])
    drawn = calibration_images(str(tiny_mnist), 16)
    assert drawn.shape == (16, 28, 28, 1) and drawn.dtype == np.float32
    assert all(any(np.array_equal(image, candidate) for candidate in train) for image in drawn)
    np.testing.assert_array_equal(drawn, calibration_images(str(tiny_mnist), 16))
    assert not np.array_equal(drawn, calibration_images(str(tiny_mnist), 16, seed=1))


def test_only_the_images_asked_for_are_decoded(tiny_mnist, monkeypatch):
    decoded = []
    decode = plain.decode
    monkeypatch.setattr(plain, "decode", lambda *args: decoded.append(1) or decode(*args))
    found = [index for index, _, _ in plain.split_images(tiny_mnist, "train", {3, 0, 7})]
    assert found == [0, 3, 7] and len(decoded) == 3
