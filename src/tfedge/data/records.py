"""TFRecord files of encoded images and labels: the one format training and evaluation read."""

from __future__ import annotations

from pathlib import Path

from tfedge.data.sources import LabelledImages
from tfedge.files import atomic
from tfedge.keras_env import tf

FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
}


def _example(image: bytes, label: int) -> bytes:
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_tfrecord(path: str | Path, data: LabelledImages) -> None:
    with atomic(path) as partial, tf.io.TFRecordWriter(str(partial)) as writer:
        for image, label in zip(data.images, data.labels):
            writer.write(_example(image, label))


def parse_example(serialized: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    parsed = tf.io.parse_single_example(serialized, FEATURES)
    return parsed["image"], parsed["label"]
