"""Convert a trained SavedModel into inference formats, recording what happened and why.

Every conversion writes ``conversion.json``: ``status`` is ``ok`` (the model file is beside
it), ``skipped`` (this machine cannot produce the format; ``reason`` says why) or ``failed``
(the converter raised; ``reason`` holds its message). No placeholder model is ever written.
"""

from __future__ import annotations

import logging
import shutil
import time
import traceback
from pathlib import Path

from tfedge.files import read_json, write_json

log = logging.getLogger(__name__)

ARTIFACTS = {"onnx": "model.onnx", "tensorrt": "model.engine", "tflite": "model.tflite"}


def family(fmt: str) -> str:
    """``tflite_int8`` → ``tflite``; ``savedmodel`` stays itself."""
    return fmt.split("_", 1)[0]


def precision(fmt: str) -> str:
    return fmt.split("_", 1)[1] if "_" in fmt else "fp32"


def size_on_disk(path: str | Path) -> int:
    path = Path(path)
    if path.is_dir():
        return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())
    return path.stat().st_size


def _produce(fmt: str, savedmodel: str, out_dir: Path, settings: dict, inputs: dict) -> dict:
    """Run the converter for ``fmt``; returns the record's format-specific fields."""
    kind = family(fmt)
    if kind == "savedmodel":
        return {"artifact": str(Path(savedmodel).resolve()), "details": {"role": "reference"}}
    artifact = out_dir / ARTIFACTS[kind]
    if kind == "tflite":
        from tfedge.convert.tflite import convert_tflite

        details = convert_tflite(savedmodel, artifact, precision(fmt), settings, inputs["manifest"])
    elif kind == "onnx":
        from tfedge.convert.onnx import convert_onnx

        details = convert_onnx(savedmodel, artifact, settings["onnx_opset"])
    else:
        from tfedge.convert import tensorrt

        details = tensorrt.convert_from_onnx_record(
            inputs["onnx_record"], artifact, precision(fmt), settings, inputs["manifest"]
        )
    return {"artifact": artifact.name, "details": details}


def skip_reason(fmt: str, inputs: dict) -> str | None:
    """Why ``fmt`` cannot be produced here, or None."""
    if family(fmt) != "tensorrt":
        return None
    from tfedge.convert.tensorrt import unavailable_reason

    reason = unavailable_reason()
    if reason is None and read_json(inputs["onnx_record"])["status"] != "ok":
        reason = "the ONNX conversion it builds from did not succeed"
    return reason


def convert(
    variant: str, fmt: str, savedmodel: str, record_path: str, settings: dict, inputs: dict
) -> dict:
    """Produce ``fmt`` from ``savedmodel`` next to ``record_path`` and write the record.

    ``inputs`` holds ``manifest`` (for calibration data) and, for TensorRT, ``onnx_record``.
    """
    out_dir = Path(record_path).parent
    for stale in out_dir.glob("model.*"):
        stale.unlink()
    record = {"variant": variant, "format": fmt, "status": "ok", "reason": None}
    started = time.perf_counter()
    reason = skip_reason(fmt, inputs)
    if reason is not None:
        record.update(status="skipped", reason=reason)
    else:
        try:
            record.update(_produce(fmt, savedmodel, out_dir, settings, inputs))
            artifact = Path(record["artifact"])
            record["size_bytes"] = size_on_disk(out_dir / artifact)
        except Exception as error:  # a converter's failure is a result, recorded with its message
            log.error("%s → %s failed:\n%s", variant, fmt, traceback.format_exc())
            record.update(status="failed", reason=f"{type(error).__name__}: {error}"[:500])
            shutil.rmtree(out_dir / "work", ignore_errors=True)
    record["seconds"] = round(time.perf_counter() - started, 3)
    log.info("%s → %s: %s %s", variant, fmt, record["status"], record["reason"] or "")
    write_json(record_path, record)
    return record
