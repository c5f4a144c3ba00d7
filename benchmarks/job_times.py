"""Wall time of single evaluate, convert and benchmark jobs, each run as its own process.

Every job runs its Snakemake adapter (scripts/*.py) in a fresh Python with a stand-in
``snakemake`` object, so the time includes importing what the adapter imports, as in a real
job. The inputs are realistic: the offline flowers stand-in at 224 px (100 images per class
and split) and a frozen EfficientNet-Lite0 transfer model trained for one epoch, built once
into ``--workdir`` and reused by later runs (``--jobs skip`` needs neither). Prints each
job's wall and CPU seconds; on a machine others share, compare CPU. Run by hand:

    .venv/bin/python benchmarks/job_times.py --workdir /tmp/tfedge-jobs
    .venv/bin/python benchmarks/job_times.py --workdir /tmp/tfedge-jobs --jobs skip
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANT = "frozen"
# Runs an adapter with a stand-in ``snakemake`` object built from the JSON in argv[2].
RUN_ADAPTER = textwrap.dedent(
    """
    import json, runpy, sys
    from types import SimpleNamespace as NS
    spec = json.loads(sys.argv[2])
    smk = NS(**{key: NS(**value) if isinstance(value, dict) else value
                for key, value in spec.items()})
    runpy.run_path(sys.argv[1], init_globals={"snakemake": smk})
    """
)


def experiment() -> dict:
    from tfedge.config.validation import validate_config

    config = {
        "baseline": VARIANT,
        "datasets": {
            "flowers": {
                "source": "bundled",
                "tfds_name": "tf_flowers",
                "tfds_test_split": None,
                "bundled_per_class": 100,
                "image_size": 224,
                "channels": 3,
            }
        },
        "backbones": {"lite": {"source": "efficientnet_lite0_bundled"}},
        "variants": {
            VARIANT: {"dataset": "flowers", "model": "transfer", "backbone": "lite", "epochs": 1}
        },
    }
    return validate_config(config, ROOT / "schemas" / "config.schema.yaml")


def build_inputs(folder: Path) -> None:
    """Prepared data and a trained model in ``folder``, unless an earlier run left them."""
    from tfedge.data.prepare import outputs_in, prepare_dataset
    from tfedge.train.job import TrainOutputs, train_variant

    if (folder / "model" / "model.keras").exists():
        return
    config = experiment()
    (folder / "data").mkdir(parents=True, exist_ok=True)
    outputs = outputs_in(folder / "data")
    if not Path(outputs["manifest"]).exists():
        prepare_dataset("flowers", config["datasets"]["flowers"], outputs)
    model = folder / "model"
    model.mkdir(exist_ok=True)
    names = ("model.keras", "savedmodel", "history.csv", "train.json", "tensorboard")
    train_variant(
        VARIANT,
        config["variants"][VARIANT],
        0,
        outputs["manifest"],
        TrainOutputs(*(str(model / name) for name in names)),
        str(folder / "work"),
        threads=2,
        backbone_settings=config["backbones"]["lite"],
    )


def run_job(script: str, spec: dict) -> tuple[float, float]:
    """Wall and CPU seconds of the adapter ``script`` in a new process; raises if it fails.

    CPU time is what to compare on a machine others share: wall time grows with their load.
    """
    started, cpu = time.perf_counter(), children_cpu()
    command = [sys.executable, "-c", RUN_ADAPTER, str(ROOT / "scripts" / script), json.dumps(spec)]
    subprocess.run(command, check=True)
    return time.perf_counter() - started, children_cpu() - cpu


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def evaluate_spec(folder: Path) -> dict:
    return {
        "input": {"model": str(folder / "model" / "model.keras"), "manifest": manifest(folder)},
        "output": {
            "metrics": str(folder / "metrics.json"),
            "predictions": str(folder / "predictions.npz"),
        },
        "log": [str(folder / "evaluate.log")],
        "params": {"keep_misclassified": 24},
        "wildcards": {"variant": VARIANT, "seed": "0"},
        "threads": 2,
    }


def convert_spec(folder: Path, fmt: str) -> dict:
    from tfedge.formats import FORMATS, TRAINED_MODEL, settings_slice

    built_from = FORMATS[fmt].built_from
    source = folder / "model" / "savedmodel"
    if built_from != TRAINED_MODEL:
        source = folder / "converted" / built_from
    return {
        "input": {"source": str(source), "manifest": manifest(folder)},
        "output": [str(folder / "converted" / fmt)],
        "log": [str(folder / f"convert_{fmt}.log")],
        "params": {"settings": settings_slice(fmt, experiment()["convert"])},
        "wildcards": {"variant": VARIANT, "format": fmt},
        "threads": 2,
    }


def benchmark_spec(folder: Path, formats: list[str]) -> dict:
    """One benchmark job timing ``formats`` together, as the rules run a variant's CPU formats."""
    return {
        "input": {
            "converted": [str(folder / "converted" / fmt) for fmt in formats],
            "manifest": manifest(folder),
            "reference": str(folder / "predictions.npz"),
        },
        "output": [str(folder / "bench" / f"{fmt}.json") for fmt in formats],
        "log": [str(folder / f"benchmark_{'_'.join(formats)}.log")],
        "params": {"settings": experiment()["benchmark"]},
        "wildcards": {"variant": VARIANT, "format": " ".join(formats)},
        "threads": 2,
    }


def manifest(folder: Path) -> str:
    return str(folder / "data" / "manifest.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="inputs are kept here")
    parser.add_argument("--jobs", choices=("all", "skip"), default="all")
    args = parser.parse_args()
    folder = args.workdir.resolve()
    jobs = []
    if args.jobs == "all":
        build_inputs(folder)
        jobs += [("evaluate.py", evaluate_spec(folder))]
        cpu_formats = ["savedmodel", "tflite_fp32"]
        jobs += [("convert.py", convert_spec(folder, fmt)) for fmt in cpu_formats]
        jobs += [("benchmark.py", benchmark_spec(folder, cpu_formats))]
    onnx = folder / "converted" / "onnx"  # all the TensorRT job reads of it is its record
    onnx.mkdir(parents=True, exist_ok=True)
    (onnx / "conversion.json").write_text('{"status": "ok"}')
    jobs += [("convert.py", convert_spec(folder, "tensorrt_fp32"))]
    jobs += [("benchmark.py", benchmark_spec(folder, ["tensorrt_fp32"]))]
    for script, spec in jobs:
        fmt = spec["wildcards"].get("format", "")
        wall, cpu = run_job(script, spec)
        print(f"{script:13} {fmt:23} {wall:6.1f} s wall {cpu:6.1f} s CPU", flush=True)


if __name__ == "__main__":
    main()
