"""One training attempt at one batch size, in a process of its own (the train job starts it).

``python -m tfedge.train_attempt REQUEST``: the train job writes what to train into a request
file, starts this module on it and watches how the process ends; tfedge.train.protocol holds
all the two share. Here the run is fitted, resumed from the work folder's backup when there is
one, and its model files are saved into the work folder; the outcome file beside the request
says how the attempt ended: ``completed`` (with the run's summary) or ``out_of_memory``
(TensorFlow raised it). A crash inside TensorFlow or a kill by the kernel's out-of-memory
killer leaves no outcome file; the job reads those from the exit status.
"""

from __future__ import annotations

import logging
import math
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfedge.data.pipeline import image_dataset
from tfedge.files import atomic, read_json, write_json
from tfedge.job import log_to_stderr
from tfedge.keras_env import (
    cap_memory,
    keras,
    peak_memory_mb,
    reset_peak_memory,
    tf,
)
from tfedge.models import build_model, layer_table, load_model
from tfedge.models.backbones import BackboneChoice, recorded_choice
from tfedge.models.compute import counted_macs
from tfedge.models.transfer import FEATURE_LAYER, HEAD_LAYER, set_backbone_trainable
from tfedge.train.protocol import (
    EPOCH_LOG,
    FINISHED,
    KERAS_MODEL,
    OUTCOME,
    SAVEDMODEL,
    TENSORBOARD,
    FetchedBackbone,
    InitFrom,
    finished_epochs,
)

log = logging.getLogger(__name__)

OUT_OF_MEMORY = (tf.errors.ResourceExhaustedError, MemoryError)


@dataclass(frozen=True)
class Run:
    """Everything one training attempt needs: the job's request, with the manifest read."""

    name: str
    variant: dict
    seed: int
    manifest_path: str
    manifest: dict
    work: Path
    batch_size: int
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
        optimizer=keras.optimizers.Adam(rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def training_callbacks(work: Path) -> list[keras.callbacks.Callback]:
    # The epoch log is written before the backup: a kill between the two repeats an epoch
    # (deduplicated by finished_epochs) instead of losing its row.
    return [
        EpochTimer(),
        keras.callbacks.CSVLogger(str(work / EPOCH_LOG), append=True),
        keras.callbacks.BackupAndRestore(str(work / "backup")),
        keras.callbacks.TensorBoard(str(work / TENSORBOARD), histogram_freq=0),
    ]


def initial_model(run: Run) -> keras.Model:
    """A fresh model, or the init_from run's; transfer models get their trainable layers set."""
    if run.init_from is not None:
        hub_module = run.backbone.files if run.backbone else None
        model = load_model(run.init_from.model, hub_module=hub_module)
    else:
        classes = len(run.manifest["class_names"])
        model = build_model(run.variant, run.input_shape, classes, run.backbone)
    if run.variant["model"] == "transfer":
        trainable = set_backbone_trainable(
            model, run.variant["unfreeze"], run.variant["unfreeze_from"]
        )
        log.info("%s: %d backbone layers trainable", run.name, trainable)
    return model


def cached_features(backbone: keras.Model, run: Run, split: str):
    """Backbone features of a whole split, computed once per run and kept in the work folder."""
    path = run.work / f"features_{split}.npz"
    if path.exists():
        with np.load(path) as stored:
            return stored["features"], stored["labels"]
    extract = tf.function(lambda images: backbone(images, training=False))  # graph, not eager
    features, labels = [], []
    for images, batch_labels in image_dataset(run.manifest_path, split, run.batch_size):
        features.append(extract(images).numpy())
        labels.append(batch_labels.numpy())
    features, labels = np.concatenate(features), np.concatenate(labels)
    with atomic(path) as partial, partial.open("wb") as stream:
        np.savez(stream, features=features, labels=labels)
    log.info("%s: cached %s features %s", run.name, split, features.shape)
    return features, labels


def feature_dataset(backbone, run: Run, split: str, shuffle: bool):
    features, labels = cached_features(backbone, run, split)
    dataset = tf.data.Dataset.from_tensor_slices((features, labels))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=run.seed, reshuffle_each_iteration=True)
    return dataset.batch(run.batch_size).prefetch(tf.data.AUTOTUNE)


def image_datasets(run: Run):
    augment_seed = run.seed if run.variant.get("augment") else None
    train = image_dataset(
        run.manifest_path,
        "train",
        run.batch_size,
        shuffle_seed=run.seed,
        augment_seed=augment_seed,
    )
    return train, image_dataset(run.manifest_path, "validation", run.batch_size)


