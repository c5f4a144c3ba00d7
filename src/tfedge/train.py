"""Train one variant with one seed, resumably, and save everything later steps read.

A run keeps its checkpoints and partial logs in a work folder outside Snakemake's outputs
(Snakemake deletes the outputs of a failed job); ``BackupAndRestore`` resumes from the last
finished epoch when the job is run again. Only a finished run moves its files into place.
"""

from __future__ import annotations

import csv
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from tfedge.data.pipeline import image_dataset
from tfedge.files import read_json, replace_dir, write_json
from tfedge.keras_env import keras, tf, use_threads
from tfedge.models import build_model, layer_table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOutputs:
    """The files a finished run leaves (the train rule's outputs)."""

    model: str
    savedmodel: str
    history: str
    summary: str
    tensorboard: str


class EpochTimer(keras.callbacks.Callback):
    """Adds ``epoch_seconds`` to each epoch's logs, so a resumed run still knows its total time."""

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._started


def learning_rate(variant: dict, steps_per_epoch: int):
    """A constant rate, or cosine decay driven by the optimizer's step count.

    The decay depends only on ``optimizer.iterations``, which BackupAndRestore restores, so a
    resumed run continues on the same curve.
    """
    if variant["lr_schedule"] == "cosine":
        total_steps = variant["epochs"] * steps_per_epoch
        return keras.optimizers.schedules.CosineDecay(variant["learning_rate"], total_steps)
    return variant["learning_rate"]


def compile_model(model: keras.Model, rate) -> None:
    """Adam and sparse categorical cross-entropy on logits, as in the TF2 quickstart."""
    model.compile(
        optimizer=keras.optimizers.Adam(rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def finished_epochs(history_csv: Path) -> list[dict]:
    """Rows of the epoch log, one per epoch; an epoch re-run after a kill keeps its last row."""
    if not history_csv.exists():
        return []
    with history_csv.open() as stream:
        rows = {int(row["epoch"]): row for row in csv.DictReader(stream)}
    return [rows[epoch] for epoch in sorted(rows)]


def write_history(rows: list[dict], path: str) -> None:
    partial = Path(path + ".partial")
    with partial.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(path)


def training_callbacks(work: Path) -> list[keras.callbacks.Callback]:
    # The epoch log is written before the backup: a kill between the two repeats an epoch
    # (deduplicated by finished_epochs) instead of losing its row.
    return [
        EpochTimer(),
        keras.callbacks.CSVLogger(str(work / "history.csv"), append=True),
        keras.callbacks.BackupAndRestore(str(work / "backup")),
        keras.callbacks.TensorBoard(str(work / "tensorboard"), histogram_freq=0),
    ]


def save_model(model: keras.Model, outputs: TrainOutputs) -> None:
    """The Keras file (for evaluation) and a SavedModel export (for conversion)."""
    partial_model = Path(outputs.model).with_name("model.partial.keras")
    model.save(partial_model)
    partial_model.replace(outputs.model)
    partial_export = outputs.savedmodel.rstrip("/") + ".partial"
    model.export(partial_export)
    replace_dir(partial_export, outputs.savedmodel)


def train_variant(
    name: str,
    variant: dict,
    seed: int,
    manifest_path: str,
    outputs: TrainOutputs,
    work_dir: str,
    threads: int = 1,
) -> dict:
    """Train, save, and return the summary written to ``outputs.summary`` (train.json)."""
    use_threads(threads)
    keras.utils.set_random_seed(seed)
    manifest = read_json(manifest_path)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    resumed_after = len(finished_epochs(work / "history.csv"))
    if resumed_after:
        log.info("%s seed %d: resuming after epoch %d", name, seed, resumed_after)

    batch_size = variant["batch_size"]
    augment_seed = seed if variant.get("augment") else None
    train = image_dataset(
        manifest_path, "train", batch_size, shuffle_seed=seed, augment_seed=augment_seed
    )
    validation = image_dataset(manifest_path, "validation", batch_size)
    size, channels = manifest["image_size"], manifest["channels"]
    model = build_model(variant, (size, size, channels), len(manifest["class_names"]))
    steps_per_epoch = math.ceil(manifest["splits"]["train"]["count"] / batch_size)
    compile_model(model, learning_rate(variant, steps_per_epoch))
    model.fit(
        train,
        validation_data=validation,
        epochs=variant["epochs"],
        callbacks=training_callbacks(work),
        verbose=2,
    )

    history = finished_epochs(work / "history.csv")
    save_model(model, outputs)
    write_history(history, outputs.history)
    replace_dir(work / "tensorboard", outputs.tensorboard)
    summary = summarise(name, variant, seed, model, history, resumed_after, manifest, threads)
    write_json(outputs.summary, summary)
    shutil.rmtree(work)
    return summary


def summarise(
    name: str,
    variant: dict,
    seed: int,
    model: keras.Model,
    history: list[dict],
    resumed_after: int,
    manifest: dict,
    threads: int,
) -> dict:
    val_accuracy = [float(row["val_accuracy"]) for row in history]
    best = max(range(len(history)), key=val_accuracy.__getitem__)
    return {
        "variant": name,
        "seed": seed,
        "dataset": variant["dataset"],
        "source_used": manifest["source_used"],
        "model": variant["model"],
        "params": int(model.count_params()),
        "epochs_requested": variant["epochs"],
        "epochs_run": len(history),
        "resumed_after_epoch": resumed_after,
        "batch_size": variant["batch_size"],
        "train_seconds": sum(float(row["epoch_seconds"]) for row in history),
        "best_epoch": best + 1,
        "best_val_accuracy": val_accuracy[best],
        "final_val_accuracy": val_accuracy[-1],
        "threads": threads,
        "tensorflow": tf.__version__,
        "layers": layer_table(model),
    }
