"""Transfer learning: backbone choice, TF Hub, unfreezing, cached features."""

from __future__ import annotations

import numpy as np
import pytest

from tfedge.files import read_json
from tfedge.models import backbones
from tfedge.models.backbones import BackboneChoice, choose_backbone

from .conftest import backbone_settings, outputs_in, variant_settings

BUNDLED = BackboneChoice("lite", "efficientnet_lite0_bundled", "test")


@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory):
    """A small image feature-vector SavedModel, exported here and loaded as a TF Hub handle."""
    from tfedge.keras_env import keras, tf

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="hub_conv")(inputs)
    outputs = keras.layers.GlobalAveragePooling2D()(x)
    folder = tmp_path_factory.mktemp("hub") / "feature_vector"
    tf.saved_model.save(keras.Model(inputs, outputs), str(folder))
    return str(folder)


def transfer_model(choice, **variant_overrides):
    from tfedge.models import build_model

    variant = variant_settings("frozen", **variant_overrides)
    return build_model(variant, (32, 32, 3), 5, choice)


def test_auto_takes_a_local_hub_folder(hub_folder):
    choice = choose_backbone("lite", backbone_settings(source="auto", hub_handle=hub_folder))
    assert choice.source == "hub" and choice.hub_handle == hub_folder
    assert choice.reason == f"auto: {hub_folder} is a SavedModel folder here"


def test_auto_falls_back_to_the_bundled_backbone_offline(monkeypatch):
    monkeypatch.setattr(backbones, "host_reachable", lambda address, timeout_s: False)
    choice = choose_backbone("lite", backbone_settings(source="auto"))
    assert choice.source == "efficientnet_lite0_bundled"
    assert choice.reason.startswith("auto fell back to the bundled EfficientNet-Lite0")


def test_hub_backbone_frozen_then_trainable_and_reloadable(hub_folder, tmp_path):
    from tfedge.models import load_model
    from tfedge.models.transfer import set_backbone_trainable

    choice = choose_backbone("lite", backbone_settings(source="hub", hub_handle=hub_folder))
    model = transfer_model(choice)
    set_backbone_trainable(model, unfreeze=False, unfreeze_from=None)
    assert {w.name.split("/")[0] for w in model.trainable_weights} == {"logits"}
    assert set_backbone_trainable(model, unfreeze=True, unfreeze_from="block6") == 1
    assert len(model.trainable_weights) == 2 + 2  # the hub conv's kernel and bias, the head's

    images = np.random.default_rng(0).random((2, 32, 32, 3), np.float32)
    model.save(tmp_path / "model.keras")
    reloaded = load_model(str(tmp_path / "model.keras"))
    np.testing.assert_allclose(reloaded(images), model(images), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_unfreezing_the_bundled_backbone_from_a_block_keeps_batchnorm_frozen():
    from tfedge.keras_env import keras
    from tfedge.models import leaf_layers
    from tfedge.models.transfer import set_backbone_trainable

    model = transfer_model(BUNDLED)
    assert set_backbone_trainable(model, unfreeze=False, unfreeze_from=None) == 0
    set_backbone_trainable(model, unfreeze=True, unfreeze_from="block6")
    layers = leaf_layers(model.get_layer("backbone"))
    trainable = [layer.name for layer in layers if layer.trainable]
    assert trainable[0].startswith("block6a") and "top_conv" in trainable
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization) and layer.trainable for layer in layers
    )
    with pytest.raises(ValueError, match="no backbone layer name starts with 'block9'"):
        set_backbone_trainable(model, unfreeze=True, unfreeze_from="block9")


def train_flowers(manifest, folder, name, init_from=None, **overrides):
    from tfedge.train import train_variant

    variant = variant_settings(name, **overrides)
    settings = backbone_settings(source="efficientnet_lite0_bundled")
    return train_variant(
        name,
        variant,
        0,
        str(manifest),
        outputs_in(folder),
        str(folder / "work"),
        backbone_settings=settings,
        init_from=init_from,
    )


