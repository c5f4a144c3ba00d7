"""What each int8 lever does to a trained model: agreement with the SavedModel and batch-1 speed.

Takes a finished run's results folder (the default config's, say) and, for each variant, starts
from its ONNX model: quantises it in several ways and judges each on the test split against the
SavedModel's own predictions (the evaluate job's), timing batch 1 like the benchmark job does.
It also converts the fp32 IR from the SavedModel beside the one from ONNX, to compare the
graphs. The levers: how many calibration images, NNCF's bias correction (fast or full), NNCF's
preset (performance: symmetric activations; mixed: asymmetric), NNCF's accuracy-aware mode
(judged on the validation split, never the test split), ONNX Runtime's static QDQ model with
uint8 activations (CPU only; TensorRT runs symmetric int8), and the product's own tflite_int8
(int8 input and output; the first convolution float; and the layers the quantisation debugger
finds most changed by int8 float too) and onnx_int8 (NNCF's, with the first convolution in int8
or float, and the nodes a plain quantisation changes most float too; run by ONNX Runtime and by
OpenVINO, as openvino_int8 runs it), beside ONNX Runtime's own quantiser in the same scheme.
By hand:

    .venv/bin/python benchmarks/int8_levers.py results \\
        --variants mobilenet_frozen mobilenet_finetuned
    .venv/bin/python benchmarks/int8_levers.py results --levers product \\
        --variants mobilenet_frozen mobilenet_finetuned

Prints one row per variant and lever: agreement (%), test accuracy (%), p50 batch-1 latency (ms)
and the speed-up over the SavedModel.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from tfedge import paths
from tfedge.bench import latency_stats, time_calls
from tfedge.convert.calibration import calibration_images
from tfedge.convert.quantize import CalibrationReader
from tfedge.convert.runtimes import (
    LiteRTRunner,
    OnnxRuntimeRunner,
    OpenVINORunner,
    SavedModelRunner,
)
from tfedge.data import plain


def split(manifest: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    found = list(plain.split_images(manifest, name))
    return np.stack([image for _, image, _ in found]), np.array([label for _, _, label in found])


def p50_ms(runner, image: np.ndarray, repeats: int) -> float:
    """Batch-1 p50 as the benchmark job times it: 10 untimed calls, then ``repeats`` timed."""
    seconds = time_calls(lambda: runner.predict(image), 10, repeats, time.perf_counter)
    return latency_stats(seconds)["p50_ms"]


def predictions(runner, images: np.ndarray, batch: int = 32) -> np.ndarray:
    return np.concatenate(
        [runner.predict(images[i : i + batch]).argmax(axis=1) for i in range(0, len(images), batch)]
    )


def openvino_levers(ir: Path, folder: Path, manifest: str, sizes: list[int]) -> dict[str, Path]:
    """NNCF-quantised IRs: by calibration size, bias correction and activation scheme."""
    import nncf
    import openvino as ov

    core, made = ov.Core(), {}
    for size in sizes:
        data = nncf.Dataset(list(calibration_images(manifest, size)), lambda image: image[None])
        for correction in ("fast", "full"):
            for preset in (nncf.QuantizationPreset.PERFORMANCE, nncf.QuantizationPreset.MIXED):
                name = f"openvino {size} images, {correction} bias, {preset.value}"
                model = nncf.quantize(
                    core.read_model(str(ir)), data, preset=preset, subset_size=size,
                    fast_bias_correction=correction == "fast",
                )  # fmt: skip
                made[name] = save(model, folder, name)
    return made


def save(model, folder: Path, name: str) -> Path:
    import openvino as ov

    target = folder / name.replace(" ", "_").replace(",", "")
    target.mkdir()
    ov.save_model(model, str(target / "model.xml"), compress_to_fp16=False)
    return target


def accuracy_aware(ir: Path, folder: Path, manifest: str, size: int) -> Path:
    """NNCF's accuracy-aware quantisation: layers back to float until the validation split's
    accuracy drops by at most 1 point."""
    import nncf
    import openvino as ov

    images, labels = split(manifest, "validation")

    def validate(compiled, items) -> float:
        output = compiled.outputs[0]
        right = [compiled(image[None])[output].argmax() == label for image, label in items]
        return float(np.mean(right))

    calibration = nncf.Dataset(list(calibration_images(manifest, size)), lambda im: im[None])
    validation = nncf.Dataset(list(zip(images, labels)), lambda item: item[0][None])
    model = nncf.quantize_with_accuracy_control(
        ov.Core().read_model(str(ir)), calibration, validation,
        validation_fn=lambda compiled, data: validate(compiled, zip(images, labels)),
        max_drop=0.01, subset_size=size,
    )  # fmt: skip
    target = folder / "accuracy_aware"
    target.mkdir()
    ov.save_model(model, str(target / "model.xml"), compress_to_fp16=False)
    return target


def onnx_asymmetric(onnx: Path, folder: Path, manifest: str, size: int) -> Path:
    """ONNX Runtime's static QDQ model with uint8 activations and a zero point (CPU only)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared, target = folder / "prepared.onnx", folder / "asymmetric.onnx"
    quant_pre_process(str(onnx), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        str(prepared), str(target), CalibrationReader(calibration_images(manifest, size)),
        quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8, per_channel=True, calibrate_method=CalibrationMethod.MinMax,
    )  # fmt: skip
    return target


