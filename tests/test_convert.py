"""Conversions to every CPU format agree with the reference; TensorRT skips honestly."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tfedge import bench
from tfedge.convert import convert, tensorrt
from tfedge.files import read_json, write_json
from tfedge.formats import FORMATS, RECORD, TRAINED_MODEL, settings_slice

from .conftest import ROOT, outputs_in, tiny_config, validated, variant_settings

SETTINGS = validated(tiny_config())["convert"]
# In table order, so a format's source is converted before it.
CPU_FORMATS = tuple(name for name, row in FORMATS.items() if not row.needs_gpu)
# How close each format's logits must be to the Keras model's (max absolute difference).
LOGIT_TOLERANCE = {
    "savedmodel": 1e-5, "tflite_fp32": 1e-4, "onnx": 1e-4, "tflite_fp16": 0.05, "onnx_fp16": 0.05,
}  # fmt: skip


@pytest.fixture(scope="module")
def trained_cnn(tiny_mnist, tmp_path_factory):
    """A small CNN trained for three epochs, so batch-norm statistics are real."""
    from tfedge.train import train_variant

    folder = tmp_path_factory.mktemp("cnn")
    variant = variant_settings("cnn", epochs=3, filters=[8, 16], dense_units=16)
    train_variant("cnn", variant, 0, str(tiny_mnist), outputs_in(folder), str(folder / "w"))
    return folder


@pytest.fixture(scope="module")
def conversions(trained_cnn, tiny_mnist, tmp_path_factory):
    folder = tmp_path_factory.mktemp("converted")
    records = {}
    for fmt in CPU_FORMATS:
        settings = settings_slice(fmt, SETTINGS)
        built_from = FORMATS[fmt].built_from
        trained = built_from == TRAINED_MODEL
        source = str(trained_cnn / "savedmodel" if trained else folder / built_from)
        records[fmt] = convert("cnn", fmt, source, str(folder / fmt), settings, str(tiny_mnist))
    return folder, records


@pytest.fixture(scope="module")
def test_images(tiny_mnist):
    return bench.test_split_batches(str(tiny_mnist), 16)[0]


def run_format(folder: Path, record: dict, images: np.ndarray) -> np.ndarray:
    from tfedge.convert.runtimes import open_runner

    model = folder / record["format"] / FORMATS[record["format"]].model_file
    return open_runner(record["format"], model, 1).predict(images)


@pytest.mark.parametrize("fmt", CPU_FORMATS)
def test_each_cpu_format_matches_the_reference(fmt, conversions, trained_cnn, test_images):
    from tfedge.models import load_model

    folder, records = conversions
    assert records[fmt]["status"] == "ok", records[fmt]["reason"]
    images, _ = test_images
    reference = load_model(str(trained_cnn / "model.keras"))(images, training=False).numpy()
    logits = run_format(folder, records[fmt], images)
    assert logits.shape == reference.shape
    assert np.std(logits, axis=0).max() > 1e-3, "outputs do not vary across inputs"
    if fmt in LOGIT_TOLERANCE:
        np.testing.assert_allclose(
            logits, reference, atol=LOGIT_TOLERANCE[fmt] * np.abs(reference).max()
        )
    else:  # full-integer: quantisation error, but the same decisions on most images
        assert np.mean(logits.argmax(1) == reference.argmax(1)) >= 0.8
        assert np.corrcoef(logits.ravel(), reference.ravel())[0, 1] > 0.95


def test_records_describe_the_models(conversions):
    folder, records = conversions
    assert records["tflite_int8"]["details"]["input_type"] == "int8"
    assert records["tflite_int8"]["details"]["representative_images"] == 32
    assert records["onnx"]["details"] == {
        "opset": 17, "input": "images", "output": "logits", "dynamic_batch": True,
    }  # fmt: skip
    assert records["onnx_fp16"]["details"]["input_type"] == "float32"
    assert records["onnx_int8"]["details"]["calibration_images"] == 32
    assert records["onnx_int8"]["details"]["quantized_tensors"] > 0
    assert records["onnx_int8"]["details"]["folded_scales"] == 1  # the dense layer's batch norm
    sizes = {fmt: records[fmt]["size_bytes"] for fmt in CPU_FORMATS}
    assert sizes["tflite_int8"] < sizes["tflite_fp16"] < sizes["tflite_fp32"]
    assert max(sizes["onnx_int8"], sizes["onnx_fp16"]) < sizes["onnx"]
    assert records["savedmodel"]["details"]["role"] == "reference"


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


def test_profile_shapes():
    shapes = tensorrt.profile_shapes((224, 224, 3), opt_batch=8, max_batch=32)
    assert shapes.minimum == (1, 224, 224, 3) and shapes.optimum[0] == 8 and shapes.maximum[0] == 32
    with pytest.raises(ValueError, match="opt_batch"):
        tensorrt.profile_shapes((28, 28, 1), opt_batch=64, max_batch=32)


def test_tensorrt_code_type_checks_against_the_stubs(tmp_path):
    from .stub_repair import repaired_copy

    site_packages = Path(next(p for p in sys.path if p.endswith("site-packages")))
    if not (site_packages / "tensorrt_bindings" / "tensorrt.pyi").exists():
        pytest.fail("tensorrt-stubs is not installed (make installs it with --no-deps)")
    stubs = repaired_copy(site_packages, tmp_path / "stubs")
    source = ROOT / "src" / "tfedge" / "convert" / "tensorrt.py"
    broken = tmp_path / "broken" / "tensorrt_check.py"
    broken.parent.mkdir()
    broken.write_text(source.read_text().replace(".create_network(", ".create_netwrk("))

    def mypy(target: Path) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                   "--follow-imports=silent", str(target)]  # fmt: skip
        env = {"MYPYPATH": str(stubs), "PATH": ""}
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)

    clean = mypy(source)
    assert clean.returncode == 0, clean.stdout
    caught = mypy(broken)
    assert caught.returncode != 0 and "create_netwrk" in caught.stdout


def test_latency_statistics_on_a_fake_clock():
    ticks = itertools.count()
    durations_ms = [1, 2, 3, 4, 100]
    times = []
    for duration in durations_ms:
        start = next(ticks) * 1000.0
        times += [start, start + duration / 1000]
    clock = iter(times).__next__
    calls = []
    measured = bench.time_calls(lambda: calls.append(1), warmup=3, repeats=5, clock=clock)
    assert len(calls) == 8
    stats = bench.latency_stats(measured)
    assert stats["p50_ms"] == pytest.approx(3)
    assert stats["p95_ms"] == pytest.approx(80.8)
    assert stats["mean_ms"] == pytest.approx(22)


def test_latency_statistics_keep_every_timing_in_milliseconds():
    stats = bench.latency_stats([0.00123456, 0.5, 0.0000001])
    assert stats["samples_ms"] == [1.2346, 500.0, 0.0001]
    assert all(type(value) is float for value in stats["samples_ms"])


class CountingRunner:
    """Predicts class ``image[0, 0, 0]`` of every image and records each batch size."""

    def __init__(self):
        self.calls = []

    def predict(self, images):
        self.calls.append(len(images))
        return np.eye(3)[images[:, 0, 0, 0].astype(int)]


def test_a_benchmark_runs_the_split_once_then_exactly_the_configured_repeats():
    classes = np.array([0, 1, 2, 2, 1, 0, 1])
    images = np.zeros((7, 2, 2, 1), np.float32)
    images[:, 0, 0, 0] = classes
    labels, reference = np.array([0, 1, 2, 2, 1, 1, 1]), np.array([0, 1, 2, 0, 1, 0, 1])
    batches = [(images[:3], labels[:3]), (images[3:6], labels[3:6]), (images[6:], labels[6:])]
    settings = {"warmup": 2, "repeats": 4, "throughput_batch": 3, "throughput_repeats": 5}
    runner = CountingRunner()
    result = bench.accuracy(runner, batches, reference)
    result |= bench.timings(runner, images[:3], settings, itertools.count().__next__)
    assert runner.calls == [3, 3, 1] + [1] * (2 + 4) + [3] * (1 + 5)
    assert result["test_accuracy"] == pytest.approx(6 / 7)
    assert result["agreement"] == pytest.approx(6 / 7)
    assert result["throughput_images_per_s"] == pytest.approx(3.0)
    assert result["latency_batch1"]["p50_ms"] == pytest.approx(1000)
    assert result["latency_batch1"]["samples_ms"] == [1000.0] * 4


def test_the_savedmodel_takes_its_accuracy_from_evaluate_and_is_only_timed(tmp_path, monkeypatch):
    """Evaluate ran this very SavedModel over the test split; the benchmark only times it."""
    from tfedge.convert import runtimes

    record = {"variant": "cnn", "format": "savedmodel", "status": "ok"}
    (tmp_path / "savedmodel").mkdir()
    runner = CountingRunner()
    monkeypatch.setattr(runtimes, "open_runner", lambda fmt, path, threads: runner)
    images = np.zeros((4, 2, 2, 1), np.float32)
    reference = {"labels": np.array([0, 1, 2, 2]), "predicted": np.array([0, 1, 2, 0])}
    settings = {"warmup": 1, "repeats": 2, "throughput_batch": 4, "throughput_repeats": 1}
    clock = itertools.count().__next__
    result = bench.benchmark_one(
        tmp_path, record, [(images, reference["labels"])], reference, settings, 1, clock
    )
    assert runner.calls == [1] * (1 + 2) + [4] * (1 + 1)
    assert result["test_accuracy"] == 0.75 and result["agreement"] == 1.0
    assert result["accuracy_from"] == "evaluate"


def test_a_throughput_batch_larger_than_the_split_repeats_its_images():
    images = np.arange(3)[:, None]
    np.testing.assert_array_equal(bench.batch_of(images, 8)[:, 0], [0, 1, 2, 0, 1, 2, 0, 1])
    np.testing.assert_array_equal(bench.batch_of(images, 2), images[:2])


def fake_bench(
    fmt: str, accuracy: float, p50: float, status: str = "ok", spread: float | None = 0.1
) -> dict:
    """A benchmark record; its 21 timings spread evenly by ``spread`` × ``p50`` either side of
    ``p50``, or none at all (``spread=None``), as records written before timings were kept."""
    if status != "ok":
        return {"variant": "cnn", "format": fmt, "status": status, "reason": "no CUDA device"}
    latency = {"p50_ms": p50, "p95_ms": p50 * 1.2, "mean_ms": p50}
    if spread is not None:
        latency["samples_ms"] = list(p50 * (1 + spread * np.linspace(-1, 1, 21)))
    return {
        "variant": "cnn", "format": fmt, "status": "ok", "reason": None, "size_bytes": 1000,
        "test_accuracy": accuracy, "agreement": 0.99, "threads": 2,
        "latency_batch1": latency, "throughput_images_per_s": 100.0,
    }  # fmt: skip


def fake_conversion_rows(tmp_path, benches: list[dict]) -> list[dict]:
    """The report's conversion rows for benchmark records written under ``tmp_path``."""
    from tfedge.report.collect import conversion_rows

    files = []
    for record in benches:
        files.append(tmp_path / f"{record['format']}.json")
        write_json(files[-1], record)
    return conversion_rows(files, 0.95, tolerance=0.01)


