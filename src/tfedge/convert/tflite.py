"""SavedModel → TFLite (LiteRT) in fp32, fp16 weights, or full integer (int8)."""

from __future__ import annotations

from pathlib import Path

from tfedge.convert.calibration import calibration_images
from tfedge.formats import Format
from tfedge.keras_env import tf

CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")


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
        artifact.write_bytes(quantize_int8(savedmodel, settings, manifest_path, details))
        return details
    artifact.write_bytes(converter.convert())
    return details


def float_head(model_content: bytes) -> list[str]:
    """The output tensors of the ops from the input up to the first convolution, the one that
    sees the raw image (none for a model without one), as the (float) model names them."""
    from ai_edge_litert.interpreter import Interpreter

    model = Interpreter(model_content=model_content)
    names = {tensor["index"]: tensor["name"] for tensor in model.get_tensor_details()}
    head = []
    for op in model._get_ops_details():  # the op list LiteRT exposes, in execution order
        head.append(names[op["outputs"][0]])
        if op["op_name"] in CONVOLUTIONS:
            return head
    return []


def quantize_int8(savedmodel: str, settings: dict, manifest_path: str, details: dict) -> bytes:
    """Full-integer TFLite, calibrated on training images, with int8 input and output unless
    ``tflite_int8_io`` is float.

    With ``float_first_convolution``, the ops up to the first convolution stay float. That is
    what the converter's quantisation debugger does with a deny-list; its steps are taken here
    directly (calibrate once, name the head in the calibrated float model, quantise with the
    head denied) because the debugger also builds and loads an instrumented model and needs a
    second float conversion to name the head: 28.9 s against 17.6 s for a MobileNet's
    conversion, measured in the default run's job records.
    """
    images = calibration_images(manifest_path, settings["calibration_images"])
    converter = tf.lite.TFLiteConverter.from_saved_model(savedmodel)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([image[None]] for image in images)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    integer_io = settings["tflite_int8_io"] == "int8"
    if integer_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        details.update(input_type="int8", output_type="int8")
    details.update(weights="int8", representative_images=len(images), float_layers=[])
    if not settings["float_first_convolution"]:
        return converter.convert()
    converter._experimental_calibrate_only = True  # as the quantisation debugger does
    calibrated = converter.convert()
    details["float_layers"] = float_head(calibrated)
    from tensorflow.lite.python import convert as lite_convert

    return lite_convert.mlir_quantize(
        calibrated, fully_quantize=integer_io, denylisted_nodes=details["float_layers"]
    )