def nncf_and_onnx_levers(
    savedmodel: Path, onnx: Path, folder: Path, manifest: str, sizes: list[int], threads: int
) -> dict:
    """The fp32 IRs (from ONNX and from the SavedModel), NNCF's levers, its accuracy-aware mode
    and ONNX Runtime's uint8 activations, each run in its runtime."""
    import openvino as ov

    for source, name in ((onnx, "fp32"), (savedmodel, "fp32_from_savedmodel")):
        (folder / name).mkdir()
        ov.save_model(ov.convert_model(str(source)), str(folder / name / "model.xml"),
                      compress_to_fp16=False)  # fmt: skip
    runners = {
        "openvino fp32 (from ONNX)": OpenVINORunner(folder / "fp32", threads),
        "openvino fp32 (from SavedModel)": OpenVINORunner(folder / "fp32_from_savedmodel", threads),
    }
    made = openvino_levers(folder / "fp32/model.xml", folder, manifest, sizes)
    made["openvino accuracy-aware"] = accuracy_aware(
        folder / "fp32/model.xml", folder, manifest, max(sizes)
    )
    runners |= {name: OpenVINORunner(path, threads) for name, path in made.items()}
    asymmetric = onnx_asymmetric(onnx, folder, manifest, max(sizes))
    runners["onnx uint8 activations"] = OnnxRuntimeRunner(asymmetric, threads)
    return runners


TFLITE_LEVERS = {  # name: (float_first_convolution, tflite_int8_float_share, tflite_int8_io)
    "tflite_int8, int8 input and output": (False, 0.0, "int8"),
    "tflite_int8, first convolution float": (True, 0.0, "float"),
    "tflite_int8, first convolution and the most changed 15 % float": (True, 0.15, "float"),
}


ONNX_LEVERS = {  # name: (float_first_convolution, onnx_int8_float_share)
    "onnx_int8, first convolution int8": (False, 0.0),
    "onnx_int8, first convolution float": (True, 0.0),
    "onnx_int8, first convolution and the most changed 7 % float": (True, 0.07),
}