def test_tolerance_flag_and_fastest_format(tmp_path):
    rows = fake_conversion_rows(
        tmp_path,
        [
            fake_bench("savedmodel", 0.95, 2.0),
            fake_bench("tflite_fp32", 0.95, 0.5),
            fake_bench("tflite_int8", 0.90, 0.2),
            fake_bench("tensorrt_fp16", 0, 0, status="skipped"),
        ],
    )
    by_format = {row["format"]: row for row in rows}
    assert by_format["tflite_int8"]["flagged"] and not by_format["tflite_fp32"]["flagged"]
    assert [row["format"] for row in rows if row["fastest"]] == ["tflite_fp32"]
    assert by_format["tflite_fp32"]["speedup"] == pytest.approx(4.0)
    fp32 = by_format["tflite_fp32"]
    assert 1 < fp32["speedup_low"] < 4 < fp32["speedup_high"] and fp32["speedup_measurable"]
    assert "flagged" not in by_format["tensorrt_fp16"]


def test_benchmark_carries_a_skipped_record_without_reading_the_split(tmp_path):
    write_json(tmp_path / RECORD, {"variant": "cnn", "format": "tensorrt_fp32", "status": "skipped",
                                   "reason": "no CUDA device"})  # fmt: skip
    output = str(tmp_path / "b.json")
    [result] = bench.benchmark([str(tmp_path)], [output], "missing.json", "missing.npz", {}, 2)
    assert result["status"] == "skipped" and result["reason"] == "no CUDA device"
    assert read_json(output) == result


