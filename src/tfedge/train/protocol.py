"""What the train job and an attempt's child process (``tfedge.train_attempt``) share.

The job writes a request (REQUEST: what to train, at which batch size) into the work folder and
starts the child on it. A child that can say how it ended writes OUTCOME beside it,
``{"ended": ..., "how": ...}`` with the run's ``summary`` when it completed, and leaves its
model files, epoch log and TensorBoard logs for the job to move into place. The two share
nothing else: the child imports no more of ``tfedge.train`` than this module, so its code
digest (tfedge.code_digest) holds none of the supervision, and the job only names the child's
module, so it never imports TensorFlow.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

REQUEST = "attempt.json"  # what the child process is to train
OUTCOME = "outcome.json"  # how it ended, when it could say so itself
FINISHED = "finished"  # the finished attempt's model files, moved into place by the job
KERAS_MODEL = "model.keras"  # in FINISHED: the Keras file
SAVEDMODEL = "savedmodel"  # in FINISHED: the SavedModel export
EPOCH_LOG = "history.csv"  # one row per finished epoch, appended to by every attempt
TENSORBOARD = "tensorboard"  # the TensorBoard logs of every attempt


@dataclass(frozen=True)
class InitFrom:
    """The finished run a fine-tuning variant starts from (same seed)."""

    model: str
    summary: str


@dataclass(frozen=True)
class FetchedBackbone:
    """What the backbone's download job left: its record and the module or weights."""

    record: str
    files: str


def finished_epochs(history_csv: Path) -> list[dict]:
    """Rows of the epoch log, one per epoch; an epoch re-run after a kill keeps its last row."""
    if not history_csv.exists():
        return []
    with history_csv.open() as stream:
        rows = {int(row["epoch"]): row for row in csv.DictReader(stream)}
    return [rows[epoch] for epoch in sorted(rows)]
