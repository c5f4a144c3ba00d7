"""The inference formats, one row each: the single table the rules, converters and runners read.

The rules take their wildcard patterns, conda environments and GPU requests from it, the
convert rule its settings slice, its input and the code it digests, and ``tfedge.convert`` its
dispatch. A new format is one row here plus its converter and runner. Pure data: imported
while Snakemake parses the workflow.

Each row names its converter and runner modules rather than importing them, and no converter
imports another's module: the code digest (tfedge.code_digest) follows imports, so editing a
converter reruns only the formats it makes, and what is built from them.
"""

from __future__ import annotations

from dataclasses import dataclass

TRAINED_MODEL = "trained"  # ``built_from`` of formats converted from the training's SavedModel

# The input and output of every ONNX-built model (ONNX, OpenVINO, TensorRT), from the export on.
INPUT_NAME, OUTPUT_NAME = "images", "logits"


@dataclass(frozen=True)
class Format:
    name: str
    family: str  # savedmodel | tflite | onnx | openvino | tensorrt: the runtime that runs it
    precision: str  # fp32 | fp16 | int8
    runtime: str  # what runs it in the benchmark
    environment: str  # conda environment (envs/<environment>.yaml) of its jobs
    needs_gpu: bool
    settings: tuple[str, ...]  # keys under ``convert`` its conversion reads
    model_file: str  # the model inside the converted folder
    built_from: str  # TRAINED_MODEL, or the format whose converted folder it builds on
    converter: str  # module of tfedge.convert with its convert() (and unavailable_reason())
    runner: str  # module of tfedge.convert with its runtime's runner

    @property
    def converter_module(self) -> str:
        return f"tfedge.convert.{self.converter}"

    @property
    def runner_module(self) -> str:
        return f"tfedge.convert.{self.runner}"


def _tflite(precision: str, settings: tuple[str, ...] = ()) -> Format:
    return Format(
        f"tflite_{precision}", "tflite", precision, "LiteRT", "tensorflow", False, settings,
        "model.tflite", TRAINED_MODEL, "tflite", "runtimes",
    )  # fmt: skip


# fp32 is exported from the SavedModel (tf2onnx); fp16 and int8 are made from the fp32 model.
ONNX_CONVERTERS = {"fp32": "onnx", "fp16": "float16", "int8": "quantize"}


def _onnx(precision: str, settings: tuple[str, ...]) -> Format:
    name = "onnx" if precision == "fp32" else f"onnx_{precision}"
    built_from = TRAINED_MODEL if precision == "fp32" else "onnx"
    return Format(
        name, "onnx", precision, "ONNX Runtime", "tensorflow", False, settings, "model.onnx",
        built_from, ONNX_CONVERTERS[precision], "runtimes",
    )  # fmt: skip


def _openvino(precision: str, settings: tuple[str, ...]) -> Format:
    """From the ONNX model of the same precision (no TensorFlow needed): int8 runs onnx_int8's."""
    built_from = _onnx(precision, ()).name
    return Format(
        f"openvino_{precision}", "openvino", precision, "OpenVINO", "tensorflow", False, settings,
        "ir", built_from, "openvino", "runtimes",
    )  # fmt: skip


def _tensorrt(precision: str) -> Format:
    """A strongly typed engine built from the ONNX model of the same precision; its builder
    and its runner are separate modules, so editing one does not redo the other's jobs."""
    return Format(
        f"tensorrt_{precision}", "tensorrt", precision, "TensorRT", "tensorrt", True,
        ("tensorrt",), "model.engine", _onnx(precision, ()).name, "tensorrt",
        "tensorrt_runtime",
    )  # fmt: skip


FORMATS: dict[str, Format] = {
    row.name: row
    for row in (
        Format(
            "savedmodel",
            "savedmodel",
            "fp32",
            "TensorFlow",
            "tensorflow",
            False,
            (),
            "savedmodel",
            TRAINED_MODEL,
            "savedmodel",
            "runtimes",
        ),  # fmt: skip
        _tflite("fp32"),
        _tflite("fp16"),
        _tflite(
            "int8",
            (
                "calibration_images",
                "tflite_int8_io",
                "tflite_int8_float_share",
                "float_first_convolution",
            ),
        ),
        _onnx("fp32", ("onnx_opset",)),
        _onnx("fp16", ()),
        _onnx("int8", ("calibration_images", "float_first_convolution", "onnx_int8_float_share")),
        _openvino("fp32", ()),
        _openvino("int8", ()),
        _tensorrt("fp32"),
        _tensorrt("fp16"),
        _tensorrt("int8"),
    )
}

RECORD = "conversion.json"  # what happened, inside every converted folder


def pattern(environment: str) -> str:
    """Wildcard regex matching exactly the formats whose jobs run in ``environment``."""
    return "|".join(name for name, row in FORMATS.items() if row.environment == environment)


def settings_slice(name: str, convert_settings: dict) -> dict:
    """Only the ``convert`` keys this format reads, so other edits do not rerun it."""
    return {key: convert_settings[key] for key in sorted(FORMATS[name].settings)}