def product_int8(
    savedmodel: Path, onnx: Path, folder: Path, manifest: str, size: int, threads: int
) -> dict:
    """The product's own tflite_int8 (TFLITE_LEVERS) and onnx_int8 (ONNX_LEVERS, each run by
    ONNX Runtime and, as openvino_int8, by OpenVINO) conversions, and ONNX Runtime's plain
    quantisation in the same scheme (what onnx_int8 was before NNCF's bias correction)."""
    import onnx as onnx_lib

    from tfedge.convert.quantize import float_head, fold_column_scales, plain_int8
    from tfedge.convert.quantize import quantize_int8 as onnx_int8
    from tfedge.convert.tflite import quantize_int8 as tflite_int8

    runners = {}
    for index, (name, (float_first, share, io)) in enumerate(TFLITE_LEVERS.items()):
        settings = {
            "calibration_images": size,
            "tflite_int8_io": io,
            "tflite_int8_float_share": share,
            "float_first_convolution": float_first,
        }
        tflite = folder / f"tflite_int8_{index}.tflite"
        tflite.write_bytes(tflite_int8(str(savedmodel), settings, manifest, {}))
        runners[name] = LiteRTRunner(tflite, threads)
    for index, (name, (float_first, share)) in enumerate(ONNX_LEVERS.items()):
        quantized = folder / f"onnx_int8_{index}.onnx"
        onnx_int8(onnx, quantized, size, manifest, float_first, share)
        runners[f"{name} (ONNX Runtime)"] = OnnxRuntimeRunner(quantized, threads)
        runners[f"{name} (OpenVINO)"] = OpenVINORunner(save_ir(quantized, folder), threads)
    folded = onnx_lib.load(str(onnx))
    fold_column_scales(folded)
    onnx_lib.save(folded, str(folder / "folded.onnx"))
    plain, images = folder / "plain.onnx", calibration_images(manifest, size)
    plain_int8(folder / "folded.onnx", plain, images, float_head(folded))
    runners["ONNX Runtime's quantiser, first convolution float"] = OnnxRuntimeRunner(plain, threads)
    return runners


def save_ir(onnx: Path, folder: Path) -> Path:
    """The IR of an ONNX model, converted as openvino_int8 is."""
    import openvino as ov

    target = folder / f"{onnx.stem}_ir"
    target.mkdir()
    ov.save_model(ov.convert_model(str(onnx)), str(target / "model.xml"), compress_to_fp16=False)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--variants", nargs="+", default=["mobilenet_frozen"])
    parser.add_argument("--images", type=int, nargs="+", default=[100, 300])
    parser.add_argument(
        "--calibration-images", type=int, default=200, help="for the product's own conversions"
    )
    parser.add_argument("--threads", type=int, default=2, help="the benchmark job's threads here")
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument(
        "--levers",
        choices=["all", "product"],
        default="all",
        help="product: only the product's own tflite_int8 and onnx_int8 levers",
    )
    options = parser.parse_args()
    root = options.results.parent
    for variant in options.variants:
        manifest = str(root / paths.manifest(_dataset_of(root, variant)))
        images, labels = split(manifest, "test")
        with np.load(root / paths.predictions(variant, 0)) as reference:
            expected = reference["predicted"]
        savedmodel = root / paths.model_file(variant, 0, "savedmodel")
        base_ms = p50_ms(SavedModelRunner(savedmodel, options.threads), images[:1], options.repeats)
        onnx = root / paths.converted_dir(variant, "onnx") / "model.onnx"
        with tempfile.TemporaryDirectory(prefix="tfedge-int8-") as scratch:
            folder = Path(scratch)
            runners = {"onnx fp32": OnnxRuntimeRunner(onnx, options.threads)}
            if options.levers == "all":
                runners |= nncf_and_onnx_levers(
                    savedmodel, onnx, folder, manifest, options.images, options.threads
                )
            runners |= product_int8(
                savedmodel, onnx, folder, manifest, options.calibration_images, options.threads
            )
            print(f"{variant}: SavedModel p50 {base_ms:.2f} ms", flush=True)
            for name, runner in runners.items():
                predicted = predictions(runner, images)
                ms = p50_ms(runner, images[:1], options.repeats)
                agreement = 100 * np.mean(predicted == expected)
                accuracy = 100 * np.mean(predicted == labels)
                print(f"{variant} | {name} | {agreement:.2f} | {accuracy:.2f} | {ms:.2f} | "
                      f"{base_ms / ms:.2f}x", flush=True)  # fmt: skip


def _dataset_of(root: Path, variant: str) -> str:
    from tfedge.files import read_json

    return read_json(root / paths.model_file(variant, 0, "train.json"))["dataset"]


if __name__ == "__main__":
    main()
