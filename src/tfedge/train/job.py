"""The train job: one variant and seed, trained resumably, surviving out-of-memory however it shows.

Every attempt runs in a child process (tfedge.train.supervision) that this job watches without
importing TensorFlow itself: an attempt that runs out of memory halves the batch size and tries
again (tfedge.train.backoff), down to the variant's ``min_batch_size``. How each attempt ended
goes to train.json.

A run keeps its checkpoints and partial logs in a work folder outside Snakemake's outputs
(tfedge.train.work_folder), locked while it trains; ``BackupAndRestore`` resumes from the last
finished epoch when the job runs again, but only with the settings and data the folder was
written with (tfedge.train.resume). Only a finished run moves its files into place.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from tfedge.files import atomic, move_into_place, read_json, write_json
from tfedge.integrity import describe_files, verify_recorded
from tfedge.train.backoff import back_off
from tfedge.train.protocol import (
    EPOCH_LOG,
    FINISHED,
    KERAS_MODEL,
    SAVEDMODEL,
    TENSORBOARD,
    FetchedBackbone,
    InitFrom,
    finished_epochs,
)
from tfedge.train.resume import claim_work_folder, run_fingerprint
from tfedge.train.supervision import AttemptRunner, ChildProcess
from tfedge.train.work_folder import sole_trainer


@dataclass(frozen=True)
class TrainOutputs:
    """The files a finished run leaves (the train rule's outputs)."""

    model: str
    savedmodel: str
    history: str
    summary: str
    tensorboard: str


def write_history(rows: list[dict], path: str) -> None:
    with atomic(path) as partial, partial.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def memory_available_mb(memory_limit_mb: int | None) -> float:
    """What training may allocate: the cap when set, else the machine's available memory now."""
    if memory_limit_mb is not None:
        return float(memory_limit_mb)
    return psutil.virtual_memory().available / 2**20


def finish(work: Path, outputs: TrainOutputs, summary: dict) -> None:
    """Move the finished run's files into place, write train.json last, drop the work folder.

    train.json records the size and SHA-256 of the model files, which every job that reads
    them checks first (tfedge.integrity).
    """
    move_into_place(work / FINISHED / KERAS_MODEL, outputs.model)
    move_into_place(work / FINISHED / SAVEDMODEL, outputs.savedmodel)
    write_history(finished_epochs(work / EPOCH_LOG), outputs.history)
    move_into_place(work / TENSORBOARD, outputs.tensorboard)
    summary["files"] = describe_files(Path(outputs.summary).parent, ["model.keras", "savedmodel"])
    write_json(outputs.summary, summary)
    shutil.rmtree(work)


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
    fetched_backbone: FetchedBackbone | None = None,
    runner: AttemptRunner | None = None,
) -> dict:
    """Train, halving the batch after each attempt that ran out of memory; returns train.json."""
    if init_from is not None:
        verify_recorded(init_from.summary, only="model.keras")
    available_mb = memory_available_mb(variant["memory_limit_mb"])
    work, manifest = Path(work_dir), read_json(manifest_path)
    fingerprint = run_fingerprint(
        variant, seed, manifest, backbone_settings, init_from, fetched_backbone
    )
    request = {  # every attempt's request (tfedge.train.protocol), less its batch size
        "name": name,
        "variant": variant,
        "seed": seed,
        "manifest_path": manifest_path,
        "work": str(work),
        "threads": threads,
        "backbone_settings": backbone_settings,
        "init_from": asdict(init_from) if init_from is not None else None,
        "fetched_backbone": asdict(fetched_backbone) if fetched_backbone is not None else None,
    }
    with sole_trainer(work, f"{name} seed {seed}"):
        claim_work_folder(work, fingerprint, f"{name} seed {seed}")
        summary, attempts = back_off(request, runner or ChildProcess())
        summary.update(
            attempts=attempts,
            memory_available_mb=available_mb,
            # What this job was asked to train (the rule's params), to compare with the plan.
            settings={"variant": variant, "backbone": backbone_settings},
        )
        finish(work, outputs, summary)
    return summary
