"""ONNX → OpenVINO IR: fp32 from the fp32 ONNX model, int8 from the int8 one (onnx_int8).

OpenVINO is what many deploy to Intel and AMD CPUs with. Both IRs are converted from ONNX
models rather than the SavedModel: OpenVINO's ONNX front end needs no TensorFlow (so the job
never imports it) and gives the same graph the other ONNX-built formats share. The int8 IR is
onnx_int8's QDQ model as it stands, quantised by NNCF, OpenVINO's own quantiser
(tfedge.convert.quantize), which OpenVINO runs in int8: one int8 model, and so one set of
decisions, for ONNX Runtime, OpenVINO and TensorRT. Weights are saved as the model has them
(``compress_to_fp16=False``: OpenVINO's default would halve the fp32 ones).
"""

from __future__ import annotations

from pathlib import Path

from tfedge.formats import Format

MODEL = "model.xml"  # with model.bin beside it, inside the format's folder


def unavailable_reason() -> str | None:
    try:
        import openvino  # noqa: F401
    except ImportError as error:
        return f"openvino not importable ({error}); pip install openvino nncf"
    return None


def convert(source: Path, artifact: Path, fmt: Format, settings: dict, manifest: str) -> dict:
    """Write the IR of the ONNX model ``source`` into the folder ``artifact``."""
    import openvino as ov

    artifact.mkdir()
    ov.save_model(ov.convert_model(str(source)), str(artifact / MODEL), compress_to_fp16=False)
    return {"converted_from": fmt.built_from, "openvino": ov.get_version()}
