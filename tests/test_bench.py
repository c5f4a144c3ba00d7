"""The benchmark: accuracy over the test split, batch-1 latency and throughput, honest timing."""

from __future__ import annotations

import itertools
import shutil
import time

import numpy as np
import pytest

from tfedge import bench
from tfedge.files import read_json, write_json
from tfedge.formats import RECORD


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
    """The split's batches after the first are throughput's samples; too few are topped up."""
    classes = np.array([0, 1, 2, 2, 1, 0, 1])
    images = np.zeros((7, 2, 2, 1), np.float32)
    images[:, 0, 0, 0] = classes
    labels, reference = np.array([0, 1, 2, 2, 1, 1, 1]), np.array([0, 1, 2, 0, 1, 0, 1])
    batches = [(images[:3], labels[:3]), (images[3:6], labels[3:6]), (images[6:], labels[6:])]
    settings = {"warmup": 2, "repeats": 4, "throughput_batch": 3, "throughput_repeats": 5}
    runner, clock = CountingRunner(), itertools.count().__next__
    result, batch_seconds = bench.accuracy_pass(runner, batches, reference, clock)
    assert batch_seconds == [1]  # the second batch; the first warms up, the last is partial
    result |= bench.timings(runner, images[:3], settings, clock, batch_seconds)
    assert runner.calls == [3, 3, 1] + [1] * (2 + 4) + [3] * (1 + 4)
    assert result["test_accuracy"] == pytest.approx(6 / 7)
    assert result["agreement"] == pytest.approx(6 / 7)
    assert result["throughput_images_per_s"] == pytest.approx(3.0)
    assert result["throughput_batches"] == 5
    assert result["latency_batch1"]["p50_ms"] == pytest.approx(1000)
    assert result["latency_batch1"]["samples_ms"] == [1000.0] * 4


def test_throughput_comes_from_the_accuracy_pass_when_it_has_enough_batches():
    images, labels = np.zeros((12, 2, 2, 1), np.float32), np.zeros(12, int)
    batches = [(images[i : i + 3], labels[i : i + 3]) for i in range(0, 12, 3)]
    durations = iter([0, 1, 10, 12, 20, 26, 30, 33])  # batches of 1, 2, 6 and 3 s
    settings = {"warmup": 0, "repeats": 5, "throughput_batch": 3, "throughput_repeats": 3}
    runner = CountingRunner()
    _, batch_seconds = bench.accuracy_pass(runner, batches, labels, durations.__next__)
    assert batch_seconds == [2, 6, 3]
    result = bench.timings(runner, images, settings, itertools.count().__next__, batch_seconds)
    assert runner.calls == [3] * 4 + [1] * 5  # no batch run again to time throughput
    assert result["throughput_images_per_s"] == pytest.approx(3 / 3)
    assert result["throughput_batches"] == 3


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


def test_benchmark_carries_a_skipped_record_without_reading_the_split(tmp_path):
    write_json(tmp_path / RECORD, {"variant": "cnn", "format": "tensorrt_fp32", "status": "skipped",
                                   "reason": "no CUDA device"})  # fmt: skip
    output = str(tmp_path / "b.json")
    results = bench.benchmark(
        {"tensorrt_fp32": str(tmp_path)}, {"tensorrt_fp32": output}, "missing.json",
        "missing.npz", {}, 2,
    )  # fmt: skip
    result = results["tensorrt_fp32"]
    assert result["status"] == "skipped" and result["reason"] == "no CUDA device"
    assert read_json(output) == result


@pytest.mark.slow  # converts a trained model to every CPU format (about 40 s)
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
    outputs = {fmt: str(tmp_path / f"{fmt}.json") for fmt in formats}
    settings = {"warmup": 1, "repeats": 3, "throughput_batch": 8, "throughput_repeats": 2}
    results = bench.benchmark(
        {fmt: str(folder / fmt) for fmt in formats},
        outputs,
        str(tiny_mnist),
        str(reference),
        settings,
        1,
    )
    assert decodes == [(str(tiny_mnist), 8)]
    assert {fmt: read_json(path)["format"] for fmt, path in outputs.items()} == {
        f: f for f in formats
    }
    assert {fmt: result["format"] for fmt, result in results.items()} == {f: f for f in formats}
    for result in results.values():
        assert len(result["latency_batch1"]["samples_ms"]) == 3
        assert result["agreement"] == 1.0


@pytest.mark.slow  # converts a trained model to every CPU format (about 40 s)
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


def test_the_garbage_collector_is_off_while_calls_are_timed_and_on_again_after():
    import gc

    enabled_during = []
    bench.time_calls(lambda: enabled_during.append(gc.isenabled()), 2, 4, time.perf_counter)
    assert enabled_during == [True, True, False, False, False, False]
    assert gc.isenabled()
