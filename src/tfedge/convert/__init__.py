"""Convert a trained SavedModel into inference formats, recording what happened and why.

Every conversion produces one folder (the convert rule's output) holding ``conversion.json``:
``status`` is ``ok`` (the format's model file is beside it), ``skipped`` (this machine cannot
produce the format; ``reason`` says why) or ``failed`` (the converter raised; ``reason`` holds
its message). No placeholder model is ever written. The folder is built under a temporary
name and moved into place, so a dying job leaves no half-converted model.

Each format's converter is a module of this package (``Format.converter``: savedmodel, tflite,
onnx, float16, quantize, openvino, tensorrt), imported only when a conversion needs it, and
imports its toolkit (TensorFlow, tf2onnx, ONNX Runtime, OpenVINO, TensorRT) only when it runs,
so a format that cannot run here records its skip in a fraction of a second
(tests/test_skip_paths.py runs that path with those imports blocked).
"""

from __future__ import annotations

import importlib
import logging
import shutil
import time
import traceback
from pathlib import Path
from types import ModuleType

from tfedge.files import atomic, read_json, write_json
from tfedge.formats import FORMATS, RECORD, TRAINED_MODEL, Format
from tfedge.integrity import describe_files, verify_recorded, verify_savedmodel

log = logging.getLogger(__name__)


def size_on_disk(path: str | Path) -> int:
    path = Path(path)
    if path.is_dir():
        return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())
    return path.stat().st_size


def converter_of(fmt: Format) -> ModuleType:
    """The format's converter module (``Format.converter``), imported when used.

    Each has ``convert(source, artifact, fmt, settings, manifest) -> details`` and, if its
    toolkit cannot run everywhere, ``unavailable_reason() -> str | None``.
    """
    return importlib.import_module(fmt.converter_module)


def skip_reason(fmt: Format, source: str) -> str | None:
    """Why ``fmt`` cannot be produced here, or None."""
    unavailable = getattr(converter_of(fmt), "unavailable_reason", None)
    reason = unavailable() if unavailable else None
    builds_on_another = fmt.built_from != TRAINED_MODEL
    if reason is None and builds_on_another and read_json(Path(source) / RECORD)["status"] != "ok":
        reason = f"the {fmt.built_from} conversion it builds from did not succeed"
    return reason


def verify_source(fmt: Format, source: str) -> None:
    """Check the model this format converts against the record of the job that made it:
    the trained run's train.json beside its SavedModel, or the source format's conversion.json.
    """
    if fmt.built_from == TRAINED_MODEL:
        verify_savedmodel(source)
    else:
        verify_recorded(Path(source) / RECORD)


def source_model(fmt: Format, source: str) -> Path:
    """The model a format converts: the trained SavedModel, or another format's model file."""
    if fmt.built_from == TRAINED_MODEL:
        return Path(source)
    return Path(source) / FORMATS[fmt.built_from].model_file


def _produce(fmt: Format, source: str, folder: Path, settings: dict, manifest: str) -> dict:
    artifact = folder / fmt.model_file
    details = converter_of(fmt).convert(
        source_model(fmt, source), artifact, fmt, settings, manifest
    )
    return {
        "artifact": fmt.model_file,
        "details": details,
        "size_bytes": size_on_disk(artifact),
        "files": describe_files(folder, [fmt.model_file]),
    }


def convert(
    variant: str, fmt: str, source: str, output_dir: str, settings: dict, manifest: str
) -> dict:
    """Produce format ``fmt`` from ``source`` into the folder ``output_dir`` and record it.

    ``source`` is the trained SavedModel, or the converted folder of the format this one is
    built from (ONNX fp16 and int8 from ONNX, TensorRT from the ONNX model of its precision);
    ``manifest`` locates the calibration images.
    """
    row = FORMATS[fmt]
    verify_source(row, source)
    record = {"variant": variant, "format": fmt, "status": "ok", "reason": None}
    started = time.perf_counter()
    with atomic(output_dir) as folder:
        folder.mkdir()
        try:
            reason = skip_reason(row, source)
            if reason is None:
                record.update(_produce(row, source, folder, settings, manifest))
            else:
                record.update(status="skipped", reason=reason)
        except Exception as error:  # a converter's failure is a result, recorded with its message
            log.error("%s → %s failed:\n%s", variant, fmt, traceback.format_exc())
            record.update(status="failed", reason=f"{type(error).__name__}: {error}"[:500])
            shutil.rmtree(folder)
            folder.mkdir()
        record["seconds"] = round(time.perf_counter() - started, 3)
        log.info("%s → %s: %s %s", variant, fmt, record["status"], record["reason"] or "")
        write_json(folder / RECORD, record)
    return record
