"""Every image is decoded once, at the door, the way training will decode it.

A file TensorFlow cannot decode (a truncated JPEG, a text file named .png, a GIF when the
model wants one channel) would otherwise pass prepare_data and crash training later, inside
tf.data, naming no file. So prepare_data decodes every image of every source here, on the
bytes already in memory, with the very call the input pipeline makes: tf.io.decode_image
with the dataset's channels and expand_animations=False. All images go through that call in a
parallel tf.data map (graph mode, as in training; about three times cheaper than one eager
call per small image); only the few it refuses are decoded again, eagerly, to learn why.
What TensorFlow refuses gets a second chance through Pillow, which reads more formats and
colour modes (TIFF; WEBP, BMP, GIF or CMYK JPEG as greyscale; ...): such an image is
re-encoded as PNG in the configured channels, checked again and kept. What neither can read
is bad: skipped and listed, or the job fails, as the dataset's ``on_bad_image`` says.
"""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from tfedge.data.sources import LabelledImages, SourceData, SourceUnavailable
from tfedge.keras_env import tf

log = logging.getLogger(__name__)

PILLOW_MODES = {1: "L", 3: "RGB"}
# Bytes of images handed to tf.data at a time: bounds the copy the dataset holds.
CHUNK_BYTES = 64 << 20
REASON_CHARS = 120
LISTED_IN_ERROR = 20
# TensorFlow wraps an op's message in "{{function_node ...}} " and " [Op:DecodeImage]"; Pillow
# names the in-memory stream ("<_io.BytesIO object at 0x...>"). Neither helps the user.
NOISE = re.compile(r"\{\{[^}]*\}\}\s*|\s*\[Op:\w+\]|\s*<_io\.BytesIO object at 0x[0-9a-f]+>")


class BadImages(SourceUnavailable):
    """Files neither TensorFlow nor Pillow can decode, with ``on_bad_image: fail``."""


class Undecodable(Exception):
    """One image no decoder accepts; the message is the short reason shown to the user."""


@dataclass
class CheckedSplit:
    """One split after the check: what to keep (converted images re-encoded) and what was bad."""

    kept: LabelledImages
    converted: int
    bad: list[dict]


def short_reason(message: str) -> str:
    """A decoder's error as one short line: its first line, without wrapping noise, trimmed."""
    lines = NOISE.sub("", str(message)).strip().splitlines() or ["unknown error"]
    line = lines[0]
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 1] + "…"


def decoded_shape(encoded: tf.Tensor, channels: int) -> tf.Tensor:
    """The input pipeline's decode call; its shape is all the check needs of the pixels."""
    return tf.shape(tf.io.decode_image(encoded, channels=channels, expand_animations=False))


def tensorflow_refusal(encoded: bytes, channels: int) -> str | None:
    """Why the input pipeline's decode call refuses these bytes; None when it decodes them."""
    try:
        decoded_shape(encoded, channels)
    except tf.errors.OpError as error:
        return short_reason(error.message)
    return None


def eight_bit(image: Image.Image) -> Image.Image:
    """16-bit greyscale scaled to 8 bits; Pillow's own convert would clip it at 255."""
    if image.mode.startswith("I;16"):
        return Image.fromarray((np.asarray(image, np.uint16) >> 8).astype(np.uint8))
    return image


def pillow_png(encoded: bytes, channels: int) -> bytes:
    """The image (its first frame) as Pillow reads it, in the configured channels, as PNG."""
    with Image.open(io.BytesIO(encoded)) as image:
        converted = eight_bit(image).convert(PILLOW_MODES[channels])
    buffer = io.BytesIO()
    converted.save(buffer, format="PNG")
    return buffer.getvalue()


def decodable(encoded: bytes, channels: int) -> tuple[bytes, bool]:
    """(bytes the input pipeline decodes, whether Pillow had to convert them).

    Raises Undecodable with the reason when neither TensorFlow nor Pillow reads the image.
    """
    if not encoded:
        raise Undecodable("empty file (0 bytes)")
    refusal = tensorflow_refusal(encoded, channels)
    if refusal is None:
        return encoded, False
    try:
        converted = pillow_png(encoded, channels)
    except Exception as error:  # a decoder fed garbage may raise anything
        raise Undecodable(short_reason(f"{error}; TensorFlow: {refusal}")) from error
    still = tensorflow_refusal(converted, channels)
    if still is not None:
        raise Undecodable(
            short_reason(f"converted by Pillow, still refused by TensorFlow: {still}")
        )
    return converted, True


def job_threads() -> int:
    """The cores the job gave TensorFlow (its thread pool, or TF_NUM_INTRAOP_THREADS); 0: all.

    tf.data's own thread pool follows neither setting, so the check's map is sized by it.
    """
    configured = tf.config.threading.get_intra_op_parallelism_threads()
    return configured or int(os.environ.get("TF_NUM_INTRAOP_THREADS", "0"))


