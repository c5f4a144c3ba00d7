"""SavedModel → TFLite (LiteRT) in fp32, fp16 weights, or full integer (int8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfedge.keras_env import tf


def calibration_images(manifest_path: str, count: int, seed: int = 0) -> np.ndarray:
    """``count`` training images (float32 in [0, 1]), shuffled with a fixed seed.

    Shared by TFLite's representative dataset and TensorRT's INT8 calibrator; always from the
    train split, never the test split the converted models are judged on.
    """
    from tfedge.data.pipeline import image_dataset

    images = []
    dataset = image_dataset(manifest_path, "train", batch_size=64, shuffle_seed=seed)
    for batch, _ in dataset:
        images.append(batch.numpy())
        if sum(len(part) for part in images) >= count:
            break
    return np.concatenate(images)[:count].astype(np.float32)


def convert_tflite(
    savedmodel: str, artifact: Path, precision: str, settings: dict, manifest_path: str
) -> dict:
    """Write ``artifact``; returns what the record should say about the model's types."""
    converter = tf.lite.TFLiteConverter.from_saved_model(savedmodel)
    details = {"weights": precision, "input_type": "float32", "output_type": "float32"}
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        images = calibration_images(manifest_path, settings["calibration_images"])
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[None]] for image in images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if settings["tflite_int8_io"] == "int8":
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
            details.update(input_type="int8", output_type="int8")
        details["representative_images"] = len(images)
    partial = artifact.with_name(artifact.name + ".partial")
    partial.write_bytes(converter.convert())
    partial.replace(artifact)
    return details
