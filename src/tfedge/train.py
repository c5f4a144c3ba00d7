"""Train one variant with one seed, resumably, and save everything later steps read.

A run keeps its checkpoints and partial logs in a work folder outside Snakemake's outputs
(Snakemake deletes the outputs of a failed job); ``BackupAndRestore`` resumes from the last
finished epoch when the job is run again. The folder records the settings and data it was
written with (settings.json) and is resumed only by the same ones; otherwise it is discarded.
Only a finished run moves its files into place.
Running out of memory halves the batch size and tries again (recorded in train.json); a
variant's memory_limit_mb caps TensorFlow's memory, so that happens at a known size.
"""

from __future__ import annotations

import csv
import gc
import json
import logging
import math
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from tfedge.data.pipeline import image_dataset
from tfedge.data.records import sha256
from tfedge.files import read_json, replace_dir, write_json
from tfedge.keras_env import (
    cap_memory,
    keras,
    peak_memory_mb,
    reset_peak_memory,
    tf,
    use_threads,
)
from tfedge.models import build_model, layer_table, load_model
from tfedge.models.backbones import BackboneChoice, choose_backbone
from tfedge.models.transfer import FEATURE_LAYER, HEAD_LAYER, set_backbone_trainable

log = logging.getLogger(__name__)

OUT_OF_MEMORY = (tf.errors.ResourceExhaustedError, MemoryError)
SETTINGS_RECORD = "settings.json"


@dataclass(frozen=True)
class TrainOutputs:
    """The files a finished run leaves (the train rule's outputs)."""

    model: str
    savedmodel: str
    history: str
    summary: str
    tensorboard: str


@dataclass(frozen=True)
class InitFrom:
    """The finished run a fine-tuning variant starts from (same seed)."""

    model: str
    summary: str


@dataclass(frozen=True)
class Run:
    """Everything one training run needs besides the batch size."""

    name: str
    variant: dict
    seed: int
    manifest_path: str
    manifest: dict
    work: Path
    backbone: BackboneChoice | None
    init_from: InitFrom | None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        size = self.manifest["image_size"]
        return (size, size, self.manifest["channels"])

    @property
    def trains_on_cached_features(self) -> bool:
        variant = self.variant
        return (
            variant["model"] == "transfer"
            and variant["cache_features"]
            and not variant["unfreeze"]
            and not variant["augment"]
        )


class EpochTimer(keras.callbacks.Callback):
    """Adds ``epoch_seconds`` to each epoch's logs, so a resumed run still knows its total time."""

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._started


class SingleDeviceAdam(keras.optimizers.Adam):
    """Adam that skips summing the gradients over replicas when there is only one.

    Keras sums them through a custom gradient, which TensorFlow registers globally for each
    traced training step and never drops; the registration keeps that step's graph, and
    through it the model's weights and Adam's slots, alive. After an out-of-memory error the
    failed attempt's model then stayed in memory (89 of a 245 MB cap) and the smaller batches
    ran out too. With one replica the sum is the gradient itself.
    """

    def aggregate_gradients(self, grads_and_vars):
        if tf.distribute.get_strategy().num_replicas_in_sync > 1:
            return super().aggregate_gradients(grads_and_vars)
        return grads_and_vars


def learning_rate(variant: dict, steps_per_epoch: int):
    """A constant rate, or cosine decay driven by the optimizer's step count.

    The decay depends only on ``optimizer.iterations``, which BackupAndRestore restores, so a
    resumed run continues on the same curve.
    """
    if variant["lr_schedule"] == "cosine":
        total_steps = variant["epochs"] * steps_per_epoch
        return keras.optimizers.schedules.CosineDecay(variant["learning_rate"], total_steps)
    return variant["learning_rate"]


