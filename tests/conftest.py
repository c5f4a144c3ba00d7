"""Shared fixtures: a tiny prepared MNIST and flowers, a trained CNN and its conversions, the
tiny workflow run, hub modules, a local S3 server and a refused network. Helpers that are not
fixtures live in helpers.py."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from .helpers import (
    BUCKET,
    TINY_CONFIG,
    dataset_settings,
    feature_vector_module,
    prepare,
    s3_client,
    tiny_config,
    train_outputs_in,
    validated,
    variant_settings,
)


@pytest.fixture
def no_network(monkeypatch):
    """Any connection from Python fails at once, as on a compute node without a network."""

    def refused(*args, **kwargs):
        raise OSError("network refused in this test")

    monkeypatch.setattr(socket.socket, "connect", refused)
    monkeypatch.setattr(socket, "create_connection", refused)


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
    from tfedge.train.job import train_variant

    folder = tmp_path_factory.mktemp("cnn")
    variant = variant_settings("cnn", epochs=3, filters=[8, 16], dense_units=16)
    train_variant("cnn", variant, 0, str(tiny_mnist), train_outputs_in(folder), str(folder / "w"))
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
