"""fp32 ONNX → fp16 ONNX: float16 weights and arithmetic, float32 input and output."""

from __future__ import annotations

from pathlib import Path

from tfedge.formats import Format


def convert(source: Path, artifact: Path, fmt: Format, settings: dict, manifest: str) -> dict:
    return convert_float16(source, artifact)


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
