"""The shipped config.yaml on the path users with a network take, timed: source auto
everywhere, TFDS's and TF Hub's caches filled as their downloads would fill them.

The caches are the tests' (tests/download_caches.py): a flower_photos.tgz in TFDS's download
cache with as many JPEGs per class as the real one (3,670 at 320×240 by default), MNIST's
four idx files with their real counts, and the bundled EfficientNet-Lite0 as the TF Hub
module of the default handle (224 px, 0.4 GMACs per image against MobileNetV2's 0.3). The
photos are synthetic, so accuracies mean nothing; the work per image is the real run's.
Prints the wall time, the jobs, and the seconds of each rule summed over its jobs
(Snakemake's benchmark records). By hand:

    .venv/bin/python benchmarks/network_path.py --cores 2
    .venv/bin/python benchmarks/network_path.py --cores 2 --flowers-per-class 8 --keep /tmp/run
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.download_caches import fill_tfds_downloads, hub_stand_in  # noqa: E402
from tests.snakemake_runs import SNAKEMAKE, copy_workflow  # noqa: E402

# tf_flowers' classes as the real archive holds them (3,670 photos).
REAL_FLOWERS = {"daisy": 633, "dandelion": 898, "roses": 641, "sunflowers": 699, "tulips": 799}


def rule_seconds(results: Path) -> dict[str, float]:
    """Wall seconds per rule, summed over its jobs' benchmark records."""
    seconds: dict[str, float] = defaultdict(float)
    for record in (results / "benchmarks").glob("*/*.tsv"):
        with record.open() as stream:
            seconds[record.parent.name] += float(next(csv.DictReader(stream, delimiter="\t"))["s"])
    return dict(sorted(seconds.items(), key=lambda item: -item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--flowers-per-class", type=int, help="default: the real archive's")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    options = parser.parse_args()
    folder = options.keep or Path(tempfile.mkdtemp(prefix="tfedge-network-path-"))
    per_class = options.flowers_per_class or REAL_FLOWERS
    data_dir = folder / "tensorflow_datasets"
    photos = fill_tfds_downloads(data_dir, per_class, size=(240, 320))
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for dataset in config["datasets"].values():
        dataset["data_dir"] = str(data_dir)
    hub_stand_in(folder / "tfhub_modules", config["backbones"]["mobilenet_v2"]["hub_handle"])
    workdir = folder / "workflow"
    workdir.mkdir()
    copy_workflow(workdir, config)
    env = {**os.environ, "TFHUB_CACHE_DIR": str(folder / "tfhub_modules")}
    print(f"{len(photos)} flower photos; running in {workdir}", flush=True)
    start = time.perf_counter()
    with (folder / "snakemake.log").open("w") as log:
        result = subprocess.run(
            [SNAKEMAKE, "--cores", str(options.cores), "report"],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"the run failed; see {folder / 'snakemake.log'}")
    by_rule = rule_seconds(workdir / "results")
    jobs = len(list((workdir / "results" / "benchmarks").glob("*/*.tsv")))
    print(f"--cores {options.cores}: {jobs} jobs in {seconds:.0f} s wall")
    for rule, total in by_rule.items():
        print(f"  {rule:20s} {total:8.0f} s")


if __name__ == "__main__":
    main()
