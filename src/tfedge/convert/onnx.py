"""SavedModel → ONNX with tf2onnx: input ``images`` (dynamic batch), output ``logits``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

INPUT_NAME, OUTPUT_NAME = "images", "logits"


def convert_onnx(savedmodel: str, artifact: Path, opset: int) -> dict:
    """Run tf2onnx's converter in a child process (it changes global TF state) and check it."""
    partial = artifact.with_name(artifact.name + ".partial")
    command = [
        sys.executable, "-m", "tf2onnx.convert",
        "--saved-model", savedmodel,
        "--signature_def", "serving_default",
        "--opset", str(opset),
        "--rename-inputs", INPUT_NAME,
        "--rename-outputs", OUTPUT_NAME,
        "--output", str(partial),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"tf2onnx exited {result.returncode}: {result.stderr[-400:]}")
    partial.replace(artifact)
    import onnx

    model = onnx.load(str(artifact))
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    return {
        "opset": opset,
        "input": model.graph.input[0].name,
        "output": model.graph.output[0].name,
        "dynamic_batch": not batch.HasField("dim_value"),
    }
