"""SavedModel → TFLite (LiteRT) in fp32, fp16 weights, or full integer (int8)."""

from __future__ import annotations

from pathlib import Path

from tfedge.convert.calibration import calibration_images
from tfedge.formats import Format
from tfedge.keras_env import tf


def convert(source: Path, artifact: Path, fmt: Format, settings: dict, manifest: str) -> dict:
    return convert_tflite(str(source), artifact, fmt.precision, settings, manifest)


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
    artifact.write_bytes(converter.convert())
    return details