def test_one_job_times_every_format_on_one_decoded_split(
    conversions, trained_cnn, tiny_mnist, tmp_path, monkeypatch
):
    """Each format gets its own record, all from the one decode of the test split."""
    folder, _ = conversions
    decodes = []
    decode = bench.test_split_batches
    monkeypatch.setattr(
        bench, "test_split_batches", lambda *args: decodes.append(args) or decode(*args)
    )
    from tfedge.models import load_model

    model = load_model(str(trained_cnn / "model.keras"))
    split = decode(str(tiny_mnist), 32)
    images, labels = (np.concatenate(arrays) for arrays in zip(*split))
    reference = tmp_path / "reference.npz"
    np.savez(reference, labels=labels, predicted=model.predict(images, verbose=0).argmax(axis=1))
    formats = ["savedmodel", "tflite_fp32", "onnx"]
    outputs = [str(tmp_path / f"{fmt}.json") for fmt in formats]
    settings = {"warmup": 1, "repeats": 3, "throughput_batch": 8, "throughput_repeats": 2}
    results = bench.benchmark(
        [str(folder / fmt) for fmt in formats],
        outputs,
        str(tiny_mnist),
        str(reference),
        settings,
        1,
    )
    assert decodes == [(str(tiny_mnist), 8)]
    assert [read_json(path)["format"] for path in outputs] == formats
    assert [result["format"] for result in results] == formats
    for result in results:
        assert len(result["latency_batch1"]["samples_ms"]) == 3
        assert result["agreement"] == 1.0


