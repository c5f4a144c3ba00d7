"""Shared fixtures: validated settings and a tiny prepared MNIST (the bundled digits)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tfedge.config import validate_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schemas" / "config.schema.yaml"
TINY_CONFIG = ROOT / "tests" / "configs" / "tiny.yaml"


def tiny_config() -> dict:
    return yaml.safe_load(TINY_CONFIG.read_text())


def validated(config: dict) -> dict:
    return validate_config(copy.deepcopy(config), SCHEMA)


def dataset_settings(**overrides) -> dict:
    """A dataset's settings with the schema's defaults filled in."""
    config = tiny_config()
    config["datasets"]["mnist"] = {"source": "bundled", **overrides}
    return validated(config)["datasets"]["mnist"]


def variant_settings(name: str, **overrides) -> dict:
    config = tiny_config()
    config["variants"][name].update(overrides)
    return validated(config)["variants"][name]


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory) -> Path:
    """Bundled MNIST capped at 20 images per class, prepared once; returns the manifest path."""
    from tfedge.data.prepare import prepare_dataset

    folder = tmp_path_factory.mktemp("mnist")
    outputs = {
        split: str(folder / f"{split}.tfrecord") for split in ("train", "validation", "test")
    }
    outputs["manifest"] = str(folder / "manifest.json")
    prepare_dataset("mnist", dataset_settings(max_per_class=20), outputs)
    return Path(outputs["manifest"])
