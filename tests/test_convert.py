"""Conversions to every CPU format agree with the reference; TensorRT skips honestly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tfedge import bench
from tfedge.convert import convert, tensorrt
from tfedge.files import read_json, write_json
from tfedge.formats import FORMATS, RECORD, settings_slice

from .decisions import assert_keeps_decisions
from .helpers import tiny_config, validated

SETTINGS = validated(tiny_config())["convert"]
# In table order, so a format's source is converted before it.
CPU_FORMATS = tuple(name for name, row in FORMATS.items() if not row.needs_gpu)
# How close each format's logits must be to the Keras model's (max absolute difference).
LOGIT_TOLERANCE = {
    "savedmodel": 1e-5, "tflite_fp32": 1e-4, "onnx": 1e-4, "tflite_fp16": 0.05, "onnx_fp16": 0.05,
}  # fmt: skip


@pytest.fixture(scope="module")
def test_images(tiny_mnist) -> np.ndarray:
    """The whole test split (100 images): the int8 check counts clear decisions among them."""
    return np.concatenate([images for images, _ in bench.test_split_batches(str(tiny_mnist), 16)])


def run_format(folder: Path, record: dict, images: np.ndarray) -> np.ndarray:
    from tfedge.convert.runtimes import open_runner

    model = folder / record["format"] / FORMATS[record["format"]].model_file
    return open_runner(record["format"], model, 1).predict(images)


@pytest.mark.slow  # converts a trained model to every CPU format (about 40 s)
@pytest.mark.parametrize("fmt", CPU_FORMATS)
def test_each_cpu_format_matches_the_reference(fmt, conversions, trained_cnn, test_images):
    from tfedge.models import load_model

    folder, records = conversions
    assert records[fmt]["status"] == "ok", records[fmt]["reason"]
    reference = load_model(str(trained_cnn / "model.keras"))(test_images, training=False).numpy()
    logits = run_format(folder, records[fmt], test_images)
    assert logits.shape == reference.shape
    assert np.std(logits, axis=0).max() > 1e-3, "outputs do not vary across inputs"
    if fmt in LOGIT_TOLERANCE:
        np.testing.assert_allclose(
            logits, reference, atol=LOGIT_TOLERANCE[fmt] * np.abs(reference).max()
        )
    else:  # full-integer: every clear decision kept, every logit close (tests/decisions.py)
        assert_keeps_decisions(logits, reference)


@pytest.mark.slow  # converts the trained CNN once more (about 5 s)
def test_tflite_int8_with_integer_input_and_output_keeps_the_decisions(
    trained_cnn, tiny_mnist, test_images, tmp_path
):
    """``tflite_int8_io: int8``, the choice for integer-only accelerators: LiteRT's runner
    quantises the float images in and dequantises the logits out."""
    from ai_edge_litert.interpreter import Interpreter

    from tfedge.models import load_model

    settings = settings_slice("tflite_int8", validated(tiny_config())["convert"])
    record = convert(
        "cnn", "tflite_int8", str(trained_cnn / "savedmodel"), str(tmp_path / "tflite_int8"),
        {**settings, "tflite_int8_io": "int8"}, str(tiny_mnist),
    )  # fmt: skip
    model = Interpreter(model_path=str(tmp_path / "tflite_int8" / "model.tflite"))
    assert record["details"]["input_type"] == record["details"]["output_type"] == "int8"
    assert (
        model.get_input_details()[0]["dtype"] == model.get_output_details()[0]["dtype"] == np.int8
    )
    reference = load_model(str(trained_cnn / "model.keras"))(test_images, training=False).numpy()
    assert_keeps_decisions(run_format(tmp_path, record, test_images), reference)


@pytest.mark.slow  # converts a trained model to every CPU format (about 40 s)
@pytest.mark.parametrize("part, factor", [("weights", 10), ("weights", 0.1), ("activations", 0.1)])
def test_an_int8_model_with_scales_off_tenfold_fails_the_decision_check(
    part, factor, conversions, trained_cnn, test_images
):
    """The negative control of assert_keeps_decisions: the product's own int8 ONNX model with
    the scales of its weights (or of its activations) multiplied by ``factor``."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    from tfedge.models import load_model

    folder, _ = conversions
    model = onnx.load(str(folder / "onnx_int8" / "model.onnx"))
    constants = {tensor.name: tensor for tensor in model.graph.initializer}
    op = "DequantizeLinear" if part == "weights" else "QuantizeLinear"
    scales = {
        node.input[1]
        for node in model.graph.node
        if node.op_type == op and (part == "activations") != (node.input[0] in constants)
    }
    for name in scales:
        scaled = numpy_helper.to_array(constants[name]) * np.float32(factor)
        constants[name].CopyFrom(numpy_helper.from_array(scaled, name))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: test_images})[0]
    reference = load_model(str(trained_cnn / "model.keras"))(test_images, training=False).numpy()
    assert scales
    with pytest.raises(AssertionError):
        assert_keeps_decisions(logits, reference)


