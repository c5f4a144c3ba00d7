"""ONNX → OpenVINO IR (fp32), and its int8 model by NNCF's post-training quantisation.

OpenVINO is what many deploy to Intel and AMD CPUs with. The fp32 IR is converted from the ONNX
model rather than the SavedModel: OpenVINO's ONNX front end needs no TensorFlow (so the job
never imports it) and gives the same graph the other ONNX-built formats share. It is saved
with fp32 weights (``compress_to_fp16=False``: OpenVINO's default halves them). The int8 model
is the fp32 IR quantised by NNCF, calibrated on training images (tfedge.convert.calibration),
with the ``convert.openvino_int8`` settings (how to correct biases for the quantisation error)
and ``convert.float_first_convolution``: whether the first convolution stays in float. It sees
the raw image, whose int8 rounding costs the most agreement with the float model for the least
time (measured in benchmarks/int8_levers.py: on the default run's MobileNets, keeping it float
lifted agreement from about 96 % to over 98 % at about the same batch-1 latency).
"""

from __future__ import annotations

from pathlib import Path

from tfedge.convert.calibration import calibration_images
from tfedge.formats import Format

MODEL = "model.xml"  # with model.bin beside it, inside the format's folder


def unavailable_reason() -> str | None:
    try:
        import openvino  # noqa: F401
    except ImportError as error:
        return f"openvino not importable ({error}); pip install openvino nncf"
    return None


def convert(source: Path, artifact: Path, fmt: Format, settings: dict, manifest: str) -> dict:
    """Write the IR into the folder ``artifact``; returns what the record says of it."""
    import openvino as ov

    artifact.mkdir()
    if fmt.precision == "int8":
        model, details = quantize(ov.Core().read_model(source / MODEL), settings, manifest)
    else:
        model, details = ov.convert_model(str(source)), {"converted_from": "onnx"}
    ov.save_model(model, str(artifact / MODEL), compress_to_fp16=False)
    return {**details, "openvino": ov.get_version()}


def quantize(model, settings: dict, manifest: str) -> tuple[object, dict]:
    """NNCF's post-training int8 quantisation of ``model`` on training images."""
    import nncf

    choices = settings["openvino_int8"]
    images = calibration_images(manifest, settings["calibration_images"])
    dataset = nncf.Dataset(list(images), lambda image: image[None])
    first = first_convolution(model) if settings["float_first_convolution"] else None
    quantized = nncf.quantize(
        model,
        dataset,
        subset_size=len(images),
        fast_bias_correction=choices["bias_correction"] == "fast",
        ignored_scope=nncf.IgnoredScope(names=[first] if first else []),
        model_type=None,
    )
    details = {
        "quantization": "NNCF post-training, int8 weights per channel and activations",
        "calibration_images": len(images),
        "bias_correction": choices["bias_correction"],
        "float_layers": [first] if first else [],
        "nncf": nncf.__version__,
    }
    return quantized, details


def first_convolution(model) -> str | None:
    """The name of the model's first convolution in execution order (None for a dense net)."""
    for op in model.get_ordered_ops():
        if op.get_type_name() in ("Convolution", "GroupConvolution"):
            return op.get_friendly_name()
    return None
