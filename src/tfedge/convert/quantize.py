"""fp32 ONNX → static QDQ int8 ONNX: one int8 model that ONNX Runtime, OpenVINO and TensorRT run."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from tfedge.formats import INPUT_NAME, Format

# Training images that rank the nodes int8 hurts most: the first of the calibration images.
DEBUG_IMAGES = 32


class CalibrationReader:
    """ONNX Runtime's calibration data reader over training images, one image per run."""

    def __init__(self, images) -> None:
        self.images = iter(images)

    def get_next(self) -> dict | None:
        image = next(self.images, None)
        return None if image is None else {INPUT_NAME: image[None]}


def fold_column_scales(model) -> int:
    """Fold each constant per-column ``Mul`` after a constant-weight ``MatMul`` into its weights.

    tf2onnx leaves a batch normalisation after a dense layer as MatMul → Mul → Add. Quantised
    as it stands, the layer's output is requantised after the Mul and again after the Add,
    each time with one scale for all columns, and the scale vector itself is squeezed into
    one int8 range; on the tiny test CNN that flipped 3 of 120 test decisions, against 1 with
    the Mul and Add left in float. Folded, the matrix holds the scales in float before
    per-channel quantisation, and the Add becomes the layer's float bias. Returns the count.
    """
    from onnx import numpy_helper

    graph = model.graph
    constants = {tensor.name: tensor for tensor in graph.initializer}
    uses = Counter(name for node in graph.node for name in node.input)
    producers = {output: node for node in graph.node for output in node.output}
    folded = 0
    for mul in [node for node in graph.node if node.op_type == "Mul"]:
        scale_names = [name for name in mul.input if name in constants]
        data_names = [name for name in mul.input if name not in constants]
        if len(scale_names) != 1 or len(data_names) != 1:
            continue
        matmul = producers.get(data_names[0])
        if matmul is None or matmul.op_type != "MatMul" or uses[data_names[0]] != 1:
            continue
        weight_name = matmul.input[1]
        if weight_name not in constants or uses[weight_name] != 1:
            continue
        weights = numpy_helper.to_array(constants[weight_name])
        scale = numpy_helper.to_array(constants[scale_name := scale_names[0]])
        if weights.ndim != 2 or scale.ndim > 2 or scale.size not in (1, weights.shape[1]):
            continue
        scaled = (weights * scale.reshape(-1)).astype(weights.dtype)
        constants[weight_name].CopyFrom(numpy_helper.from_array(scaled, weight_name))
        matmul.output[0] = mul.output[0]
        graph.node.remove(mul)
        uses[scale_name] -= 1
        folded += 1
    unused = [
        tensor for tensor in graph.initializer if tensor.name in uses and not uses[tensor.name]
    ]
    for tensor in unused:
        graph.initializer.remove(tensor)
    return folded


def float_head(model) -> list[str]:
    """The nodes up to and including the first Conv (ONNX graphs are in execution order): the
    convolution that sees the raw image and the input scaling in front of it; none for a
    model without a convolution."""
    head = []
    for node in model.graph.node:
        head.append(node.name)
        if node.op_type == "Conv":
            return head
    return []


def convert(source: Path, artifact: Path, fmt: Format, settings: dict, manifest: str) -> dict:
    return quantize_int8(
        source, artifact, settings["calibration_images"], manifest,
        float_first_convolution=settings["float_first_convolution"],
        float_share=settings["onnx_int8_float_share"],
    )  # fmt: skip


def quantize_int8(
    onnx_fp32: Path,
    artifact: Path,
    count: int,
    manifest_path: str,
    float_first_convolution: bool = True,
    float_share: float = 0.0,
) -> dict:
    """Static QDQ int8 quantisation of the fp32 ONNX model by NNCF, calibrated on training images.

    The scheme is the one TensorRT accepts for explicit quantisation, so its int8 engine runs
    this very model, as does OpenVINO (openvino_int8): signed int8 with zero point 0, weights
    per output channel, float biases. Weights keep to [-64, 64] (NNCF's overflow fix): ONNX
    Runtime's and OpenVINO's AVX2 int8 kernels add pairs of 8-bit products in saturating 16-bit
    arithmetic, which full-range weights overflow on CPUs without VNNI. NNCF corrects each
    layer's bias for the shift its quantisation causes (the full, not the fast, correction);
    ONNX Runtime's own quantiser does not, and kept about 95 % of the MobileNets' decisions
    against 97–98 % (benchmarks/int8_levers.py). With ``float_first_convolution`` the
    convolution that sees the raw image and the input scaling before it stay float, and
    ``float_share`` of the other nodes, those int8 moves furthest from the float model, too.
    """
    import nncf
    import onnx
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix

    from tfedge.convert.calibration import calibration_images

    images = calibration_images(manifest_path, count)
    model = onnx.load(str(onnx_fp32))
    folded = fold_column_scales(model)
    head = float_head(model) if float_first_convolution else []
    details: dict = {}
    sensitive: list[str] = []
    if float_share:
        ranked = sensitive_nodes(model, images[:DEBUG_IMAGES], head)
        sensitive = ranked[: int(float_share * len(ranked))]
        details.update(debug_images=len(images[:DEBUG_IMAGES]), ranked_nodes=len(ranked))
    quantized = nncf.quantize(
        model,
        nncf.Dataset(list(images), lambda image: {INPUT_NAME: image[None]}),
        subset_size=len(images),
        fast_bias_correction=False,
        ignored_scope=nncf.IgnoredScope(names=head + sensitive, validate=False),
        advanced_parameters=AdvancedQuantizationParameters(overflow_fix=OverflowFix.ENABLE),
    )
    signed = signed_activations(quantized)
    onnx.save(quantized, str(artifact))
    return {
        "quantization": "QDQ, int8, zero point 0, weights per channel in [-64, 64], float biases",
        "calibration": "NNCF min-max, full bias correction",
        "calibration_images": len(images),
        "folded_scales": folded,
        "signed_activations": signed,
        **details,
        "float_layers": head + sensitive,
        "quantized_tensors": sum(node.op_type == "QuantizeLinear" for node in quantized.graph.node),
        "nncf": nncf.__version__,
    }