def fit(run: Run) -> tuple[keras.Model, float]:
    """Train at the run's batch size; resumes from the work folder's backup if any.

    Returns the model and the seconds spent computing cached features (0 without them).
    """
    model = initial_model(run)
    trained, feature_seconds = model, 0.0
    if run.trains_on_cached_features:
        backbone = model.get_layer(FEATURE_LAYER)
        trained = model.get_layer(HEAD_LAYER)
        started = time.perf_counter()
        train = feature_dataset(backbone, run, "train", shuffle=True)
        validation = feature_dataset(backbone, run, "validation", shuffle=False)
        feature_seconds = time.perf_counter() - started
    else:
        train, validation = image_datasets(run)
    train_count = run.manifest["splits"]["train"]["count"]
    compile_model(trained, run.variant, train_count, run.batch_size)
    trained.fit(
        train,
        validation_data=validation,
        epochs=run.variant["epochs"],
        callbacks=training_callbacks(run.work),
        verbose=2,
    )
    return model, feature_seconds


def error_line(error: BaseException) -> str:
    """The error's type and the line saying what ran out (TensorFlow's starts "OOM when ...")."""
    lines = str(error).splitlines() or [""]
    line = next((line for line in lines if "OOM when" in line), lines[0])
    return f"{type(error).__name__}: {line.strip()[:200]}"


def save_model(model: keras.Model, folder: Path) -> None:
    """The Keras file (for fine-tuning) and a SavedModel export (for evaluation and conversion).

    Written into the work folder: the attempt's outcome file, written last, is what makes
    them count, and the train job moves them into place.

    The Keras file holds the layers and weights, not the optimizer: nothing resumes from it
    (the work folder's backup does), and Adam's two slots per trainable weight made a
    fine-tuned MobileNet file 2.5 times larger and three times slower to load (13.7 s). A head
    trained alone on cached features was compiled as a model of its own, and Keras saves a
    nested model's optimizer with it, so that one is dropped here.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for nested in model.submodules:
        if isinstance(nested, keras.Model):
            nested.optimizer = None
    keras.Model(model.inputs, model.outputs, name=model.name).save(folder / KERAS_MODEL)
    model.export(str(folder / SAVEDMODEL))


def resolve_backbone(
    variant: dict, settings: dict | None, fetched: FetchedBackbone | None
) -> BackboneChoice | None:
    """The backbone the download job's record names (a fine-tuning run and its parent read
    the same one), or the bundled network."""
    if variant["model"] != "transfer":
        return None
    record = read_json(fetched.record) if fetched is not None else None
    files = fetched.files if fetched is not None else None
    return recorded_choice(variant["backbone"], settings, record, files)


def summarise(run: Run, model: keras.Model, resumed_after: int, threads: int) -> dict:
    history = finished_epochs(run.work / EPOCH_LOG)
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
        "macs": counted_macs(model),
        "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "epochs_requested": variant["epochs"],
        "epochs_run": len(history),
        "resumed_after_epoch": resumed_after,
        "batch_size_requested": variant["batch_size"],
        "batch_size": run.batch_size,
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


def attempt(request: dict) -> dict:
    """Train as the request says; the outcome: completed with a summary, or out of memory."""
    variant, work = request["variant"], Path(request["work"])
    cap_memory(variant["memory_limit_mb"])
    keras.utils.set_random_seed(request["seed"])
    init_from = InitFrom(**request["init_from"]) if request["init_from"] else None
    fetched = request["fetched_backbone"]
    fetched = FetchedBackbone(**fetched) if fetched else None
    run = Run(
        name=request["name"],
        variant=variant,
        seed=request["seed"],
        manifest_path=request["manifest_path"],
        manifest=read_json(request["manifest_path"]),
        work=work,
        batch_size=request["batch_size"],
        backbone=resolve_backbone(variant, request["backbone_settings"], fetched),
        init_from=init_from,
    )
    resumed_after = len(finished_epochs(work / EPOCH_LOG))
    if resumed_after:
        log.info("%s seed %d: resuming after epoch %d", run.name, run.seed, resumed_after)
    reset_peak_memory()
    try:
        model, feature_seconds = fit(run)
    except OUT_OF_MEMORY as error:
        return {"ended": "out_of_memory", "how": f"out of memory ({error_line(error)})"}
    save_model(model, work / FINISHED)
    summary = summarise(run, model, resumed_after, request["threads"])
    summary["train_seconds"] += feature_seconds
    summary.update(feature_seconds=feature_seconds, peak_tensor_memory_mb=peak_memory_mb())
    return {"ended": "completed", "how": "completed", "summary": summary}


def run_request(request_file: str | Path) -> None:
    """Run the attempt a request file describes and write its outcome beside it."""
    request_file = Path(request_file)
    write_json(request_file.with_name(OUTCOME), attempt(read_json(request_file)))


if __name__ == "__main__":
    log_to_stderr()
    run_request(sys.argv[1])
