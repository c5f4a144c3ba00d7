"""Check a converted model's accuracy on the test split and time it (latency, throughput)."""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tfedge.files import read_json, write_json
from tfedge.formats import FORMATS, RECORD
from tfedge.integrity import verify_files

log = logging.getLogger(__name__)
Clock = Callable[[], float]
Batch = tuple[np.ndarray, np.ndarray]  # float32 images in [0, 1], integer labels


def latency_stats(seconds: list[float]) -> dict:
    """p50, p95 and mean in milliseconds, and every timing itself.

    The timings are kept (to 0.1 µs) so the report can put a bootstrap interval on a
    speed-up instead of trusting one ratio of medians from a machine that others share.
    """
    values = np.asarray(seconds) * 1000
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "mean_ms": float(values.mean()),
        "samples_ms": [round(float(value), 4) for value in values],
    }


@contextlib.contextmanager
def garbage_collector_paused():
    """Python's garbage collector off for the block (and on again after, if it was on), so
    its pauses, which runners' allocations trigger at random, stay out of the timings."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def time_calls(call: Callable[[], object], warmup: int, repeats: int, clock: Clock) -> list[float]:
    """Durations of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    durations = []
    with garbage_collector_paused():
        for _ in range(repeats):
            started = clock()
            call()
            durations.append(clock() - started)
    return durations


def batch_of(images: np.ndarray, size: int) -> np.ndarray:
    """``size`` test images, repeating them when the split is smaller."""
    return images[np.arange(size) % len(images)]


def test_split_batches(manifest_path: str, batch_size: int) -> list[Batch]:
    """The test split in file order, decoded once into ``batch_size`` float32 images per batch.

    Kept as the batches the pipeline yields, never gathered into one array: copying a 224 px
    split (600 MB for 1,000 images) into fresh memory cost seconds of page faults.
    """
    from tfedge.data.pipeline import image_dataset

    dataset = image_dataset(manifest_path, "test", batch_size, cache=False)
    return [(images.numpy(), labels.numpy()) for images, labels in dataset]


def accuracy_pass(
    runner, batches: list[Batch], reference: np.ndarray, clock: Clock
) -> tuple[dict, list[float]]:
    """Test accuracy over ``batches`` and agreement with the reference's predictions, and how
    long each batch took after the first (the runner's warm-up at that shape): throughput's
    samples, so the split is not run again to time it. Only full batches count.
    """
    decisions, truths, seconds = [], [], []
    full = len(batches[0][0]) if batches else 0
    for index, (images, batch_labels) in enumerate(batches):
        started = clock()
        logits = runner.predict(images)
        took = clock() - started
        if index and len(images) == full:
            seconds.append(took)
        decisions.append(logits.argmax(axis=1))
        truths.append(batch_labels)
    predicted, labels = np.concatenate(decisions), np.concatenate(truths)
    result = {
        "test_accuracy": float(np.mean(predicted == labels)),
        "agreement": float(np.mean(predicted == reference)),
    }
    return result, seconds


def timings(
    runner, images: np.ndarray, settings: dict, clock: Clock, batch_seconds: Sequence[float] = ()
) -> dict:
    """Batch-1 latency on the first of ``images``, and throughput at ``throughput_batch``.

    Throughput is the median over ``batch_seconds`` (the accuracy pass's batches), topped up
    to ``throughput_repeats`` timed runs on a batch of ``images`` when the pass gave fewer:
    the SavedModel, whose accuracy evaluate measured, or a split of few batches.
    """
    single = images[:1]
    latency = time_calls(
        lambda: runner.predict(single), settings["warmup"], settings["repeats"], clock
    )
    batch = batch_of(images, settings["throughput_batch"])
    missing = settings["throughput_repeats"] - len(batch_seconds)
    if missing > 0:
        batch_seconds = [
            *batch_seconds,
            *time_calls(lambda: runner.predict(batch), 1, missing, clock),
        ]
    return {
        "latency_batch1": latency_stats(latency),
        "throughput_images_per_s": len(batch) / float(np.median(batch_seconds)),
        "throughput_batches": len(batch_seconds),
    }


def evaluated_accuracy(reference: dict) -> dict:
    """The SavedModel's accuracy as the evaluate job measured it: that job ran this very file.

    The converted SavedModel is a copy of the first seed's export, which evaluate runs over
    the same test split in the same runtime, so a second pass would only repeat it.
    """
    return {
        "test_accuracy": float(np.mean(reference["predicted"] == reference["labels"])),
        "agreement": 1.0,
        "accuracy_from": "evaluate",
    }


def benchmark_one(
    folder: Path,
    record: dict,
    batches: list[Batch],
    reference: dict[str, np.ndarray],
    settings: dict,
    threads: int,
    clock: Clock,
) -> dict:
    """One converted folder's result; a skipped or failed conversion keeps its reason.

    ``reference`` holds the evaluate job's labels and predictions of the first seed.
    """
    result = {
        key: record.get(key) for key in ("variant", "format", "status", "reason", "size_bytes")
    }
    result["threads"] = threads
    if record["status"] == "ok":
        from tfedge.convert.runtimes import open_runner, release

        verify_files(record, folder)
        runner = open_runner(
            record["format"], folder / FORMATS[record["format"]].model_file, threads
        )
        try:
            result.update(measured(runner, record["format"], batches, reference, settings, clock))
        finally:
            release(runner)
        log.info("%s %s: %s", record["variant"], record["format"], result)
    return result


def measured(
    runner, fmt: str, batches: list[Batch], reference: dict, settings: dict, clock: Clock
) -> dict:
    """Accuracy (the evaluate job's, for the SavedModel it ran) and timings of one runner."""
    result: dict = {}
    batch_seconds: list[float] = []
    if fmt == "savedmodel":
        result.update(evaluated_accuracy(reference))
    else:
        checked, batch_seconds = accuracy_pass(runner, batches, reference["predicted"], clock)
        result.update(checked)
    result.update(timings(runner, batches[0][0], settings, clock, batch_seconds))
    return result


def benchmark(
    converted: dict[str, str],
    outputs: dict[str, str],
    manifest_path: str,
    reference_predictions: str,
    settings: dict,
    threads: int,
    clock: Clock = time.perf_counter,
) -> dict[str, dict]:
    """Benchmark each format's converted folder into its output, both keyed by format.

    The test split is decoded once for all of them, and only when one of them can run: a
    format skipped here (TensorRT without a GPU) records its reason without TensorFlow.
    """
    records = {fmt: read_json(Path(folder) / RECORD) for fmt, folder in converted.items()}
    batches, reference = [], {}
    if any(record["status"] == "ok" for record in records.values()):
        batches = test_split_batches(manifest_path, settings["throughput_batch"])
        with np.load(reference_predictions) as predictions:
            reference = {key: predictions[key] for key in ("labels", "predicted")}
    results = {}
    for fmt, record in records.items():
        folder = Path(converted[fmt])
        results[fmt] = benchmark_one(folder, record, batches, reference, settings, threads, clock)
        write_json(outputs[fmt], results[fmt])
    return results
