"""Results written by hand for the report's tests: every file the report rule names, holding
numbers the test chooses, so the sections are tested on files read by name, without training."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tfedge import paths
from tfedge.config.helpers import baselines
from tfedge.files import write_json
from tfedge.report.results import Results

from .helpers import ROOT

TEST_IMAGES = 200
LAYERS = [{"name": "dense", "type": "Dense", "output_shape": "(None, 10)", "params": 10}]
TSV_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def manifest(dataset: str, **overrides) -> dict:
    return {
        "dataset": dataset,
        "source_requested": "auto",
        "source_used": "bundled",
        "reason": "offline",
        "class_names": ["0", "1"],
        "image_size": 28,
        "channels": 1,
        "splits": {split: {"count": TEST_IMAGES} for split in ("train", "validation", "test")},
        "images": {"checked": 600, "converted": 0, "skipped": [], "on_bad_image": "skip"},
        "ignored_files": {"count": 0, "by_suffix": {}, "examples": []},
        "nested_images": 0,
        **overrides,
    }


def summary(variant: str, seed: int, **overrides) -> dict:
    return {
        "variant": variant, "seed": seed, "features_cached": False, "params": 10, "macs": 2500000,
        "trainable_params": 10, "epochs_run": 1, "best_epoch": 1, "batch_size_requested": 32,
        "batch_size": 32, "peak_memory_mb": 900.0, "train_seconds": 12.0, "backbone": None,
        "attempts": [{"batch_size": 32, "ended": "completed", "how": "completed"}],
        "layers": [{**LAYERS[0], "name": f"{variant}_dense"}], "tensorflow": "2.21.0",
        **overrides,
    }  # fmt: skip


def bench(variant: str, fmt: str, p50: float = 1.0, accuracy: float = 0.9, **overrides) -> dict:
    """A benchmark record whose 21 timings spread evenly 10 % either side of ``p50``."""
    samples = list(np.linspace(0.9 * p50, 1.1 * p50, 21))
    return {
        "variant": variant, "format": fmt, "status": "ok", "reason": None, "size_bytes": 1000,
        "threads": 2, "test_accuracy": accuracy, "agreement": 0.99,
        "throughput_images_per_s": 100.0,
        "latency_batch1": {"p50_ms": p50, "p95_ms": 1.1 * p50, "mean_ms": p50,
                           "samples_ms": samples},
        **overrides,
    }  # fmt: skip


ARCHITECTURES = {
    "threads": 2,
    "models": [
        {
            "name": name,
            "input_size": 224,
            "params": params,
            "macs": macs,
            "layers": 50,
            "latency_p50_ms": latency,
            "latency_p50_interval_ms": [0.9 * latency, 1.1 * latency],
            "tflite_fp32_bytes": 4 * params,
            "published": {"params": params, "macs": macs, "top1": 70.0, "citation": "paper"},
        }  # fmt: skip
        for name, params, macs, latency in (
            ("mobilenet_v2", 3.5e6, 3.0e8, 10.0),
            ("googlenet", 7.0e6, 1.5e9, 30.0),
        )
    ],
}


def write_run(folder: Path, variant: str, seed: int, correct: float, **summary_fields) -> None:
    """One run whose first ``correct`` share of the test images are right (class 0)."""
    labels = np.zeros(TEST_IMAGES, int)
    predicted = (np.arange(TEST_IMAGES) >= correct * TEST_IMAGES).astype(int)
    wrong = np.flatnonzero(predicted != labels)[:3]
    right = int(np.sum(predicted == labels))
    write_json(
        folder / paths.metrics(variant, seed),
        {
            "variant": variant, "seed": seed, "test_accuracy": correct, "test_loss": 0.1,
            "confusion_matrix": [[right, TEST_IMAGES - right], [0, 0]],
            "per_class": [
                {"class": "0", "precision": 1.0, "recall": correct, "f1": correct,
                 "support": TEST_IMAGES},
            ],
        },
    )  # fmt: skip
    np.savez(
        folder / paths.predictions(variant, seed),
        labels=labels,
        predicted=predicted,
        misclassified_index=wrong,
        misclassified_images=np.zeros((len(wrong), 4, 4, 1), np.float32),
    )
    write_json(
        folder / paths.model_file(variant, seed, "train.json"),
        summary(variant, seed, **summary_fields),
    )
    with open(folder / paths.model_file(variant, seed, "history.csv"), "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["epoch", "accuracy", "loss", "val_accuracy", "val_loss"])
        writer.writerow([0, correct, 0.1, correct, 0.1])


def write_job(folder: Path, job: tuple, seconds: float, inputs=(), outputs=()) -> None:
    """A job's benchmark record (its wall time) and its record of the files it read and wrote."""
    tsv = folder / paths.job_benchmark(*job)
    tsv.parent.mkdir(parents=True, exist_ok=True)
    tsv.write_text(TSV_HEADER + f"{seconds}\t0:00:01\t100.5\t200\t90\t95\t0\t0\t50\t1.5\n")
    write_json(
        folder / paths.job_record(*job),
        {"rule": job[0], "inputs": sorted(inputs), "outputs": sorted(outputs)},
    )


def write_results(
    folder: Path,
    config: dict,
    correct: dict[str, float] | None = None,
    benchmarks: dict[tuple, dict] | None = None,
    manifests: dict[str, dict] | None = None,
    summaries: dict[str, dict] | None = None,
) -> Results:
    """Every file of ``config``'s report under ``folder``: baselines right on 60 % of the test
    images, other variants on 90 % (``correct`` overrides), each conversion 1 ms at batch 1
    (``benchmarks`` overrides), every job 1 s on its own (no job waits for another)."""
    per_dataset = baselines(config)
    share = {name: 0.6 if name in per_dataset.values() else 0.9 for name in config["variants"]}
    share.update(correct or {})
    for path in paths.report_inputs(config).values():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
    for name in config["variants"]:
        for seed in config["seeds"]:
            write_run(folder, name, seed, share[name], **(summaries or {}).get(name, {}))
    datasets = {variant["dataset"] for variant in config["variants"].values()}
    for dataset in datasets:
        write_json(
            folder / paths.manifest(dataset), (manifests or {}).get(dataset, manifest(dataset))
        )
    for conversion in paths.conversions(config):
        record = (benchmarks or {}).get(conversion) or bench(*conversion)
        write_json(folder / paths.bench(*conversion), record)
    write_json(folder / paths.architectures(), ARCHITECTURES)
    for job in paths.jobs(config):
        write_job(folder, job, 1.0)
    inputs = {name: str(folder / path) for name, path in paths.report_inputs(config).items()}
    return Results(config, inputs, str(ROOT / "report" / "answers.md"))