@pytest.mark.parametrize("damage", ["delete", "truncate", "flip a byte"])
def test_benchmark_names_a_damaged_model_and_the_fix(conversions, tmp_path, damage):
    from tfedge.integrity import DamagedArtifact

    folder, _ = conversions
    damaged = tmp_path / "tflite_fp32"
    shutil.copytree(folder / "tflite_fp32", damaged)
    model = damaged / "model.tflite"
    content = model.read_bytes()
    if damage == "delete":
        model.unlink()
    elif damage == "truncate":
        model.write_bytes(content[:100])
    else:
        model.write_bytes(content[:-1] + bytes([content[-1] ^ 1]))
    record = read_json(damaged / RECORD)
    says = {"delete": "is missing", "truncate": "has 100 bytes", "flip a byte": "has changed"}
    with pytest.raises(DamagedArtifact, match=f"model.tflite {says[damage]}") as error:
        bench.benchmark_one(damaged, record, [], {}, {}, 1, time.perf_counter)
    assert str(error.value).endswith(
        "with: snakemake report --forcerun results/converted/cnn/tflite_fp32"
    )


def test_tensorrt_answer_quotes_the_measured_speed_up(tmp_path):
    from tfedge.report.collect import measured_notes

    rows = fake_conversion_rows(
        tmp_path,
        [
            fake_bench("savedmodel", 0.95, 2.0),
            fake_bench("tflite_fp32", 0.95, 0.5),
            fake_bench("tensorrt_fp16", 0, 0, status="skipped"),
        ],
    )
    notes = measured_notes([{"variant": "cnn", "rows": rows}], {"models": []})
    assert "tflite_fp32 ran 4.00× faster than the TensorFlow SavedModel" in notes["tensorrt"]
    assert "(95 % bootstrap interval " in notes["tensorrt"]
    assert "TensorRT engines: skipped: no CUDA device." in notes["tensorrt"]
    assert "mobilenet" not in notes


