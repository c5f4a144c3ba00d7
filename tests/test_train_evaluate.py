"""Training saves what later steps read, resumes after a kill, and evaluation measures it."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from tfedge.files import read_json

from .helpers import in_process, train_outputs_in, variant_settings


def history_epochs(path) -> list[int]:
    with open(path) as stream:
        return [int(row["epoch"]) for row in csv.DictReader(stream)]


@pytest.fixture(scope="module")
def trained_mlp(tiny_mnist, tmp_path_factory):
    from tfedge.train.job import train_variant

    folder = tmp_path_factory.mktemp("mlp")
    outputs = train_outputs_in(folder)
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
    assert summary["images_per_second"] == pytest.approx(200 * 3 / summary["train_seconds"])
    assert summary["memory_limit_mb"] is None and summary["memory_available_mb"] > 0
    assert 0 < summary["peak_tensor_memory_mb"] < summary["peak_memory_mb"]
    assert [layer["type"] for layer in summary["layers"]][0] == "Flatten"
    assert history_epochs(outputs.history) == [0, 1, 2]
    assert (folder / "savedmodel" / "saved_model.pb").is_file()
    assert any((folder / "tensorboard").rglob("events.out.tfevents.*"))
    assert not (folder / "work").exists() and not (folder / "work.lock").exists()


def test_saved_model_export_matches_the_keras_model(trained_mlp):
    from tfedge.keras_env import keras, tf

    _, outputs, _ = trained_mlp
    images = np.random.default_rng(1).random((4, 28, 28, 1), np.float32)
    keras_logits = keras.models.load_model(outputs.model)(images, training=False).numpy()
    exported = tf.saved_model.load(outputs.savedmodel)
    served = exported.serve(tf.constant(images)).numpy()
    np.testing.assert_allclose(served, keras_logits, rtol=1e-5, atol=1e-5)


def test_the_keras_file_keeps_weights_not_the_optimizer(trained_mlp):
    """Nothing resumes from model.keras, so Adam's slots would only slow every load."""
    import zipfile

    from tfedge.models import load_model

    _, outputs, _ = trained_mlp
    with zipfile.ZipFile(outputs.model) as archive:
        config = json.loads(archive.read("config.json"))
    assert config.get("compile_config") is None
    loaded = load_model(outputs.model)
    assert loaded.optimizer is None
    assert [type(layer).__name__ for layer in loaded.layers][1] == "Flatten"


def test_evaluation_metrics_and_predictions_agree(trained_mlp, tiny_mnist, tmp_path):
    from tfedge.evaluate import evaluate_model

    _, outputs, _ = trained_mlp
    metrics_path, predictions_path = tmp_path / "m.json", tmp_path / "p.npz"
    metrics = evaluate_model(
        outputs.savedmodel,
        str(tiny_mnist),
        str(metrics_path),
        str(predictions_path),
        5,
        context={"variant": "mlp_baseline", "seed": 0},
    )
    predictions = np.load(predictions_path)
    labels, predicted = predictions["labels"], predictions["predicted"]
    assert metrics["variant"] == "mlp_baseline" and metrics["test_count"] == len(labels) == 100
    assert metrics["test_accuracy"] == pytest.approx(np.mean(labels == predicted))
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.sum() == 100 and np.trace(matrix) == np.sum(labels == predicted)
    recall_of_0 = metrics["per_class"][0]["recall"]
    assert recall_of_0 == pytest.approx(matrix[0, 0] / matrix[0].sum())
    wrong = predictions["misclassified_index"]
    assert len(wrong) == min(5, int(np.sum(labels != predicted)))
    assert np.all(labels[wrong] != predicted[wrong])
    assert predictions["misclassified_images"].shape == (len(wrong), 28, 28, 1)
    np.testing.assert_allclose(predictions["probabilities"].sum(axis=1), 1.0, rtol=1e-5)


def test_kept_misclassified_images_are_the_first_wrong_ones_across_batches(
    trained_mlp, tiny_mnist, monkeypatch
):
    from tfedge import evaluate
    from tfedge.data.pipeline import image_dataset
    from tfedge.models import load_model

    _, outputs, _ = trained_mlp
    model = load_model(outputs.model)
    images = np.concatenate([batch for batch, _ in image_dataset(tiny_mnist, "test", 64)])
    monkeypatch.setattr(evaluate, "EVAL_BATCH_SIZE", 7)
    forward = evaluate.serving_function(outputs.savedmodel)
    split = evaluate.predict_split(forward, str(tiny_mnist), keep_misclassified=8)
    wrong = np.flatnonzero(split.logits.argmax(axis=1) != split.labels)
    assert len(wrong) > 8  # more wrong than kept; 8 span two batches of 7 at least
    np.testing.assert_array_equal(split.misclassified_index, wrong[:8])
    expected = np.round(images[wrong[:8]] * 255).astype(np.uint8)
    np.testing.assert_array_equal(split.misclassified_images, expected)
    np.testing.assert_allclose(split.logits, model(images, training=False), atol=1e-5)