@pytest.mark.slow
def test_frozen_head_on_cached_features_is_the_saved_full_model(tiny_flowers, tmp_path):
    from tfedge.data.pipeline import image_dataset
    from tfedge.models import load_model

    summary = train_flowers(tiny_flowers, tmp_path, "frozen", epochs=2)
    assert (
        summary["features_cached"] and summary["backbone"]["source"] == "efficientnet_lite0_bundled"
    )
    assert summary["trainable_params"] == 1280 * 10 + 10
    model = load_model(str(tmp_path / "model.keras"))
    images, _ = next(iter(image_dataset(tiny_flowers, "test", 8)))
    features = model.get_layer("backbone")(images, training=False)
    np.testing.assert_allclose(
        model(images, training=False),
        model.get_layer("head")(features, training=False),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.slow
def test_finetuning_starts_from_the_frozen_run_and_trains_the_top(tiny_flowers, tmp_path):
    from tfedge.models import load_model
    from tfedge.train import InitFrom

    frozen_dir, tuned_dir = tmp_path / "frozen", tmp_path / "tuned"
    frozen_dir.mkdir()
    tuned_dir.mkdir()
    train_flowers(tiny_flowers, frozen_dir, "frozen", epochs=1)
    parent = InitFrom(str(frozen_dir / "model.keras"), str(frozen_dir / "train.json"))
    summary = train_flowers(tiny_flowers, tuned_dir, "finetuned", init_from=parent, epochs=1)
    assert not summary["features_cached"] and summary["init_from"] == "frozen"
    assert summary["backbone"] == read_json(frozen_dir / "train.json")["backbone"]
    assert summary["trainable_params"] > 1_000_000
    frozen = load_model(str(frozen_dir / "model.keras"))
    tuned = load_model(str(tuned_dir / "model.keras"))
    for unchanged in ("stem_conv", "block5a_dwconv", "top_bn"):
        assert np.array_equal(backbone_weight(frozen, unchanged), backbone_weight(tuned, unchanged))
    assert not np.array_equal(
        backbone_weight(frozen, "top_conv"), backbone_weight(tuned, "top_conv")
    )


def backbone_weight(model, layer_name: str) -> np.ndarray:
    """The first weight (kernel or gamma) of a backbone layer."""
    return next(
        weight.numpy()
        for weight in model.get_layer("backbone").weights
        if weight.name.split("/")[-2] == layer_name
    )


def test_unloadable_hub_handle_says_how_to_fix_it(tmp_path):
    from tfedge.models.backbones import BackboneUnavailable
    from tfedge.models.transfer import build_backbone

    choice = BackboneChoice("mobile", "hub", "test", hub_handle=str(tmp_path / "missing"))
    with pytest.raises(BackboneUnavailable, match=r"backbones\.mobile: cannot load TF Hub handle"):
        build_backbone(choice, 32)


def test_missing_keras_weights_say_how_to_fix_it(monkeypatch):
    from tfedge.keras_env import keras
    from tfedge.models.backbones import BackboneUnavailable
    from tfedge.models.transfer import build_backbone

    def no_download(**kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.applications, "MobileNetV2", no_download)
    choice = BackboneChoice("mobile", "keras_applications", "t", keras_application="MobileNetV2")
    with pytest.raises(BackboneUnavailable, match=r"neither in ~/.keras/models nor downloadable"):
        build_backbone(choice, 32)


@pytest.mark.slow  # trains a head in TensorFlow
def test_a_head_trained_on_cached_features_is_saved_without_its_optimizer(tmp_path):
    """The frozen variant's head is compiled and fitted alone; model.keras must still hold
    weights only (README: no optimizer state), as for every other variant."""
    import io
    import zipfile

    import h5py

    from tfedge.keras_env import keras
    from tfedge.models.transfer import HEAD_LAYER
    from tfedge.train_attempt import save_model

    choice = choose_backbone("lite", backbone_settings(source="efficientnet_lite0_bundled"))
    model = transfer_model(choice)
    head = model.get_layer(HEAD_LAYER)
    head.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
    features = np.random.default_rng(0).random((8, head.input_shape[-1]), np.float32)
    head.fit(features, np.arange(8) % 5, epochs=1, verbose=0)
    assert head.optimizer.variables()  # Adam's slots exist before saving

    save_model(model, tmp_path)
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")))
        stored = []
        weights.visit(stored.append)
    assert stored and not [name for name in stored if "optimizer" in name]
