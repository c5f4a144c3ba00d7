"""What checking every image costs prepare_data: with the check and without.

Builds two image folders in a temp folder, 3,000 28x28 PNGs in 10 classes (MNIST-like,
one channel) and 1,000 224x224 JPEGs in 5 classes (photo-like, RGB), and times each two
ways, alternating runs with the check and runs without it:

- the job: a fresh Python that does what the prepare_data job does (imports, one
  TensorFlow thread, prepare_dataset), timed from outside. This is what a user waits for;
  the goal is at most 1.20.
- the step: prepare_dataset alone in this process, files in the page cache, TensorFlow
  loaded: the check's own cost, with nothing to hide it.

"Without" replaces ``tfedge.data.checks.check_source`` by a pass-through (prepare_dataset
imports it at call time, so the module attribute is what it runs). Prints the best of the
repeats and the ratios. By hand:

    .venv/bin/python benchmarks/prepare_checks.py
    .venv/bin/python benchmarks/prepare_checks.py --repeats 5 --threads 1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tfedge.config.validation import validate_config
from tfedge.data import checks
from tfedge.data.prepare import outputs_in, prepare_dataset

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schemas" / "config.schema.yaml"
# name: (classes, images per class, side in pixels, channels, file format)
FOLDERS = {"png28": (10, 300, 28, 1, "PNG"), "jpeg224": (5, 200, 224, 3, "JPEG")}


def write_folder(root: Path, classes: int, per_class: int, side: int, channels: int, fmt: str):
    """Smooth random shapes plus noise: files of realistic size, not flat or pure noise."""
    rng = np.random.default_rng(0)
    grid = np.linspace(0, 1, side)
    for label in range(classes):
        (root / f"class{label}").mkdir(parents=True)
        for number in range(per_class):
            phase = rng.uniform(0, 6, (channels, 2))
            waves = [
                np.sin(4 * grid[:, None] + a) * np.cos(3 * grid[None, :] + b) for a, b in phase
            ]
            pixels = 127 + 100 * np.stack(waves, -1) + rng.normal(0, 12, (side, side, channels))
            image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8).squeeze())
            image.save(root / f"class{label}" / f"{number}.{fmt.lower()}", format=fmt)


def settings_for(folder: Path, side: int, channels: int) -> dict:
    """The dataset's settings with the schema's defaults, as the prepare_data rule passes them."""
    dataset = {"source": "directory", "directory": str(folder), "image_size": side}
    config = {
        "baseline": "mlp",
        "datasets": {"own": {**dataset, "channels": channels}},
        "variants": {"mlp": {"dataset": "own", "model": "mlp"}},
    }
    return validate_config(config, SCHEMA)["datasets"]["own"]


def unchecked(dataset_name: str, source, settings: dict):
    """The check replaced by a pass-through: every image kept as it is."""
    return source, {"checked": 0, "converted": 0, "skipped": [], "on_bad_image": "skip"}


def timed_prepare(settings: dict, out: Path) -> float:
    outputs = outputs_in(out)
    start = time.perf_counter()
    prepare_dataset("own", settings, outputs)
    return time.perf_counter() - start


def best_times(settings: dict, out: Path, repeats: int) -> dict[str, float]:
    """Best of ``repeats`` seconds with and without the check, runs interleaved."""
    check = checks.check_source
    times: dict[str, list[float]] = {"checked": [], "unchecked": []}
    for _ in range(repeats):
        for mode, function in (("checked", check), ("unchecked", unchecked)):
            checks.check_source = function
            times[mode].append(timed_prepare(settings, out))
    checks.check_source = check
    return {mode: min(values) for mode, values in times.items()}


JOB = """
import json, sys
from tfedge.job import limit_threads
limit_threads(1)
from tfedge.data import checks
from tfedge.data.prepare import outputs_in, prepare_dataset
sys.path.insert(0, {benchmarks!r})
from prepare_checks import unchecked
if {mode!r} == "unchecked":
    checks.check_source = unchecked
prepare_dataset("own", json.loads({settings!r}), outputs_in({out!r}))
"""


def job_seconds(settings: dict, out: Path, mode: str) -> float:
    """Wall time of a fresh interpreter doing the prepare_data job's work, imports included."""
    code = JOB.format(
        benchmarks=str(Path(__file__).parent),
        mode=mode,
        out=str(out),
        settings=json.dumps(settings),
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def best_job_times(settings: dict, out: Path, repeats: int) -> dict[str, float]:
    """Best of ``repeats`` job wall times with and without the check, interleaved."""
    times: dict[str, list[float]] = {"checked": [], "unchecked": []}
    for _ in range(repeats):
        for mode in times:
            times[mode].append(job_seconds(settings, out, mode))
    return {mode: min(values) for mode, values in times.items()}


def ratio_line(label: str, times: dict[str, float]) -> str:
    return (
        f"{label}: with check {times['checked']:.2f} s, without {times['unchecked']:.2f} s, "
        f"ratio {times['checked'] / times['unchecked']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=0, help="TensorFlow threads (the rule gives 1; 0: all)"
    )
    options = parser.parse_args()
    if options.threads:
        from tfedge.keras_env import tf

        tf.config.threading.set_intra_op_parallelism_threads(options.threads)
    totals = {kind: {"checked": 0.0, "unchecked": 0.0} for kind in ("job", "step")}
    with tempfile.TemporaryDirectory(prefix="tfedge-checks-") as folder:
        for name, (classes, per_class, side, channels, fmt) in FOLDERS.items():
            images, out = Path(folder) / name, Path(folder) / f"{name}-out"
            write_folder(images, classes, per_class, side, channels, fmt)
            out.mkdir()
            settings = settings_for(images, side, channels)
            timed_prepare(settings, out)  # warm-up: page cache, TensorFlow start-up
            measured = {
                "job": best_job_times(settings, out, options.repeats),
                "step": best_times(settings, out, options.repeats),
            }
            size = sum(file.stat().st_size for file in images.rglob("*.*")) / 1e6
            print(f"{name}: {classes * per_class} files, {size:.1f} MB", flush=True)
            for kind, times in measured.items():
                print("  " + ratio_line(kind, times), flush=True)
                for mode in times:
                    totals[kind][mode] += times[mode]
    print(f"both folders, best of {options.repeats} (goal: job ratio <= 1.20):")
    for kind, times in totals.items():
        print("  " + ratio_line(kind, times))


if __name__ == "__main__":
    main()
