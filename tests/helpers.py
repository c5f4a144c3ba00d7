"""What the tests share besides fixtures: the tiny config, settings with the schema's
defaults, paths, and small builders. Imported by name (``from .helpers import …``);
conftest.py holds only the fixtures."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from tfedge.config.validation import validate_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schemas" / "config.schema.yaml"
TINY_CONFIG = ROOT / "tests" / "configs" / "tiny.yaml"


def tiny_config() -> dict:
    return yaml.safe_load(TINY_CONFIG.read_text())


def validated(config: dict) -> dict:
    return validate_config(copy.deepcopy(config), SCHEMA)


def train_outputs_in(folder: Path):
    """A training run's output paths inside ``folder`` (tfedge.train.job.TrainOutputs; not to be
    confused with tfedge.data.prepare.outputs_in, a prepared data set's)."""
    from tfedge.train.job import TrainOutputs

    return TrainOutputs(
        model=str(folder / "model.keras"),
        savedmodel=str(folder / "savedmodel"),
        history=str(folder / "history.csv"),
        summary=str(folder / "train.json"),
        tensorboard=str(folder / "tensorboard"),
    )


def in_process(request: Path):
    """Run a training attempt inside the test's own process, where its training loop can be
    patched (tfedge.train.job's ``runner``); the job itself runs each attempt in a child process."""
    from tfedge.train.supervision import ChildExit
    from tfedge.train_attempt import run_request

    run_request(request)
    return ChildExit(0)


def table_html(html: str, table_id: str) -> str:
    """The markup of the report's table ``table_id``, up to its closing tag."""
    start = html.index(f'id="{table_id}"')
    return html[start : html.index("</table>", start)]


def dataset_settings(**overrides) -> dict:
    """A dataset's settings with the schema's defaults filled in."""
    config = tiny_config()
    config["datasets"]["mnist"] = {"source": "bundled", **overrides}
    return validated(config)["datasets"]["mnist"]


def backbone_settings(**overrides) -> dict:
    """A backbone's settings with the schema's defaults filled in. The tiny config's fine-tuning
    variant names a layer to unfreeze from, which the config check refuses for a TF Hub
    backbone, so it unfreezes whole here: only the backbone's slice is returned."""
    config = tiny_config()
    config["backbones"]["lite"] = overrides
    config["variants"]["finetuned"]["unfreeze_from"] = None
    return validated(config)["backbones"]["lite"]


def prepare(folder: Path, name: str, settings: dict) -> Path:
    """Prepare a dataset into ``folder``; returns its manifest path."""
    from tfedge.data.prepare import outputs_in, prepare_dataset

    outputs = outputs_in(folder)
    prepare_dataset(name, settings, outputs)
    return Path(outputs["manifest"])


def variant_settings(name: str, **overrides) -> dict:
    config = tiny_config()
    config["variants"][name].update(overrides)
    return validated(config)["variants"][name]


def feature_vector_module(folder: Path, image_size: int | None) -> str:
    """A small image feature-vector SavedModel, as a TF Hub handle: images of ``image_size``
    (None: any size) → 6 features."""
    from tfedge.keras_env import keras, tf

    inputs = keras.Input((image_size, image_size, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="hub_conv")(inputs)
    outputs = keras.layers.GlobalAveragePooling2D()(x)
    tf.saved_model.save(keras.Model(inputs, outputs), str(folder))
    return str(folder)


BUCKET = "tfedge-results"


def s3_client(endpoint: str):
    """A boto3 S3 client for the moto server at ``endpoint``."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
