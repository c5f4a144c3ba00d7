"""Frozen-backbone training: head on cached features vs the tutorial's full forward pass.

Both ways train the same model (bundled EfficientNet-Lite0 + Dropout + Dense) for the same
number of epochs on the offline flowers stand-in; the cached way runs the backbone once over
train and validation, the tutorial's way runs it in every epoch. Prints both training times,
their ratio and both test accuracies. Run by hand:

    .venv/bin/python benchmarks/frozen_head.py --per-class 100 --image-size 224 --epochs 10
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from tfedge.config.validation import validate_config
from tfedge.data.prepare import outputs_in, prepare_dataset

ROOT = Path(__file__).resolve().parents[1]


def experiment(per_class: int, image_size: int, epochs: int) -> dict:
    config = {
        "baseline": "tutorial",
        "datasets": {
            "flowers": {
                "source": "bundled",
                "tfds_name": "tf_flowers",
                "tfds_test_split": None,
                "bundled_per_class": per_class,
                "image_size": image_size,
                "channels": 3,
            }
        },
        "backbones": {"lite": {"source": "efficientnet_lite0_bundled"}},
        "variants": {
            way: {
                "dataset": "flowers",
                "model": "transfer",
                "backbone": "lite",
                "epochs": epochs,
                "cache_features": way == "cached",
            }
            for way in ("cached", "tutorial")
        },
    }
    return validate_config(config, ROOT / "schemas" / "config.schema.yaml")


def run(way: str, config: dict, manifest: Path, folder: Path) -> dict:
    """Training time (feature caching included), whole-job wall time and test accuracy."""
    from tfedge.evaluate import evaluate_model
    from tfedge.train.job import TrainOutputs, train_variant

    out = folder / way
    out.mkdir()
    outputs = TrainOutputs(
        *(str(out / name) for name in ("model.keras", "sm", "h.csv", "t.json", "tb"))
    )
    started = time.perf_counter()
    summary = train_variant(
        way,
        config["variants"][way],
        0,
        str(manifest),
        outputs,
        str(out / "work"),
        threads=2,
        backbone_settings=config["backbones"]["lite"],
    )
    seconds = time.perf_counter() - started
    metrics = evaluate_model(
        outputs.savedmodel, str(manifest), str(out / "m.json"), str(out / "p.npz"), 0
    )
    return {
        "train_seconds": round(summary["train_seconds"], 1),
        "job_seconds_with_saving": round(seconds, 1),
        "test_accuracy": metrics["test_accuracy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=50, help="images per class and split")
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    config = experiment(args.per_class, args.image_size, args.epochs)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        outputs = outputs_in(folder)
        manifest = prepare_dataset("flowers", config["datasets"]["flowers"], outputs)
        counts = {split: entry["count"] for split, entry in manifest["splits"].items()}
        print(f"data: {counts}, {args.image_size} px, {args.epochs} epochs, 2 threads")
        results = {
            way: run(way, config, Path(outputs["manifest"]), folder) for way in config["variants"]
        }
    print(yaml.safe_dump(results, sort_keys=False))
    ratio = results["tutorial"]["train_seconds"] / results["cached"]["train_seconds"]
    print(f"training speed-up of cached features: {ratio:.1f}x (goal >= 5x)")


if __name__ == "__main__":
    main()
