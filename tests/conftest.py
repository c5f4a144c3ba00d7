"""Shared fixtures: validated settings and a tiny prepared MNIST (the bundled digits)."""

from __future__ import annotations

import copy
import socket
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


def outputs_in(folder: Path):
    """A training run's output paths inside ``folder``."""
    from tfedge.train import TrainOutputs

    return TrainOutputs(
        model=str(folder / "model.keras"),
        savedmodel=str(folder / "savedmodel"),
        history=str(folder / "history.csv"),
        summary=str(folder / "train.json"),
        tensorboard=str(folder / "tensorboard"),
    )


def in_process(request: Path):
    """Run a training attempt inside the test's own process, where its training loop can be
    patched (tfedge.train's ``runner``); the job itself runs each attempt in a child process."""
    from tfedge.train import ChildExit
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


@pytest.fixture
def no_network(monkeypatch):
    """Any connection from Python fails at once, as on a compute node without a network."""

    def refused(*args, **kwargs):
        raise OSError("network refused in this test")

    monkeypatch.setattr(socket.socket, "connect", refused)
    monkeypatch.setattr(socket, "create_connection", refused)


def feature_vector_module(folder: Path, image_size: int | None) -> str:
    """A small image feature-vector SavedModel, as a TF Hub handle: images of ``image_size``
    (None: any size) → 6 features."""
    from tfedge.keras_env import keras, tf

    inputs = keras.Input((image_size, image_size, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="hub_conv")(inputs)
    outputs = keras.layers.GlobalAveragePooling2D()(x)
    tf.saved_model.save(keras.Model(inputs, outputs), str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def hub_folder(tmp_path_factory) -> str:
    return feature_vector_module(tmp_path_factory.mktemp("hub") / "feature_vector", None)


@pytest.fixture(scope="session")
def fixed_size_module(tmp_path_factory) -> str:
    return feature_vector_module(tmp_path_factory.mktemp("hub") / "fixed_48px", 48)


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory) -> Path:
    """Bundled MNIST, 50 digits per class (train capped at 20), prepared once; the manifest path."""
    settings = dataset_settings(bundled_per_class=50, max_per_class=20)
    return prepare(tmp_path_factory.mktemp("mnist"), "mnist", settings)


@pytest.fixture(scope="session")
def trained_cnn(tiny_mnist, tmp_path_factory):
    """A small CNN trained for three epochs, so batch-norm statistics are real."""
    from tfedge.train import train_variant

    folder = tmp_path_factory.mktemp("cnn")
    variant = variant_settings("cnn", epochs=3, filters=[8, 16], dense_units=16)
    train_variant("cnn", variant, 0, str(tiny_mnist), outputs_in(folder), str(folder / "w"))
    return folder


@pytest.fixture(scope="session")
def conversions(trained_cnn, tiny_mnist, tmp_path_factory):
    """Every CPU format of ``trained_cnn``, in table order (a format's source first)."""
    from tfedge.convert import convert
    from tfedge.formats import FORMATS, TRAINED_MODEL, settings_slice

    settings_of = validated(tiny_config())["convert"]
    cpu_formats = [name for name, row in FORMATS.items() if not row.needs_gpu]
    folder = tmp_path_factory.mktemp("converted")
    records = {}
    for fmt in cpu_formats:
        settings = settings_slice(fmt, settings_of)
        built_from = FORMATS[fmt].built_from
        trained = built_from == TRAINED_MODEL
        source = str(trained_cnn / "savedmodel" if trained else folder / built_from)
        records[fmt] = convert("cnn", fmt, source, str(folder / fmt), settings, str(tiny_mnist))
    return folder, records


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The whole tiny DAG run once, at --cores 2, in its own copy of the workflow; tests that
    edit it work on copies."""
    from .snakemake_runs import copy_workflow, snakemake

    config = yaml.safe_load(TINY_CONFIG.read_text())
    workdir = copy_workflow(tmp_path_factory.mktemp("workflow"), config)
    result = snakemake(workdir, "--cores", "2", "report")
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


@pytest.fixture(scope="session")
def tiny_flowers(tmp_path_factory) -> Path:
    """The offline flowers stand-in, 10 images per class and split at 32 px, RGB."""
    settings = dataset_settings(
        source="bundled",
        tfds_name="tf_flowers",
        tfds_test_split=None,
        bundled_per_class=10,
        image_size=32,
        channels=3,
    )
    return prepare(tmp_path_factory.mktemp("flowers"), "flowers", settings)


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


@pytest.fixture(scope="module")
def s3_endpoint():
    """A local S3 server (moto) with the profile's bucket, standing in for MinIO or AWS."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    s3_client(url).create_bucket(Bucket=BUCKET)
    yield url
    server.stop()