@pytest.mark.slow  # converts a trained model to every CPU format (about 40 s)
def test_records_describe_the_models(conversions):
    folder, records = conversions
    assert (
        records["tflite_int8"]["details"]["input_type"] == "float32"
    )  # the default tflite_int8_io
    assert records["tflite_int8"]["details"]["representative_images"] == 32
    assert records["onnx"]["details"] == {
        "opset": 17, "input": "images", "output": "logits", "dynamic_batch": True,
    }  # fmt: skip
    assert records["onnx_fp16"]["details"]["input_type"] == "float32"
    assert records["onnx_int8"]["details"]["calibration_images"] == 32
    assert records["onnx_int8"]["details"]["quantized_tensors"] > 0
    assert records["onnx_int8"]["details"]["folded_scales"] == 1  # the dense layer's batch norm
    sizes = {fmt: records[fmt]["size_bytes"] for fmt in CPU_FORMATS}
    # tflite_int8 may keep a large layer float (tflite_int8_float_share), so it can outgrow fp16
    assert max(sizes["tflite_int8"], sizes["tflite_fp16"]) < sizes["tflite_fp32"]
    assert max(sizes["onnx_int8"], sizes["onnx_fp16"]) < sizes["onnx"]
    assert records["savedmodel"]["details"]["role"] == "reference"
    assert records["openvino_fp32"]["details"]["converted_from"] == "onnx"
    assert records["openvino_int8"]["details"]["converted_from"] == "onnx_int8"
    onnx_int8 = records["onnx_int8"]["details"]
    assert onnx_int8["calibration"] == "NNCF min-max, full bias correction"
    assert onnx_int8["debug_images"] == 32 and onnx_int8["signed_activations"] > 0


@pytest.mark.slow  # converts a trained model to every CPU format (about 40 s)
def test_openvino_runs_the_int8_onnx_model_s_float_and_int8_layers_as_it_has_them(conversions):
    """NNCF stores a quantised layer's weights as an int8 constant (converted and scaled back
    to float in the graph); a layer left in float keeps an f32 constant. The IR's layers are
    onnx_int8's, float where its record says so."""
    import onnx
    import openvino as ov

    from tfedge.convert.openvino import MODEL

    folder, records = conversions
    float_layers = set(records["onnx_int8"]["details"]["float_layers"])
    graph = onnx.load(str(folder / "onnx_int8" / "model.onnx")).graph
    expected = [
        "f32" if node.name in float_layers else "i8"
        for node in graph.node
        if node.op_type in ("Conv", "MatMul", "Gemm")
    ]
    ir = folder / "openvino_int8" / FORMATS["openvino_int8"].model_file / MODEL
    model = ov.Core().read_model(str(ir))
    weighted = [
        op for op in model.get_ordered_ops() if op.get_type_name() in ("Convolution", "MatMul")
    ]
    assert expected[0] == "f32" and "i8" in expected
    assert [stored_weight_type(op) for op in weighted] == expected