def signed_activations(model) -> int:
    """Rewrite NNCF's unsigned activation quantisers (uint8, zero point 0, after a ReLU) as
    signed int8 ones over the same range, as TensorRT requires: the scale grows by 255/127,
    one bit of resolution the engine gives up anyway. Returns how many were rewritten."""
    from onnx import TensorProto, numpy_helper

    constants = {tensor.name: tensor for tensor in model.graph.initializer}
    rewritten = set()
    for node in model.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear") or len(node.input) < 3:
            continue
        zero_point = constants[node.input[2]]
        if zero_point.data_type != TensorProto.UINT8 or node.input[2] in rewritten:
            continue
        values = numpy_helper.to_array(zero_point)
        if values.any():
            raise ValueError(f"{node.name}: an asymmetric quantiser; TensorRT needs zero point 0")
        scale = constants[node.input[1]]
        wider = numpy_helper.to_array(scale) * np.float32(255 / 127)
        scale.CopyFrom(numpy_helper.from_array(wider.astype(np.float32), scale.name))
        zero_point.CopyFrom(numpy_helper.from_array(values.astype(np.int8), zero_point.name))
        rewritten.add(node.input[2])
    del model.graph.value_info[:]  # types inferred for uint8 tensors no longer hold
    return len(rewritten)


def sensitive_nodes(model, images: np.ndarray, excluded: list[str]) -> list[str]:
    """The model's nodes, those whose output int8 moves furthest from the float model's first.

    Ranked on a plain quantisation (ONNX Runtime's, no bias correction; ``plain_int8``) by the
    signal-to-quantisation-noise ratio of each output against the float model's over
    ``images`` (ONNX Runtime's QDQ debugging tool). NNCF's bias correction repairs much of the
    rest, but not what these nodes lose.
    """
    import onnx
    from onnxruntime.quantization import qdq_loss_debug as debug

    feeds = [{INPUT_NAME: image[None]} for image in images]
    with tempfile.TemporaryDirectory(prefix="tfedge-rank-") as scratch:
        float_model, plain = Path(scratch, "float.onnx"), Path(scratch, "plain.onnx")
        onnx.save(model, str(float_model))
        plain_int8(float_model, plain, images, excluded)
        outputs = {}
        for name, path in (("float", float_model), ("plain", plain)):
            every = Path(scratch, f"{name}_every_output.onnx")
            debug.modify_model_output_intermediate_tensors(path, every)
            outputs[name] = debug.collect_activations(str(every), feeds)
    matched = debug.create_activation_matching(outputs["plain"], outputs["float"])
    errors = debug.compute_activation_error(matched)
    producers = {output: node.name for node in model.graph.node for output in node.output}
    ratios = {
        producers[tensor]: error["xmodel_err"]
        for tensor, error in errors.items()
        if "xmodel_err" in error and tensor in producers
    }
    return sorted(ratios, key=ratios.get)


def plain_int8(onnx_fp32: Path, artifact: Path, images: np.ndarray, excluded: list[str]) -> None:
    """ONNX Runtime's static QDQ quantisation in the same scheme (signed int8, zero point 0,
    weights per channel in [-64, 64], float biases, min-max ranges), without bias correction."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = artifact.with_name("prepared.onnx")
    quant_pre_process(str(onnx_fp32), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        str(prepared), str(artifact), CalibrationReader(images),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
        per_channel=True, reduce_range=True,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=excluded,
        extra_options={
            "ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
        },
    )  # fmt: skip
