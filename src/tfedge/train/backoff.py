"""The batch-size back-off: after each attempt that ran out of memory, halve the batch.

Down to the variant's ``min_batch_size``, where the job stops with what to change. The
attempts that ran out are recorded in the work folder, so a job killed in the middle of its
back-off continues at the batch size it had reached, and an attempt that ran out leaves
nothing the next one trusts: its checkpoint, epoch log and features are deleted first.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from tfedge.files import read_json, write_json
from tfedge.train.supervision import AttemptRunner, run_attempt
from tfedge.train.work_folder import ATTEMPTS_RECORD, forget_attempt

log = logging.getLogger(__name__)


def describe_attempts(attempts: list[dict]) -> str:
    return "; ".join(f"batch {a['batch_size']}: {a['how']}" for a in attempts)


def smaller_batch(batch_size: int, variant: dict, attempts: list[dict]) -> int:
    """Half the batch size, or an error that says what to change when the floor is reached."""
    smaller, floor, cap = batch_size // 2, variant["min_batch_size"], variant["memory_limit_mb"]
    if smaller < floor:
        limits = f"min_batch_size is {floor}" + (f", memory_limit_mb is {cap}" if cap else "")
        fixes = "raise memory_limit_mb, " if cap else ""
        raise MemoryError(
            f"out of memory even at batch size {batch_size} ({limits}): {fixes}"
            "lower the dataset's image_size, free memory, or lower min_batch_size. "
            f"Attempts: {describe_attempts(attempts)}"
        )
    return smaller


def first_batch_size(work: Path, variant: dict, label: str) -> tuple[int, list[dict]]:
    """The batch size to train at, and the attempts a killed job's back-off already made."""
    failed = read_json(work / ATTEMPTS_RECORD) if (work / ATTEMPTS_RECORD).is_file() else []
    if not failed:
        return variant["batch_size"], failed
    batch_size = smaller_batch(failed[-1]["batch_size"], variant, failed)
    log.info("%s: continuing at batch %d (%s)", label, batch_size, describe_attempts(failed))
    return batch_size, failed


def back_off(request: dict, runner: AttemptRunner) -> tuple[dict, list[dict]]:
    """Run attempts, halving the batch after each that ran out; the summary and every attempt."""
    work, variant = Path(request["work"]), request["variant"]
    label = f"{request['name']} seed {request['seed']}"
    batch_size, attempts = first_batch_size(work, variant, label)
    while True:
        attempt, summary = run_attempt({**request, "batch_size": batch_size}, runner)
        attempts.append(attempt)
        if summary is not None:
            return summary, attempts
        log.warning("%s: batch %d %s", label, batch_size, attempt["how"])
        forget_attempt(work)
        write_json(work / ATTEMPTS_RECORD, attempts)
        try:
            batch_size = smaller_batch(batch_size, variant, attempts)
        except MemoryError:
            shutil.rmtree(work)  # nothing to resume: a rerun starts again at the batch asked for
            raise