@pytest.mark.slow  # converts a trained model to every CPU format (about 40 s)
def test_the_tflite_and_onnx_int8_models_keep_the_ops_to_the_first_convolution_float(
    conversions,
):
    """LiteRT runs the first convolution, and the layers the record names, on float tensors
    (behind a float input by default); the int8 ONNX model quantises no input of its first
    Conv, nor of a Conv its record names float, and both inputs of every other Conv."""
    import onnx

    folder, records = conversions
    details = records["tflite_int8"]["details"]
    float_layers = set(details["float_layers"])
    convolutions = [
        (dtype, name in float_layers)
        for dtype, name in tflite_convolutions(folder / "tflite_int8" / "model.tflite")
    ]
    assert convolutions[0] == ("float32", True)
    assert all((dtype == "float32") == named for dtype, named in convolutions[1:]), convolutions
    assert ("int8", False) in convolutions
    assert details["input_type"] == "float32"
    assert next(name for name in details["float_layers"] if "conv0_0" in name).endswith(
        "conv0_0/Conv2D1"
    )
    assert len(float_layers) == 1 + int(0.15 * details["ranked_layers"])

    graph = onnx.load(str(folder / "onnx_int8" / "model.onnx")).graph
    producers = {output: node for node in graph.node for output in node.output}
    convolutions = [node for node in graph.node if node.op_type == "Conv"]
    onnx_float = records["onnx_int8"]["details"]["float_layers"]
    dequantized = [
        [quantized_before(name, producers) for name in conv.input[:2]] for conv in convolutions
    ]
    expected = [[conv.name not in onnx_float] * 2 for conv in convolutions]
    assert dequantized == expected and expected[0] == [False, False] and [True, True] in expected
    assert convolutions[0].name in onnx_float


def quantized_before(tensor: str, producers: dict) -> bool:
    """Whether ``tensor`` comes from a DequantizeLinear, looking through the ops that move or
    pick values without arithmetic (NNCF quantises before a MaxPool, not after it)."""
    node = producers.get(tensor)
    while node is not None and node.op_type in ("MaxPool", "Reshape", "Transpose"):
        node = producers.get(node.input[0])
    return node is not None and node.op_type == "DequantizeLinear"


def tflite_convolutions(path: Path) -> list[tuple[str, str]]:
    """Each convolution's output type and output tensor's name in LiteRT, in execution order."""
    from ai_edge_litert.interpreter import Interpreter

    model = Interpreter(model_path=str(path))
    tensors = {tensor["index"]: tensor for tensor in model.get_tensor_details()}
    found = []
    for op in model._get_ops_details():
        if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            output = tensors[op["outputs"][0]]
            found.append((output["dtype"].__name__, output["name"]))
    return found


def stored_weight_type(layer) -> str:
    """The element type of the constant a layer's weights (its second input) start from."""
    node = layer.input_value(1).get_node()
    while node.get_input_size():
        node = node.input_value(0).get_node()
    return node.get_output_element_type(0).get_type_name()


@pytest.mark.slow  # converts a trained model to every CPU format (about 40 s)
def test_the_int8_onnx_model_is_explicitly_quantised_as_tensorrt_requires(conversions):
    """Signed int8 with zero point 0 everywhere, and every weight in [-64, 64]."""
    import onnx
    from onnx import numpy_helper

    folder, _ = conversions
    graph = onnx.load(str(folder / "onnx_int8" / "model.onnx")).graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    zero_points = [
        constants[node.input[2]]
        for node in graph.node
        if node.op_type in ("QuantizeLinear", "DequantizeLinear")
    ]
    assert zero_points and all(z.dtype == np.int8 and not z.any() for z in zero_points)
    weights = [
        values for values in constants.values() if values.dtype == np.int8 and values.size > 1
    ]
    assert weights and all(np.abs(w).max() <= 64 for w in weights)


@pytest.mark.slow  # converts a trained model to every CPU format (about 40 s)
def test_each_folder_holds_its_record_and_model_only(conversions):
    folder, records = conversions
    for fmt in CPU_FORMATS:
        contents = sorted(path.name for path in (folder / fmt).iterdir())
        assert contents == sorted([RECORD, FORMATS[fmt].model_file]), fmt
        assert read_json(folder / fmt / RECORD) == records[fmt]
    assert not list(folder.glob("*partial*"))


