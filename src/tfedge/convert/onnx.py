"""SavedModel → fp32 ONNX with tf2onnx: the model every other ONNX-built format starts from.

The input is named ``images`` (dynamic batch) and the output ``logits``, both float32
(``tfedge.formats.INPUT_NAME``, ``OUTPUT_NAME``). The fp16 and int8 models are made from this
one (tfedge.convert.float16, tfedge.convert.quantize), OpenVINO's IRs from those, and TensorRT
builds an engine from the model of each precision.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tfedge.formats import INPUT_NAME, OUTPUT_NAME, Format


def convert(source: Path, artifact: Path, fmt: Format, settings: dict, manifest: str) -> dict:
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
