"""SavedModel → TFLite (LiteRT) in fp32, fp16 weights, or full integer (int8)."""

from __future__ import annotations

from pathlib import Path

from tfedge.convert.calibration import calibration_images
from tfedge.formats import Format
from tfedge.keras_env import tf

CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")
# Training images the debugger runs to rank layers: the first of the calibration images.
DEBUG_IMAGES = 32


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
    """Full-integer TFLite, calibrated on training images, with float or int8 input and output
    as ``tflite_int8_io`` says.

    Some layers may stay float (``float_layers``): with ``float_first_convolution`` the ops up
    to the first convolution, then the share ``tflite_int8_float_share`` of the other
    quantised layers that int8 changes most (``sensitive_layers``; rounded down, so a small
    model keeps none). That is the converter's quantisation debugger's selective
    quantisation; its steps are taken here directly (calibrate once, measure and name layers
    in the calibrated model, quantise with them denied) because the debugger would calibrate
    a second time and convert the float model twice more: 28.9 s against 17.6 s for a
    MobileNet's conversion with only the head denied, measured in the default run's job records.
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
    share = settings["tflite_int8_float_share"]
    if not settings["float_first_convolution"] and not share:
        return converter.convert()
    converter._experimental_calibrate_only = True  # as the quantisation debugger does
    calibrated = converter.convert()
    denied = float_head(calibrated) if settings["float_first_convolution"] else []
    if share:
        debug_images = images[:DEBUG_IMAGES]
        ranked = sensitive_layers(calibrated, denied, debug_images)
        denied += ranked[: int(share * len(ranked))]
        details.update(debug_images=len(debug_images), ranked_layers=len(ranked))
    details["float_layers"] = denied
    from tensorflow.lite.python import convert as lite_convert

    return lite_convert.mlir_quantize(
        calibrated, fully_quantize=integer_io, denylisted_nodes=denied
    )


def sensitive_layers(calibrated: bytes, denied: list[str], images) -> list[str]:
    """The quantised layers of the calibrated model, most changed by int8 first: the root mean
    square of the difference between each layer's float and int8 outputs over ``images``, in
    units of its quantisation step (the quantisation debugger's numbers, as its selective
    quantisation guide ranks them), with the ``denied`` layers already float.
    """
    import csv
    import io

    from tensorflow.lite.python import convert as lite_convert

    debug_model = lite_convert.mlir_quantize(
        calibrated, enable_numeric_verify=True, denylisted_nodes=denied
    )
    debugger = tf.lite.experimental.QuantizationDebugger(
        quant_debug_model_content=debug_model,
        debug_dataset=lambda: ([image[None]] for image in images),
    )
    debugger.run()
    table = io.StringIO()
    debugger.layer_statistics_dump(table)
    table.seek(0)
    steps = {
        row["tensor_name"]: float(row["mean_squared_error"]) ** 0.5 / float(row["scale"])
        for row in csv.DictReader(table)
        if float(row["scale"]) > 0
    }
    return sorted(steps, key=steps.get, reverse=True)
