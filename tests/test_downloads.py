"""The download jobs' decisions: where auto finds a data set or a backbone, what it falls back
to offline and how it says so, and what the record holds. No TFDS builder runs here
(tests/test_download_caches.py runs them, slow)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tfedge.data import download as data_download
from tfedge.data.download import fetch_dataset
from tfedge.data.sources import Fetched, SourceUnavailable, load_source
from tfedge.models import download as backbone_download
from tfedge.models.backbones import BackboneUnavailable, recorded_choice
from tfedge.models.download import choose_source, fetch_backbone
from tfedge.network import host_reachable

from .helpers import backbone_settings, dataset_settings


@pytest.fixture
def silent_hosts(monkeypatch):
    """No host answers, as on a machine without a network."""
    for module in (data_download, backbone_download):
        monkeypatch.setattr(module, "host_reachable", lambda address, timeout_s: False)


def test_host_reachable_sees_a_listening_port_and_a_closed_one():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert host_reachable(server.getsockname(), timeout_s=2)
        closed_port = server.getsockname()[1]
    assert not host_reachable(("127.0.0.1", closed_port), timeout_s=2)


def test_auto_records_the_fallback_to_the_stand_in_and_prepare_follows_it(tmp_path, silent_hosts):
    settings = dataset_settings(source="auto", data_dir=str(tmp_path / "tfds"))
    record = fetch_dataset("mnist", settings, tmp_path / "fetched")
    assert record["source_used"] == "bundled"
    assert record["reason"] == (
        f"auto fell back to bundled: TFDS 'mnist' is neither prepared nor downloaded in data_dir "
        f"{tmp_path / 'tfds'} and storage.googleapis.com did not answer within 3 s"
    )
    assert not any((tmp_path / "fetched").iterdir())
    data = load_source("mnist", settings, Fetched(record, tmp_path / "fetched"))
    assert data.source_used == "bundled" and data.reason.startswith(record["reason"])


def test_tfds_offline_fails_fast_naming_the_host_and_the_fix(tmp_path, silent_hosts):
    settings = dataset_settings(
        source="tfds", tfds_name="tf_flowers", tfds_test_split=None, data_dir=str(tmp_path)
    )
    with pytest.raises(SourceUnavailable, match="download.tensorflow.org did not answer") as error:
        fetch_dataset("flowers", settings, tmp_path / "fetched")
    assert "snakemake download_data" in str(error.value)


def test_auto_really_probes_and_decides_within_the_timeout(tmp_path):
    started = time.monotonic()
    settings = dataset_settings(source="auto", data_dir=str(tmp_path), probe_timeout_s=1)
    available, why = data_download.tfds_availability(settings)
    assert time.monotonic() - started < 30
    assert why.endswith("storage.googleapis.com answered" if available else "within 1 s")


def test_backbone_auto_takes_a_local_hub_folder(hub_folder):
    assert choose_source(backbone_settings(source="auto", hub_handle=hub_folder)) == (
        "hub",
        f"auto: {hub_folder} is a SavedModel folder here",
    )


def test_backbone_auto_falls_back_to_the_bundled_network_offline(silent_hosts, tmp_path):
    settings = backbone_settings(source="auto")
    record = fetch_backbone("mobilenet", settings, {"flowers": 64}, tmp_path / "files")
    assert record["source_used"] == "efficientnet_lite0_bundled"
    assert record["reason"].startswith(
        "auto fell back to the bundled EfficientNet-Lite0: "
        f"{settings['hub_handle']} is not cached and tfhub.dev did not answer within 3 s"
    )
    assert not any((tmp_path / "files").iterdir())
    choice = recorded_choice("mobilenet", settings, record, str(tmp_path / "files"))
    assert (choice.source, choice.files) == ("efficientnet_lite0_bundled", None)


def test_a_hub_module_is_copied_and_recorded(hub_folder, tmp_path):
    settings = backbone_settings(source="hub", hub_handle=hub_folder)
    record = fetch_backbone("mobilenet", settings, {"flowers": 64}, tmp_path / "files")
    module = Path(hub_folder, "saved_model.pb").read_bytes()
    assert (tmp_path / "files" / "saved_model.pb").read_bytes() == module
    assert record["source_used"] == "hub" and record["hub_handle"] == hub_folder
    assert record["versions"]["tensorflow_hub"]
    choice = recorded_choice("mobilenet", settings, record, str(tmp_path / "files"))
    assert choice.files == str(tmp_path / "files")
    assert "files" not in choice.as_dict()  # train.json keeps no job-local path


def test_a_module_of_fixed_input_size_is_checked_against_every_dataset(fixed_size_module, tmp_path):
    settings = backbone_settings(source="hub", hub_handle=fixed_size_module)
    sizes = {"flowers": 64, "pets": 96}
    with pytest.raises(BackboneUnavailable) as error:
        fetch_backbone("mobilenet", settings, sizes, tmp_path / "files")
    assert str(error.value) == (
        f"backbones.mobilenet: the module {fixed_size_module} takes 48×48 images only, but "
        "datasets.flowers.image_size is 64, datasets.pets.image_size is 96: set image_size: 48 "
        "there, or choose a hub_handle whose module takes any size (or source "
        "efficientnet_lite0_bundled, which does)"
    )
    record = fetch_backbone("mobilenet", settings, {"flowers": 48}, tmp_path / "again")
    assert record["source_used"] == "hub"


def test_keras_weights_offline_fail_with_the_fix(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # an empty Keras cache
    settings = backbone_settings(source="keras_applications", keras_application="MobileNetV2")
    with pytest.raises(BackboneUnavailable, match="neither in ~/.keras/models nor downloadable"):
        fetch_backbone("mobilenet", settings, {"flowers": 96}, tmp_path / "files")


def test_a_missing_hub_folder_says_how_to_fix_it(tmp_path):
    settings = backbone_settings(source="hub", hub_handle=str(tmp_path / "missing"))
    with pytest.raises(BackboneUnavailable, match=r"backbones\.mobile: cannot fetch TF Hub handle"):
        fetch_backbone("mobile", settings, {"flowers": 64}, tmp_path / "files")


def test_backbone_auto_with_a_missing_folder_falls_back_and_says_it_is_no_url(tmp_path):
    missing = str(tmp_path / "module")
    source, reason = choose_source(backbone_settings(source="auto", hub_handle=missing))
    assert source == "efficientnet_lite0_bundled"
    assert reason.endswith(f"{missing} is not cached and it is not a URL")