def dense_with_scale(shared_weights: bool):
    """x @ W * s + t as tf2onnx writes a dense layer's batch norm; optionally W used twice."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    constants = {"W": rng.normal(size=(4, 3)), "s": rng.uniform(0.5, 2, 3), "t": rng.normal(size=3)}
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["h"]),
        helper.make_node("Mul", ["h", "s"], ["scaled"]),
        helper.make_node("Add", ["scaled", "t"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])]
    if shared_weights:
        nodes.append(helper.make_node("MatMul", ["x", "W"], ["again"]))
        outputs.append(helper.make_tensor_value_info("again", TensorProto.FLOAT, [None, 3]))
    graph = helper.make_graph(
        nodes, "dense", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        outputs, [numpy_helper.from_array(v.astype(np.float32), k) for k, v in constants.items()],
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def run_onnx(model, inputs: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": inputs})


def test_a_dense_layer_s_scale_is_folded_into_its_weights_exactly():
    from tfedge.convert.quantize import fold_column_scales

    model, inputs = dense_with_scale(shared_weights=False), np.ones((2, 4), np.float32)
    before = run_onnx(model, inputs)
    assert fold_column_scales(model) == 1
    assert [node.op_type for node in model.graph.node] == ["MatMul", "Add"]
    assert sorted(tensor.name for tensor in model.graph.initializer) == ["W", "t"]
    np.testing.assert_allclose(run_onnx(model, inputs)[0], before[0], rtol=1e-6)


def test_weights_another_node_uses_are_not_folded():
    from tfedge.convert.quantize import fold_column_scales

    model = dense_with_scale(shared_weights=True)
    assert fold_column_scales(model) == 0
    assert [node.op_type for node in model.graph.node] == ["MatMul", "Mul", "Add", "MatMul"]


@pytest.mark.slow  # converts a trained model to every CPU format (about 40 s)
def test_tensorrt_is_skipped_with_the_reason_and_no_file(conversions, tiny_mnist, monkeypatch):
    monkeypatch.setattr(tensorrt, "unavailable_reason", lambda: "no CUDA device")
    folder, _ = conversions
    target = folder / "tensorrt_int8"
    settings = settings_slice("tensorrt_int8", SETTINGS)
    source = str(folder / "onnx_int8")
    record = convert("cnn", "tensorrt_int8", source, str(target), settings, "unused")
    assert record["status"] == "skipped"
    assert record["reason"] == "no CUDA device"
    assert sorted(p.name for p in target.iterdir()) == [RECORD]


def test_tensorrt_is_skipped_when_its_onnx_model_failed(tmp_path, monkeypatch):
    monkeypatch.setattr(tensorrt, "unavailable_reason", lambda: None)
    write_json(tmp_path / "onnx_fp16" / RECORD, {"format": "onnx_fp16", "status": "failed"})
    settings = settings_slice("tensorrt_fp16", SETTINGS)
    target = str(tmp_path / "tensorrt_fp16")
    source = str(tmp_path / "onnx_fp16")
    record = convert("cnn", "tensorrt_fp16", source, target, settings, "unused")
    assert record["status"] == "skipped"
    assert record["reason"] == "the onnx_fp16 conversion it builds from did not succeed"


def test_skip_reasons_name_what_is_missing(monkeypatch):
    monkeypatch.setattr(tensorrt, "tensorrt_version", lambda: None)
    assert tensorrt.unavailable_reason().startswith("tensorrt not importable")
    monkeypatch.setattr(tensorrt, "tensorrt_version", lambda: "10.13.0")
    monkeypatch.setattr(tensorrt, "cuda_device_name", lambda: None)
    assert tensorrt.unavailable_reason() == "no CUDA device"
    monkeypatch.setattr(tensorrt, "cuda_device_name", lambda: "NVIDIA A100")
    assert tensorrt.unavailable_reason() is None


@pytest.mark.slow  # runs tf2onnx in a process of its own (about 9 s)
def test_failed_conversion_is_recorded_not_raised(tmp_path, tiny_mnist):
    target, savedmodel = tmp_path / "onnx", tmp_path / "run" / "savedmodel"
    savedmodel.mkdir(parents=True)  # holds no model: tf2onnx fails
    write_json(tmp_path / "run" / "train.json", {"variant": "cnn", "seed": 0, "files": {}})
    record = convert(
        "cnn", "onnx", str(savedmodel), str(target), settings_slice("onnx", SETTINGS),
        str(tiny_mnist),
    )  # fmt: skip
    assert record["status"] == "failed" and "tf2onnx exited" in record["reason"]
    assert sorted(path.name for path in target.iterdir()) == [RECORD]
