"""Transfer learning: backbone choice, TF Hub, unfreezing, cached features."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tfedge.files import read_json
from tfedge.models.backbones import BackboneChoice

from .helpers import backbone_settings, train_outputs_in, variant_settings

BUNDLED = BackboneChoice("lite", "efficientnet_lite0_bundled", "test")


def transfer_model(choice, **variant_overrides):
    from tfedge.models import build_model

    variant = variant_settings("frozen", **variant_overrides)
    return build_model(variant, (32, 32, 3), 5, choice)


def test_hub_backbone_frozen_then_trainable_and_reloadable_from_where_the_job_has_it(
    hub_folder, tmp_path
):
    """A saved model names its hub module where the saving job had it; a later job (fine-tuning
    from it) loads it with the module at its own staged path."""
    from tfedge.models import load_model
    from tfedge.models.transfer import set_backbone_trainable

    module = shutil.copytree(hub_folder, tmp_path / "saving_job" / "module")
    choice = BackboneChoice("lite", "hub", "test", hub_handle="a handle", files=str(module))
    model = transfer_model(choice)
    set_backbone_trainable(model, unfreeze=False, unfreeze_from=None)
    assert {w.name.split("/")[0] for w in model.trainable_weights} == {"logits"}
    # auto may take the hub module for a variant whose unfreeze_from names a bundled block
    assert set_backbone_trainable(model, unfreeze=True, unfreeze_from="block6") == 1
    assert len(model.trainable_weights) == 2 + 2  # the hub conv's kernel and bias, the head's

    images = np.random.default_rng(0).random((2, 32, 32, 3), np.float32)
    model.save(tmp_path / "model.keras")
    staged = module.rename(tmp_path / "loading_job_module")
    with pytest.raises(Exception, match="saving_job"):
        load_model(str(tmp_path / "model.keras"))
    reloaded = load_model(str(tmp_path / "model.keras"), hub_module=str(staged))
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
    from tfedge.train.job import train_variant

    variant = variant_settings(name, **overrides)
    settings = backbone_settings(source="efficientnet_lite0_bundled")
    return train_variant(
        name,
        variant,
        0,
        str(manifest),
        train_outputs_in(folder),
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
    from tfedge.train.protocol import InitFrom

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


def test_a_keras_application_builds_from_the_weights_its_download_job_saved(tmp_path):
    from tfedge.keras_env import keras
    from tfedge.models.backbones import keras_weights_file
    from tfedge.models.transfer import build_backbone

    saved = keras.applications.MobileNetV2(
        include_top=False, weights=None, pooling="avg", input_shape=(32, 32, 3), alpha=0.35
    )
    saved.save_weights(str(tmp_path / keras_weights_file(32)))
    choice = BackboneChoice(
        "mobile", "keras_applications", "t", keras_application="MobileNetV2", files=str(tmp_path)
    )
    with pytest.raises(ValueError):  # alpha 1.0 does not fit weights saved at 0.35
        build_backbone(choice, 32)
    saved = keras.applications.MobileNetV2(
        include_top=False, weights=None, pooling="avg", input_shape=(32, 32, 3)
    )
    saved.save_weights(str(tmp_path / keras_weights_file(32)))
    images = np.random.default_rng(0).random((2, 32, 32, 3), np.float32)
    np.testing.assert_allclose(
        build_backbone(choice, 32)(images), saved(images * 2 - 1), rtol=1e-4, atol=1e-5
    )


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

    model = transfer_model(BUNDLED)
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