def conversion_notes(tmp_path, benches: list[dict]) -> tuple[dict, str]:
    """Rows by format, and the measured note on speed, for fake benchmark records."""
    from tfedge.report.collect import measured_notes

    rows = fake_conversion_rows(tmp_path, benches)
    notes = measured_notes([{"variant": "cnn", "rows": rows}], {"models": []})
    return {row["format"]: row for row in rows}, notes["tensorrt"]


def test_a_speed_up_inside_the_noise_is_neither_marked_nor_claimed(tmp_path):
    rows, note = conversion_notes(
        tmp_path,
        [
            fake_bench("savedmodel", 0.95, 2.0, spread=0.3),
            fake_bench("tflite_fp32", 0.95, 1.9, spread=0.3),
            fake_bench("onnx", 0.95, 1.95, spread=0.3),
        ],
    )
    fp32 = rows["tflite_fp32"]
    assert fp32["speedup"] == pytest.approx(2.0 / 1.9)
    assert fp32["speedup_low"] < 1 < fp32["speedup_high"] and not fp32["speedup_measurable"]
    assert not any(row["fastest"] for row in rows.values())
    assert "× faster" not in note
    assert "no format within the accuracy tolerance ran measurably faster" in note
    interval = f"{fp32['speedup_low']:.2f}–{fp32['speedup_high']:.2f}"
    assert f"the quickest, tflite_fp32: 1.05×, 95 % bootstrap interval {interval})" in note


def test_the_mark_goes_to_the_lowest_p50_only_when_that_one_is_measurable(tmp_path):
    """A noisy quickest format is not passed over for a slower one that happens to be tight."""
    rows, note = conversion_notes(
        tmp_path,
        [
            fake_bench("savedmodel", 0.95, 2.0, spread=0.01),
            fake_bench("tflite_fp32", 0.95, 1.8, spread=0.95),
            fake_bench("onnx", 0.95, 1.9, spread=0.01),
        ],
    )
    assert rows["onnx"]["speedup_measurable"] and rows["onnx"]["speedup_low"] > 1
    assert not rows["tflite_fp32"]["speedup_measurable"]
    assert not any(row["fastest"] for row in rows.values())
    assert "the quickest, tflite_fp32" in note and "× faster" not in note


def test_a_measurably_slower_format_is_measurable_but_never_fastest(tmp_path):
    rows, note = conversion_notes(
        tmp_path, [fake_bench("savedmodel", 0.95, 1.0), fake_bench("onnx", 0.95, 3.0)]
    )
    assert rows["onnx"]["speedup_measurable"] and rows["onnx"]["speedup_high"] < 1
    assert rows["savedmodel"]["speedup"] == 1.0 and rows["savedmodel"]["speedup_low"] is None
    assert not any(row["fastest"] for row in rows.values())
    assert "the quickest, onnx: 0.33×" in note


def test_records_without_timings_keep_the_point_estimate_and_ask_for_a_rerun(tmp_path):
    rows, note = conversion_notes(
        tmp_path,
        [
            fake_bench("savedmodel", 0.95, 2.0, spread=None),
            fake_bench("tflite_fp32", 0.95, 0.5),
            fake_bench("tensorrt_fp16", 0, 0, status="skipped"),
        ],
    )
    fp32 = rows["tflite_fp32"]
    assert fp32["speedup"] == pytest.approx(4.0)
    assert (fp32["speedup_low"], fp32["speedup_high"], fp32["speedup_measurable"]) == (
        None, None, False,
    )  # fmt: skip
    assert not fp32["fastest"]
    assert "the quickest, tflite_fp32: 4.00×, no interval: re-run the benchmark" in note
    assert "speedup" not in rows["tensorrt_fp16"]


def test_a_lone_savedmodel_within_tolerance_claims_nothing(tmp_path):
    rows, note = conversion_notes(
        tmp_path, [fake_bench("savedmodel", 0.95, 2.0), fake_bench("tflite_int8", 0.90, 0.2)]
    )
    assert rows["tflite_int8"]["speedup_measurable"] and rows["tflite_int8"]["flagged"]
    assert not any(row["fastest"] for row in rows.values())
    assert "no format but the SavedModel itself stayed within the accuracy tolerance" in note