def test_per_class_scores_are_scikit_learns():
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from tfedge.evaluate import confusion, per_class_scores

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200)  # class 4 never occurs
    predicted = np.where(rng.random(200) < 0.6, labels, rng.integers(0, 3, 200))  # nor 3 called
    matrix = confusion(labels, predicted, 5)
    np.testing.assert_array_equal(matrix, confusion_matrix(labels, predicted, labels=range(5)))
    scores = per_class_scores(matrix, list("abcde"))
    expected = precision_recall_fscore_support(labels, predicted, labels=range(5), zero_division=0)
    for key, values in zip(("precision", "recall", "f1", "support"), expected):
        assert [row[key] for row in scores] == values.tolist(), key


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_finished_epoch(tiny_mnist, tmp_path, monkeypatch):
    from tfedge import train_attempt
    from tfedge.keras_env import keras
    from tfedge.train.job import train_variant

    class KilledAfterSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("job killed")

    normal_callbacks = train_attempt.training_callbacks
    monkeypatch.setattr(
        train_attempt,
        "training_callbacks",
        lambda work: [*normal_callbacks(work), KilledAfterSecondEpoch()],
    )
    outputs, work = train_outputs_in(tmp_path), str(tmp_path / "work")
    variant = variant_settings("mlp_baseline", epochs=4)
    with pytest.raises(KeyboardInterrupt):
        train_variant("mlp_baseline", variant, 0, str(tiny_mnist), outputs, work, runner=in_process)
    assert not (tmp_path / "train.json").exists()
    assert history_epochs(tmp_path / "work" / "history.csv") == [0, 1]

    monkeypatch.setattr(train_attempt, "training_callbacks", normal_callbacks)
    summary = train_variant(
        "mlp_baseline", variant, 0, str(tiny_mnist), outputs, work, runner=in_process
    )
    assert summary["resumed_after_epoch"] == 2
    assert summary["epochs_run"] == 4
    assert history_epochs(outputs.history) == [0, 1, 2, 3]


class Killed(Exception):
    """Stands for a training job killed between two epochs."""


def kill_after_epoch(monkeypatch, epochs: int):
    """Make training raise Killed once ``epochs`` epochs are done and backed up.

    The killer is appended last, so the epoch log and the BackupAndRestore backup of that
    epoch are written first, as when a real job dies between epochs. Returns the original
    callbacks factory, to put back for the rerun.
    """
    from tfedge import train_attempt
    from tfedge.keras_env import keras

    class KillAfterEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == epochs:
                raise Killed(f"job killed after epoch {epochs}")

    normal_callbacks = train_attempt.training_callbacks
    monkeypatch.setattr(
        train_attempt,
        "training_callbacks",
        lambda work: [*normal_callbacks(work), KillAfterEpoch()],
    )
    return normal_callbacks


def killed_then_rerun(tiny_mnist, tmp_path, monkeypatch, kill_after, first, second):
    """Train ``first`` until killed after ``kill_after`` epochs, then rerun with ``second``."""
    from tfedge import train_attempt
    from tfedge.train.job import train_variant

    outputs, work = train_outputs_in(tmp_path), tmp_path / "work"
    normal_callbacks = kill_after_epoch(monkeypatch, kill_after)
    with pytest.raises(Killed):
        train_variant(
            "mlp_baseline", first, 0, str(tiny_mnist), outputs, str(work), runner=in_process
        )
    assert history_epochs(work / "history.csv") == list(range(kill_after))
    assert any((work / "backup").iterdir())
    assert read_json(work / "settings.json")["variant"] == first

    monkeypatch.setattr(train_attempt, "training_callbacks", normal_callbacks)
    return train_variant(
        "mlp_baseline", second, 0, str(tiny_mnist), outputs, str(work), runner=in_process
    )


@pytest.mark.slow
def test_a_checkpoint_of_another_architecture_is_discarded(
    tiny_mnist, tmp_path, monkeypatch, caplog
):
    first = variant_settings("mlp_baseline", epochs=2, hidden_units=32)
    second = variant_settings("mlp_baseline", epochs=2, hidden_units=16)
    with caplog.at_level("INFO", logger="tfedge"):
        summary = killed_then_rerun(tiny_mnist, tmp_path, monkeypatch, 1, first, second)
    assert summary["resumed_after_epoch"] == 0 and summary["epochs_run"] == 2
    assert summary["params"] == 28 * 28 * 16 + 16 + 16 * 10 + 10
    assert "variant settings changed (hidden_units: 32 → 16)" in caplog.text
    assert f"discarding the checkpoint in {tmp_path / 'work'}" in caplog.text
    assert not (tmp_path / "work").exists()