def decoded_by_tensorflow(images: list[bytes], channels: int) -> np.ndarray:
    """Which images (a bool per image) the input pipeline's decode call accepts.

    A parallel tf.data map over (index, bytes); ``ignore_errors`` drops the images whose
    decode fails, so the indices that come out are the good ones. The map uses no more
    threads than the job was given.
    """
    good = np.zeros(len(images), bool)
    if not images:
        return good
    options = tf.data.Options()
    options.threading.private_threadpool_size = job_threads()
    chunk_of = np.cumsum([len(encoded) for encoded in images]) // CHUNK_BYTES
    for chunk in np.split(np.arange(len(images)), np.flatnonzero(np.diff(chunk_of)) + 1):
        indices = (
            tf.data.Dataset.from_tensor_slices((chunk, [images[index] for index in chunk]))
            .with_options(options)
            .map(
                lambda index, encoded: (index, decoded_shape(encoded, channels)),
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=False,
            )
            .ignore_errors()
            .batch(len(chunk))
        )
        for batch, _shapes in indices:
            good[batch.numpy()] = True
    return good


def oversized(encoded: bytes, max_pixels: int) -> str | None:
    """Why an image is too large to decode, from its header alone; None when it is not (or when
    Pillow cannot read the header: the decode check then says why)."""
    try:
        with Image.open(io.BytesIO(encoded)) as image:
            width, height = image.size
    except Image.DecompressionBombError:  # Pillow opens nothing above twice its own limit
        return (
            f"over {2 * Image.MAX_IMAGE_PIXELS:,} pixels, above max_image_pixels "
            f"({max_pixels:,}): not decoded"
        )
    except Exception:  # not an image Pillow knows: left to the decode check
        return None
    if width * height <= max_pixels:
        return None
    return (
        f"{width}x{height} is {width * height:,} pixels, above max_image_pixels "
        f"({max_pixels:,}): not decoded"
    )


def check_split(data: LabelledImages, channels: int, max_pixels: int) -> CheckedSplit:
    """Decode every image of a split; keep the good ones in order, list the bad ones.

    Sizes are read from the headers first, so an image above ``max_pixels`` (a decompression
    bomb: a few hundred KB that decode to gigabytes) is listed and never decoded.
    """
    images = list(data.images)
    keep = np.ones(len(images), bool)
    bad, converted = [], 0
    for index, encoded in enumerate(images):
        reason = oversized(encoded, max_pixels)
        if reason:
            bad.append({"file": data.names[index], "reason": reason})
            keep[index] = False
            images[index] = b""
    for index in np.flatnonzero(~decoded_by_tensorflow(images, channels) & keep):
        try:
            images[index], was_converted = decodable(images[index], channels)
        except Undecodable as error:
            bad.append({"file": data.names[index], "reason": str(error)})
            keep[index] = False
        else:
            converted += was_converted
    kept = replace(data, images=images).subset(np.flatnonzero(keep))
    return CheckedSplit(kept, converted, bad)


def bad_images_message(dataset_name: str, bad: list[dict]) -> str:
    """Every bad file (the first LISTED_IN_ERROR, then a count) and the two ways out."""
    listed = [f"  {entry['file']}: {entry['reason']}" for entry in bad[:LISTED_IN_ERROR]]
    if len(bad) > LISTED_IN_ERROR:
        listed.append(f"  and {len(bad) - LISTED_IN_ERROR} more")
    return (
        f"datasets.{dataset_name}: {len(bad)} files are not images TensorFlow or Pillow can "
        "decode:\n" + "\n".join(listed) + "\nReplace or remove these files, or set "
        f"datasets.{dataset_name}.on_bad_image: skip to leave them out (they are then logged "
        "and listed in the manifest)."
    )


def check_source(dataset_name: str, source: SourceData, settings: dict) -> tuple[SourceData, dict]:
    """(the source with bad images left out and converted ones replaced, the manifest's "images").

    Raises BadImages, naming every bad file, when ``on_bad_image`` is fail.
    """
    checked = {
        split: check_split(data, settings["channels"], settings["max_image_pixels"])
        for split, data in source.splits.items()
    }
    not_read = [{"file": name, "reason": reason} for name, reason in source.not_read.items()]
    bad = not_read + [entry for result in checked.values() for entry in result.bad]
    if bad and settings["on_bad_image"] == "fail":
        raise BadImages(bad_images_message(dataset_name, bad))
    for entry in bad:
        log.warning("datasets.%s: skipping %s: %s", dataset_name, entry["file"], entry["reason"])
    converted = sum(result.converted for result in checked.values())
    if converted:
        log.info(
            "datasets.%s: %d images converted to PNG by Pillow (TensorFlow cannot decode them "
            "as they are with %d channels)",
            dataset_name,
            converted,
            settings["channels"],
        )
    images = {
        "checked": sum(len(data.labels) for data in source.splits.values()),
        "converted": converted,
        "skipped": bad,
        "on_bad_image": settings["on_bad_image"],
    }
    kept = {split: result.kept for split, result in checked.items()}
    return replace(source, splits=kept), images
