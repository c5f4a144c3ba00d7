"""Training saves what later steps read, resumes after a kill, and evaluation measures it."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tfedge.files import read_json

from .conftest import variant_settings


def outputs_in(folder):
    from tfedge.train import TrainOutputs

    return TrainOutputs(
        model=str(folder / "model.keras"),
        savedmodel=str(folder / "savedmodel"),
        history=str(folder / "history.csv"),
        summary=str(folder / "train.json"),
        tensorboard=str(folder / "tensorboard"),
    )


def history_epochs(path) -> list[int]:
    with open(path) as stream:
        return [int(row["epoch"]) for row in csv.DictReader(stream)]


@pytest.fixture(scope="module")
def trained_mlp(tiny_mnist, tmp_path_factory):
    from tfedge.train import train_variant

    folder = tmp_path_factory.mktemp("mlp")
    outputs = outputs_in(folder)
    variant = variant_settings("mlp_baseline", epochs=3)
    summary = train_variant(
        "mlp_baseline", variant, 0, str(tiny_mnist), outputs, str(folder / "work")
    )
    return folder, outputs, summary


def test_training_writes_every_output_and_a_summary(trained_mlp):
    folder, outputs, summary = trained_mlp
    assert read_json(outputs.summary) == summary
    assert summary["epochs_run"] == 3 and summary["resumed_after_epoch"] == 0
    assert summary["params"] == 101_770 and summary["batch_size"] == 32
    assert summary["train_seconds"] > 0 and 1 <= summary["best_epoch"] <= 3
    assert [layer["type"] for layer in summary["layers"]][0] == "Flatten"
    assert history_epochs(outputs.history) == [0, 1, 2]
    assert (folder / "savedmodel" / "saved_model.pb").is_file()
    assert any((folder / "tensorboard").rglob("events.out.tfevents.*"))
    assert not (folder / "work").exists()


def test_saved_model_export_matches_the_keras_model(trained_mlp):
    from tfedge.keras_env import keras, tf

    _, outputs, _ = trained_mlp
    images = np.random.default_rng(1).random((4, 28, 28, 1), np.float32)
    keras_logits = keras.models.load_model(outputs.model)(images, training=False).numpy()
    exported = tf.saved_model.load(outputs.savedmodel)
    served = exported.serve(tf.constant(images)).numpy()
    np.testing.assert_allclose(served, keras_logits, rtol=1e-5, atol=1e-5)


def test_evaluation_metrics_and_predictions_agree(trained_mlp, tiny_mnist, tmp_path):
    from tfedge.evaluate import evaluate_model

    _, outputs, _ = trained_mlp
    metrics_path, predictions_path = tmp_path / "m.json", tmp_path / "p.npz"
    metrics = evaluate_model(
        outputs.model,
        str(tiny_mnist),
        str(metrics_path),
        str(predictions_path),
        5,
        context={"variant": "mlp_baseline", "seed": 0},
    )
    predictions = np.load(predictions_path)
    labels, predicted = predictions["labels"], predictions["predicted"]
    assert metrics["variant"] == "mlp_baseline" and metrics["test_count"] == len(labels) == 40
    assert metrics["test_accuracy"] == pytest.approx(np.mean(labels == predicted))
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.sum() == 40 and np.trace(matrix) == np.sum(labels == predicted)
    recall_of_0 = metrics["per_class"][0]["recall"]
    assert recall_of_0 == pytest.approx(matrix[0, 0] / matrix[0].sum())
    wrong = predictions["misclassified_index"]
    assert len(wrong) == min(5, int(np.sum(labels != predicted)))
    assert np.all(labels[wrong] != predicted[wrong])
    assert predictions["misclassified_images"].shape == (len(wrong), 28, 28, 1)
    np.testing.assert_allclose(predictions["probabilities"].sum(axis=1), 1.0, rtol=1e-5)


def test_a_killed_run_resumes_from_its_last_finished_epoch(tiny_mnist, tmp_path, monkeypatch):
    from tfedge import train
    from tfedge.keras_env import keras

    class KilledAfterSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("job killed")

    normal_callbacks = train.training_callbacks
    monkeypatch.setattr(
        train,
        "training_callbacks",
        lambda work: [*normal_callbacks(work), KilledAfterSecondEpoch()],
    )
    outputs, work = outputs_in(tmp_path), str(tmp_path / "work")
    variant = variant_settings("mlp_baseline", epochs=4)
    with pytest.raises(KeyboardInterrupt):
        train.train_variant("mlp_baseline", variant, 0, str(tiny_mnist), outputs, work)
    assert not (tmp_path / "train.json").exists()
    assert history_epochs(tmp_path / "work" / "history.csv") == [0, 1]

    monkeypatch.setattr(train, "training_callbacks", normal_callbacks)
    summary = train.train_variant("mlp_baseline", variant, 0, str(tiny_mnist), outputs, work)
    assert summary["resumed_after_epoch"] == 2
    assert summary["epochs_run"] == 4
    assert history_epochs(outputs.history) == [0, 1, 2, 3]