@pytest.mark.slow
def test_fewer_epochs_than_a_checkpoint_ran_trains_the_new_count(
    tiny_mnist, tmp_path, monkeypatch, caplog
):
    first = variant_settings("mlp_baseline", epochs=3)
    second = variant_settings("mlp_baseline", epochs=1)
    with caplog.at_level("INFO", logger="tfedge"):
        summary = killed_then_rerun(tiny_mnist, tmp_path, monkeypatch, 2, first, second)
    assert summary["resumed_after_epoch"] == 0
    assert summary["epochs_run"] == summary["epochs_requested"] == 1
    assert history_epochs(tmp_path / "history.csv") == [0]
    assert "variant settings changed (epochs: 3 → 1)" in caplog.text


@pytest.mark.slow
def test_a_checkpoint_of_the_same_settings_is_resumed(tiny_mnist, tmp_path, monkeypatch, caplog):
    variant = variant_settings("mlp_baseline", epochs=2)
    reordered = dict(reversed(list(variant.items())))  # key order is not a change
    with caplog.at_level("INFO", logger="tfedge"):
        summary = killed_then_rerun(tiny_mnist, tmp_path, monkeypatch, 1, variant, reordered)
    assert summary["resumed_after_epoch"] == 1 and summary["epochs_run"] == 2
    assert "discarding" not in caplog.text
    assert "resuming after epoch 1" in caplog.text


def fingerprint_of(tiny_mnist, init_from=None, **variant_overrides) -> dict:
    from tfedge.train.resume import run_fingerprint

    variant = variant_settings("mlp_baseline", **variant_overrides)
    return run_fingerprint(variant, 0, read_json(tiny_mnist), None, init_from)


def test_changed_data_or_parent_model_or_no_record_discards(tiny_mnist, tmp_path):
    from tfedge.train.protocol import InitFrom
    from tfedge.train.resume import stale_reason

    work = tmp_path / "work"
    work.mkdir()
    stored = fingerprint_of(tiny_mnist)
    assert stale_reason(work, stored) is None  # an empty folder holds nothing to resume
    (work / "history.csv").write_text("epoch\n0\n")
    assert "no settings record" in stale_reason(work, stored)

    (work / "settings.json").write_text(json.dumps(stored))
    assert stale_reason(work, fingerprint_of(tiny_mnist)) is None
    other_data = fingerprint_of(tiny_mnist)
    other_data["data"]["splits"]["train"]["sha256"] = "0" * 64
    assert stale_reason(work, other_data) == ("the training data changed (manifest: splits)")

    parents = []
    for content in (b"first parent", b"retrained parent"):
        model = tmp_path / f"parent{len(parents)}.keras"
        model.write_bytes(content)
        parents.append(InitFrom(model=str(model), summary=""))
    (work / "settings.json").write_text(json.dumps(fingerprint_of(tiny_mnist, parents[0])))
    assert stale_reason(work, fingerprint_of(tiny_mnist, parents[0])) is None
    assert stale_reason(work, fingerprint_of(tiny_mnist, parents[1])) == (
        "the init_from model changed"
    )


def test_one_trainer_per_work_folder_and_no_lock_file_left(tmp_path):
    from tfedge.train.stopped import TrainingStopped
    from tfedge.train.work_folder import sole_trainer

    work = tmp_path / "work"
    with sole_trainer(work, "cnn seed 0"):
        holder = (tmp_path / "work.lock").read_text()
        assert holder.startswith(f"pid {os.getpid()} on ")
        refused = r"another train job \(pid \d+ on .*is training"
        with pytest.raises(TrainingStopped, match=refused), sole_trainer(work, "cnn seed 0"):
            pass
    assert not (tmp_path / "work.lock").exists()
    with sole_trainer(work, "cnn seed 0"):
        assert (tmp_path / "work.lock").exists()
    assert not (tmp_path / "work.lock").exists()


def test_a_lock_taken_on_a_file_its_holder_just_removed_does_not_count(tmp_path):
    from tfedge.train.work_folder import locked_file, names_open_file

    path = tmp_path / "work.lock"
    path.write_text("")
    with open(path) as opened_before_the_holder_finished:
        path.unlink()
        assert not names_open_file(path, opened_before_the_holder_finished)
        with locked_file(path, "cnn seed 0", tmp_path / "work") as lock:
            assert names_open_file(path, lock)
