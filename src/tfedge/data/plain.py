"""The prepared TFRecords read without TensorFlow: for a job that needs a few decoded images
but no TensorFlow otherwise (the int8 ONNX model's calibration), which then never imports it.

A TFRecord file is a sequence of length-prefixed records; each record here is a serialised
``tf.train.Example`` holding an encoded ``image`` and an int64 ``label``
(tfedge.data.records). Images are decoded with Pillow and resized as the tf.data pipeline
resizes them (``tf.image.resize``: bilinear with half-pixel centres, antialiased when
shrinking), to float32 in [0, 1]; a test compares the two pipelines image by image.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from tfedge.data.splits import verified_split
from tfedge.files import read_json


def records(path: str | Path) -> Iterator[bytes]:
    """The records of a TFRecord file: length (u64), its CRC, the data, the data's CRC."""
    with open(path, "rb") as stream:
        while header := stream.read(12):
            (length,) = struct.unpack("<Q", header[:8])
            yield stream.read(length)
            stream.read(4)


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position += 1
        if byte < 0x80:
            return value, position
        shift += 7


def _fields(message: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message: varints as int, the rest as bytes."""
    position = 0
    while position < len(message):
        key, position = _varint(message, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _varint(message, position)
        elif wire_type == 2:
            length, position = _varint(message, position)
            value, position = message[position : position + length], position + length
        else:  # fixed 64- and 32-bit values: not used by the fields read here
            size = 8 if wire_type == 1 else 4
            value, position = message[position : position + size], position + size
        yield number, value


def parse_example(serialized: bytes) -> tuple[bytes, int]:
    """(image bytes, label) of a ``tf.train.Example``: features → map entry → BytesList or
    Int64List (packed or not)."""
    found: dict[str, bytes] = {}
    for _, features in _fields(serialized):  # Example.features
        for _, entry in _fields(features):  # Features.feature map entries
            parts = dict(_fields(entry))
            found[parts[1].decode()] = parts[2]
    image = dict(_fields(dict(_fields(found["image"]))[1]))[1]  # Feature.bytes_list.value
    label_list = dict(_fields(found["label"]))[3]  # Feature.int64_list
    number, value = next(_fields(label_list))
    label = value if isinstance(value, int) else _varint(value, 0)[0]  # unpacked or packed
    return image, label


def decode(encoded: bytes, size: int, channels: int) -> np.ndarray:
    """Encoded PNG/JPEG → float32 size × size × channels in [0, 1].

    Each channel is resized as a float ('F') image by Pillow's ``Image.resize`` with
    ``Image.Resampling.BILINEAR``: half-pixel centres, and a triangle kernel widened by the
    scale when shrinking, as ``tf.image.resize(antialias=True)`` does. In float, so the
    weighted sums are not rounded back to 8 bits.
    """
    with Image.open(io.BytesIO(encoded)) as image:
        bands = image.convert("L" if channels == 1 else "RGB").split()
    resized = [band.convert("F").resize((size, size), Image.Resampling.BILINEAR) for band in bands]
    pixels = np.stack([np.asarray(band, np.float32) for band in resized], axis=-1)
    return np.clip(pixels / 255.0, 0.0, 1.0)


def split_images(
    manifest_path: str | Path, split: str, only: set[int] | None = None
) -> Iterator[tuple[int, np.ndarray, int]]:
    """(index, image, label) of every image of one prepared split in file order, or of those
    whose index is in ``only`` (the others are not decoded)."""
    manifest = read_json(manifest_path)
    path = verified_split(manifest, manifest_path, split)
    for index, record in enumerate(records(path)):
        if only is None or index in only:
            encoded, label = parse_example(record)
            yield index, decode(encoded, manifest["image_size"], manifest["channels"]), label
