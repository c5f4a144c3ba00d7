"""Check a converted model's accuracy on the test split and time it (latency, throughput)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from tfedge.files import read_json, write_json
from tfedge.formats import FORMATS, RECORD

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


def time_calls(call: Callable[[], object], warmup: int, repeats: int, clock: Clock) -> list[float]:
    """Durations of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    durations = []
    for _ in range(repeats):
        started = clock()
        call()
        durations.append(clock() - started)
    return durations


def batch_of(images: np.ndarray, size: int) -> np.ndarray:
    """``size`` test images, repeating them when the split is smaller."""
    return images[np.arange(size) % len(images)]


def batches_of_test_split(manifest_path: str, batch_size: int) -> Iterator[Batch]:
    """The test split in file order, ``batch_size`` float32 images at a time.

    Streamed, not gathered into one array: copying a 224 px split (600 MB for 1,000 images)
    into fresh memory took seconds of page faults, twice, before any model ran.
    """
    from tfedge.data.pipeline import image_dataset

    for images, labels in image_dataset(manifest_path, "test", batch_size):
        yield images.numpy(), labels.numpy()


def measure(runner, batches: Iterable[Batch], reference, settings: dict, clock: Clock) -> dict:
    """Accuracy, agreement with the reference's predictions, latency and throughput.

    Accuracy runs over ``batches`` (of ``throughput_batch`` images); latency and throughput
    reuse the first of them.
    """
    predicted, labels, first = [], [], None
    for images, batch_labels in batches:
        predicted.append(runner.predict(images).argmax(axis=1))
        labels.append(batch_labels)
        first = images if first is None else first
    predicted, labels = np.concatenate(predicted), np.concatenate(labels)
    single = first[:1]
    latency = time_calls(
        lambda: runner.predict(single), settings["warmup"], settings["repeats"], clock
    )
    batch = batch_of(first, settings["throughput_batch"])
    batch_seconds = time_calls(
        lambda: runner.predict(batch), 1, settings["throughput_repeats"], clock
    )
    return {
        "test_accuracy": float(np.mean(predicted == labels)),
        "agreement": float(np.mean(predicted == reference)),
        "latency_batch1": latency_stats(latency),
        "throughput_images_per_s": len(batch) / float(np.median(batch_seconds)),
    }


def converted_model(folder: Path, record: dict) -> Path:
    """The model file of a successful conversion, or an error that says how to rebuild it."""
    model = folder / FORMATS[record["format"]].model_file
    if not model.exists():
        raise FileNotFoundError(
            f"{model} is missing although {folder / RECORD} says the conversion succeeded; "
            f"delete {folder} (or run snakemake with --forcerun convert) to convert it again"
        )
    return model


def benchmark(
    converted: str,
    manifest_path: str,
    reference_predictions: str,
    settings: dict,
    output_path: str,
    threads: int,
    clock: Clock = time.perf_counter,
) -> dict:
    """Benchmark the converted folder ``converted``; a skipped or failed one keeps its reason."""
    folder = Path(converted)
    record = read_json(folder / RECORD)
    result = {
        key: record.get(key) for key in ("variant", "format", "status", "reason", "size_bytes")
    }
    result["threads"] = threads
    if record["status"] == "ok":
        from tfedge.convert.runtimes import open_runner

        runner = open_runner(record["format"], converted_model(folder, record), threads)
        batches = batches_of_test_split(manifest_path, settings["throughput_batch"])
        with np.load(reference_predictions) as reference:
            result.update(measure(runner, batches, reference["predicted"], settings, clock))
        log.info("%s %s: %s", record["variant"], record["format"], result)
    write_json(output_path, result)
    return result
