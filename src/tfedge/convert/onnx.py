"""ONNX models for every precision: fp32 from the SavedModel with tf2onnx, then fp16 and int8.

Each keeps input ``images`` (dynamic batch) and output ``logits`` in float32; ONNX Runtime runs
all three on the CPU, and TensorRT builds an engine of each precision from its model. The int8
model is made in tfedge.convert.quantize; OpenVINO runs it too (openvino_int8).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tfedge.formats import Format

INPUT_NAME, OUTPUT_NAME = "images", "logits"


def convert(source: Path, artifact: Path, fmt: Format, settings: dict, manifest: str) -> dict:
    """fp32 from the SavedModel; fp16 and int8 from the fp32 ONNX model (``source``)."""
    if fmt.precision == "fp16":
        return convert_float16(source, artifact)
    if fmt.precision == "int8":
        from tfedge.convert.quantize import quantize_int8

        return quantize_int8(
            source, artifact, settings["calibration_images"], manifest,
            float_first_convolution=settings["float_first_convolution"],
            float_share=settings["onnx_int8_float_share"],
        )  # fmt: skip
    return convert_onnx(str(source), artifact, settings["onnx_opset"])


def convert_onnx(savedmodel: str, artifact: Path, opset: int) -> dict:
    """Run tf2onnx's converter in a child process (it changes global TF state) and check it."""
    command = [
        sys.executable, "-m", "tf2onnx.convert",
        "--saved-model", savedmodel,
        "--signature_def", "serving_default",
        "--opset", str(opset),
        "--rename-inputs", INPUT_NAME,
        "--rename-outputs", OUTPUT_NAME,
        "--output", str(artifact),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"tf2onnx exited {result.returncode}: {result.stderr[-400:]}")
    import onnx

    model = onnx.load(str(artifact))
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    return {
        "opset": opset,
        "input": model.graph.input[0].name,
        "output": model.graph.output[0].name,
        "dynamic_batch": not batch.HasField("dim_value"),
    }


def convert_float16(onnx_fp32: Path, artifact: Path) -> dict:
    """The fp32 ONNX model with float16 weights and arithmetic, float32 input and output.

    Casts at the edges keep the runners' float32 interface; TensorRT builds its FP16 engine
    from this model as a strongly typed network.
    """
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(onnx_fp32)), keep_io_types=True)
    onnx.save(model, str(artifact))
    return {"weights": "fp16", "input_type": "float32", "output_type": "float32"}