def compile_model(model: keras.Model, variant: dict, train_count: int, batch_size: int) -> None:
    """Adam and sparse categorical cross-entropy on logits, as in the TF2 quickstart."""
    rate = learning_rate(variant, math.ceil(train_count / batch_size))
    model.compile(
        optimizer=SingleDeviceAdam(rate),
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


def data_identity(manifest: dict) -> dict:
    """What of the manifest decides what a run learns: classes, image shape, split files."""
    return {
        "class_names": manifest["class_names"],
        "image_size": manifest["image_size"],
        "channels": manifest["channels"],
        "splits": {
            split: {"sha256": entry["sha256"], "count": entry["count"]}
            for split, entry in manifest["splits"].items()
        },
    }


def run_fingerprint(
    variant: dict,
    seed: int,
    manifest: dict,
    backbone_settings: dict | None,
    init_from: InitFrom | None,
) -> dict:
    """Everything that decides what a work folder's checkpoint holds; resuming needs all of it.

    The parent model is identified by its bytes, so retraining the parent invalidates its
    fine-tuned children's checkpoints too.
    """
    return {
        "variant": variant,
        "backbone": backbone_settings,
        "seed": seed,
        "data": data_identity(manifest),
        "init_from": sha256(init_from.model) if init_from is not None else None,
    }


def changed_keys(stored: dict, current: dict) -> list[str]:
    return sorted(
        key for key in stored.keys() | current.keys() if stored.get(key) != current.get(key)
    )


def describe_changes(stored: dict, current: dict) -> str:
    """Why a stored fingerprint no longer matches, naming what changed (old → new)."""
    reasons = []
    for part, what in (("variant", "variant settings"), ("backbone", "backbone settings")):
        old, new = stored.get(part) or {}, current.get(part) or {}
        if old != new:
            fields = [
                f"{key}: {old.get(key)!r} → {new.get(key)!r}" for key in changed_keys(old, new)
            ]
            reasons.append(f"{what} changed ({', '.join(fields)})")
    if stored.get("seed") != current.get("seed"):
        reasons.append(f"the seed changed ({stored.get('seed')} → {current.get('seed')})")
    if stored.get("data") != current.get("data"):
        fields = changed_keys(stored.get("data") or {}, current.get("data") or {})
        reasons.append(f"the training data changed (manifest: {', '.join(fields)})")
    if stored.get("init_from") != current.get("init_from"):
        reasons.append("the init_from model changed")
    return "; ".join(reasons) or "the settings record has another format"


def stale_reason(work: Path, fingerprint: dict) -> str | None:
    """Why the state in ``work`` must not be resumed, or None when it may be (or there is none)."""
    if not work.is_dir() or not any(work.iterdir()):
        return None
    record = work / SETTINGS_RECORD
    if not record.is_file():
        return "the folder has no settings record, so what wrote it is unknown"
    try:
        stored = read_json(record)
    except ValueError:
        return "its settings record is unreadable"
    current = json.loads(json.dumps(fingerprint))  # as JSON reads it back: lists, not tuples
    return None if stored == current else describe_changes(stored, current)


def claim_work_folder(work: Path, fingerprint: dict, label: str) -> None:
    """Keep ``work`` for a resume only if the same settings and data wrote it, then record them.

    A checkpoint of other settings either fails to restore (other layer shapes) or silently
    finishes a different run (e.g. fewer epochs than it already ran), so it is deleted and
    training starts from scratch. The record is written before any state, so every folder a
    killed job leaves says what it belongs to.
    """
    reason = stale_reason(work, fingerprint)
    if reason is not None:
        log.warning(
            "%s: %s; discarding the checkpoint in %s and training from scratch", label, reason, work
        )
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    write_json(work / SETTINGS_RECORD, fingerprint)


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


def initial_model(run: Run) -> keras.Model:
    """A fresh model, or the init_from run's; transfer models get their trainable layers set."""
    if run.init_from is not None:
        model = load_model(run.init_from.model)
    else:
        classes = len(run.manifest["class_names"])
        model = build_model(run.variant, run.input_shape, classes, run.backbone)
    if run.variant["model"] == "transfer":
        trainable = set_backbone_trainable(
            model, run.variant["unfreeze"], run.variant["unfreeze_from"]
        )
        log.info("%s: %d backbone layers trainable", run.name, trainable)
    return model


def cached_features(backbone: keras.Model, run: Run, split: str, batch_size: int):
    """Backbone features of a whole split, computed once per run and kept in the work folder."""
    path = run.work / f"features_{split}.npz"
    if path.exists():
        with np.load(path) as stored:
            return stored["features"], stored["labels"]
    extract = tf.function(lambda images: backbone(images, training=False))  # graph, not eager
    features, labels = [], []
    for images, batch_labels in image_dataset(run.manifest_path, split, batch_size):
        features.append(extract(images).numpy())
        labels.append(batch_labels.numpy())
    features, labels = np.concatenate(features), np.concatenate(labels)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as stream:
        np.savez(stream, features=features, labels=labels)
    partial.replace(path)
    log.info("%s: cached %s features %s", run.name, split, features.shape)
    return features, labels


def feature_dataset(backbone, run: Run, split: str, batch_size: int, shuffle: bool):
    features, labels = cached_features(backbone, run, split, batch_size)
    dataset = tf.data.Dataset.from_tensor_slices((features, labels))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=run.seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def image_datasets(run: Run, batch_size: int):
    augment_seed = run.seed if run.variant.get("augment") else None
    train = image_dataset(
        run.manifest_path, "train", batch_size, shuffle_seed=run.seed, augment_seed=augment_seed
    )
    return train, image_dataset(run.manifest_path, "validation", batch_size)


def fit(run: Run, batch_size: int) -> tuple[keras.Model, float]:
    """One training attempt at ``batch_size``; resumes from the work folder's backup if any.

    Returns the model and the seconds spent computing cached features (0 without them).
    """
    model = initial_model(run)
    trained, feature_seconds = model, 0.0
    if run.trains_on_cached_features:
        backbone = model.get_layer(FEATURE_LAYER)
        trained = model.get_layer(HEAD_LAYER)
        started = time.perf_counter()
        train = feature_dataset(backbone, run, "train", batch_size, shuffle=True)
        validation = feature_dataset(backbone, run, "validation", batch_size, shuffle=False)
        feature_seconds = time.perf_counter() - started
    else:
        train, validation = image_datasets(run, batch_size)
    compile_model(trained, run.variant, run.manifest["splits"]["train"]["count"], batch_size)
    trained.fit(
        train,
        validation_data=validation,
        epochs=run.variant["epochs"],
        callbacks=training_callbacks(run.work),
        verbose=2,
    )
    return model, feature_seconds


def smaller_batch(batch_size: int, variant: dict, error: BaseException) -> int:
    """Half the batch size, or an error that says what to change when the floor is reached."""
    smaller, floor, cap = batch_size // 2, variant["min_batch_size"], variant["memory_limit_mb"]
    if smaller < floor:
        limits = f"min_batch_size is {floor}" + (f", memory_limit_mb is {cap}" if cap else "")
        fixes = "raise memory_limit_mb, " if cap else ""
        raise MemoryError(
            f"out of memory even at batch size {batch_size} ({limits}): {fixes}"
            "lower the dataset's image_size, free memory, or lower min_batch_size"
        ) from error
    return smaller


def error_line(error: BaseException) -> str:
    """The error's type and the line saying what ran out (TensorFlow's starts "OOM when ...")."""
    lines = str(error).splitlines() or [""]
    line = next((line for line in lines if "OOM when" in line), lines[0])
    return f"{type(error).__name__}: {line.strip()[:200]}"


def release_memory() -> None:
    """Free what a failed attempt allocated, so the smaller batch has the memory.

    The error's traceback holds the attempt's frames (its model, optimizer and datasets) in
    reference cycles, which only the garbage collector breaks.
    """
    keras.backend.clear_session()
    gc.collect()


def fit_with_backoff(run: Run) -> tuple[keras.Model, dict]:
    """Fit, halving the batch size after each out-of-memory error.

    Returns the model and what train.json records of the attempts, the allocator's peak
    during the one that succeeded included.
    """
    batch_size, backoffs = run.variant["batch_size"], []
    while True:
        reset_peak_memory()
        try:
            model, feature_seconds = fit(run, batch_size)
        except OUT_OF_MEMORY as error:
            smaller = smaller_batch(batch_size, run.variant, error)
            backoffs.append(
                {"from_batch_size": batch_size, "to": smaller, "error": error_line(error)}
            )
            log.warning("%s: %s; retrying at batch %d", run.name, backoffs[-1]["error"], smaller)
        else:
            return model, {
                "batch_size": batch_size,
                "oom_backoffs": backoffs,
                "feature_seconds": feature_seconds,
                "peak_tensor_memory_mb": peak_memory_mb(),
            }
        release_memory()  # after the handler, which keeps the error (and its frames) alive
        batch_size = smaller


def save_model(model: keras.Model, outputs: TrainOutputs) -> None:
    """The Keras file (for fine-tuning) and a SavedModel export (for evaluation and conversion).

    The Keras file holds the layers and weights, not the optimizer: nothing resumes from it
    (the work folder's backup does), and Adam's two slots per trainable weight made a
    fine-tuned MobileNet file 2.5 times larger and three times slower to load (13.7 s).
    """
    partial_model = Path(outputs.model).with_name("model.partial.keras")
    keras.Model(model.inputs, model.outputs, name=model.name).save(partial_model)
    partial_model.replace(outputs.model)
    partial_export = outputs.savedmodel.rstrip("/") + ".partial"
    model.export(partial_export)
    replace_dir(partial_export, outputs.savedmodel)


def resolve_backbone(
    variant: dict, settings: dict | None, init_from: InitFrom | None
) -> BackboneChoice | None:
    """The parent run's backbone for fine-tuning (so both use the same network), else choose."""
    if variant["model"] != "transfer":
        return None
    if init_from is not None:
        return BackboneChoice(**read_json(init_from.summary)["backbone"])
    return choose_backbone(variant["backbone"], settings)


def train_variant(
    name: str,
    variant: dict,
    seed: int,
    manifest_path: str,
    outputs: TrainOutputs,
    work_dir: str,
    threads: int = 1,
    backbone_settings: dict | None = None,
    init_from: InitFrom | None = None,
) -> dict:
    """Train, save, and return the summary written to ``outputs.summary`` (train.json)."""
    use_threads(threads)
    cap_memory(variant["memory_limit_mb"])
    available_mb = memory_available_mb(variant["memory_limit_mb"])
    keras.utils.set_random_seed(seed)
    work, manifest = Path(work_dir), read_json(manifest_path)
    fingerprint = run_fingerprint(variant, seed, manifest, backbone_settings, init_from)
    claim_work_folder(work, fingerprint, f"{name} seed {seed}")
    resumed_after = len(finished_epochs(work / "history.csv"))
    if resumed_after:
        log.info("%s seed %d: resuming after epoch %d", name, seed, resumed_after)
    run = Run(
        name=name,
        variant=variant,
        seed=seed,
        manifest_path=manifest_path,
        manifest=manifest,
        work=work,
        backbone=resolve_backbone(variant, backbone_settings, init_from),
        init_from=init_from,
    )
    model, attempts = fit_with_backoff(run)

    history = finished_epochs(work / "history.csv")
    save_model(model, outputs)
    write_history(history, outputs.history)
    replace_dir(work / "tensorboard", outputs.tensorboard)
    summary = summarise(run, model, history, resumed_after, threads)
    summary.update(attempts, memory_available_mb=available_mb)
    summary["train_seconds"] += attempts["feature_seconds"]
    write_json(outputs.summary, summary)
    shutil.rmtree(work)
    return summary


def memory_available_mb(memory_limit_mb: int | None) -> float:
    """What training may allocate: the cap when set, else the machine's available memory now."""
    if memory_limit_mb is not None:
        return float(memory_limit_mb)
    return psutil.virtual_memory().available / 2**20


def summarise(
    run: Run, model: keras.Model, history: list[dict], resumed_after: int, threads: int
) -> dict:
    val_accuracy = [float(row["val_accuracy"]) for row in history]
    best = max(range(len(history)), key=val_accuracy.__getitem__)
    variant = run.variant
    epoch_seconds = sum(float(row["epoch_seconds"]) for row in history)
    images_trained = run.manifest["splits"]["train"]["count"] * len(history)
    return {
        "variant": run.name,
        "seed": run.seed,
        "dataset": variant["dataset"],
        "source_used": run.manifest["source_used"],
        "model": variant["model"],
        "backbone": run.backbone.as_dict() if run.backbone else None,
        "init_from": variant.get("init_from"),
        "features_cached": run.trains_on_cached_features,
        "params": int(model.count_params()),
        "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "epochs_requested": variant["epochs"],
        "epochs_run": len(history),
        "resumed_after_epoch": resumed_after,
        "batch_size_requested": variant["batch_size"],
        "train_seconds": epoch_seconds,
        # Per second of epoch time (validation pass included); on cached features, the head's.
        "images_per_second": images_trained / epoch_seconds,
        "best_epoch": best + 1,
        "best_val_accuracy": val_accuracy[best],
        "final_val_accuracy": val_accuracy[-1],
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "memory_limit_mb": variant["memory_limit_mb"],
        "threads": threads,
        "tensorflow": tf.__version__,
        "layers": layer_table(model),
    }
