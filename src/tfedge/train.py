"""The train job: one variant and seed, trained resumably, surviving out-of-memory however it shows.

Running out of memory shows in three ways: TensorFlow raises ``ResourceExhaustedError``, a
refused allocation crashes a kernel (SIGSEGV inside oneDNN on CPUs without AVX2), or the
kernel's out-of-memory killer sends SIGKILL. Only the first reaches Python, so every attempt
runs in a child process (``tfedge.train_attempt``) that this job watches without importing
TensorFlow itself: an attempt that ends in any of the three halves the batch size and tries
again, down to the variant's ``min_batch_size``. How each attempt ended goes to train.json.

A run keeps its checkpoints and partial logs in a work folder outside Snakemake's outputs
(Snakemake deletes the outputs of a failed job); ``BackupAndRestore`` resumes from the last
finished epoch when the job runs again. The folder records the settings and data it was written
with (settings.json) and the attempts that ran out of memory (attempts.json): it is resumed
only by the same settings, at the batch size it reached. An attempt that ran out leaves nothing
the next one trusts: its checkpoint, epoch log and features are deleted before the retry. Only
a finished run moves its files into place.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import psutil

from tfedge.files import atomic, move_into_place, read_json, remove, sha256, write_json
from tfedge.integrity import describe_files, verify_recorded

log = logging.getLogger(__name__)

SETTINGS_RECORD = "settings.json"
ATTEMPTS_RECORD = "attempts.json"
REQUEST = "attempt.json"  # what the child process is to train
OUTCOME = "outcome.json"  # how it ended, when it could say so itself
FINISHED = "finished"  # the finished attempt's model files, moved into place by the job

# Signals with which an attempt dies the way running out of memory kills it; any other
# (SIGTERM, SIGINT: the job itself is being stopped) ends the job, keeping its checkpoint.
OUT_OF_MEMORY_SIGNALS: dict[int, str] = {
    signal.SIGKILL: "killed by SIGKILL, as the kernel's out-of-memory killer does",
    signal.SIGSEGV: "crashed with SIGSEGV (a refused allocation inside a kernel)",
    signal.SIGBUS: "crashed with SIGBUS (memory that could not be backed)",
    signal.SIGABRT: "aborted with SIGABRT (e.g. a failed allocation in C++)",
}
PR_SET_PDEATHSIG = 1  # prctl option: the signal a child gets when its parent dies


class TrainingStopped(RuntimeError):
    """An attempt ended in a way that is not out of memory; the message says how and what to do."""


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
class FetchedBackbone:
    """What the backbone's download job left: its record and the module or weights."""

    record: str
    files: str


@dataclass(frozen=True)
class ChildExit:
    """How an attempt's process ended: its exit status (negative: the signal) and peak memory."""

    status: int
    peak_rss_mb: float | None = None


AttemptRunner = Callable[[Path], ChildExit]


def expendable() -> None:
    """In the child, before it runs: die with the job, and be the out-of-memory killer's choice.

    The job must outlive the attempt to retry it, and an orphaned attempt must not go on
    training into a work folder that a rerun of the job already uses.
    """
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("1000")
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass(frozen=True)
class ChildProcess:
    """Runs an attempt as ``python -m tfedge.train_attempt REQUEST`` and waits for it.

    Its output goes where the job's goes (the job's log). ``command`` is what runs the
    request; tests put a process that dies by a signal in front of the real one.
    """

    command: tuple[str, ...] = (sys.executable, "-m", "tfedge.train_attempt")

    def __call__(self, request: Path) -> ChildExit:
        sys.stdout.flush()
        sys.stderr.flush()
        process = subprocess.Popen([*self.command, str(request)], preexec_fn=expendable)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        return ChildExit(process.returncode, usage.ru_maxrss / 1024)


@contextlib.contextmanager
def sole_trainer(work: Path, label: str) -> Iterator[None]:
    """Hold an exclusive lock on ``work`` while training, or refuse naming who holds it.

    A train job orphaned by a killed Snakemake keeps running; a rerun must not resume or
    delete the checkpoint it is still writing. The lock file sits beside the folder (which a
    finished run deletes) and the operating system drops the lock when its holder dies. The
    holder removes the file on the way out, so no undeclared file outlives the job.
    """
    lock_path = work.with_name(work.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with locked_file(lock_path, label, work) as lock:
        lock.write(f"pid {os.getpid()} on {socket.gethostname()}, since {time.ctime()}")
        lock.flush()
        try:
            yield
        finally:
            lock_path.unlink(missing_ok=True)


@contextlib.contextmanager
def locked_file(lock_path: Path, label: str, work: Path) -> Iterator[IO[str]]:
    """The lock file, opened, emptied and exclusively locked by this process.

    A holder that finishes unlinks the file; whoever opened it just before then locks a
    file no longer on disk, so the lock only counts once it is on the file the path names.
    """
    while True:
        with open(lock_path, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                raise TrainingStopped(
                    f"{label}: another train job ({lock.read().strip() or 'unknown'}) is "
                    f"training into {work}; wait for it to finish, or stop it, then run the "
                    "workflow again"
                ) from None
            if names_open_file(lock_path, lock):
                lock.seek(0)
                lock.truncate()
                yield lock
                return


def names_open_file(path: Path, opened: IO[str]) -> bool:
    """Whether ``path`` still names the file ``opened`` refers to (not unlinked or replaced)."""
    try:
        return os.stat(path).st_ino == os.fstat(opened.fileno()).st_ino
    except FileNotFoundError:
        return False


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
    fetched: FetchedBackbone | None = None,
) -> dict:
    """Everything that decides what a work folder's checkpoint holds; resuming needs all of it.

    The parent model and the backbone's download record are identified by their bytes, so
    retraining the parent or fetching the backbone again invalidates a checkpoint too.
    """
    return {
        "variant": variant,
        "backbone": backbone_settings,
        "backbone_download": sha256(fetched.record) if fetched is not None else None,
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
    if stored.get("backbone_download") != current.get("backbone_download"):
        reasons.append("the backbone was fetched again")
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


def forget_attempt(work: Path) -> None:
    """Delete what an attempt left in ``work`` (checkpoint, epoch log, features, partial files)."""
    for path in work.iterdir():
        if path.name not in (SETTINGS_RECORD, ATTEMPTS_RECORD):
            remove(path)


def write_history(rows: list[dict], path: str) -> None:
    with atomic(path) as partial, partial.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


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


def attempt_ending(child: ChildExit, work: Path, batch_size: int) -> dict:
    """How the attempt ended (``ended``, ``how``): its own outcome file, else its exit status.

    Raises TrainingStopped when it ended in a way a smaller batch does not help.
    """
    if (work / OUTCOME).is_file():
        return read_json(work / OUTCOME)
    signal_number = -child.status
    if signal_number in OUT_OF_MEMORY_SIGNALS:
        return {"ended": "died", "how": OUT_OF_MEMORY_SIGNALS[signal_number]}
    if signal_number > 0:
        name = signal.Signals(signal_number).name
        raise TrainingStopped(
            f"the attempt at batch {batch_size} was stopped by {name}; its checkpoint in {work} "
            "is kept, so running the workflow again resumes it"
        )
    raise TrainingStopped(
        f"the attempt at batch {batch_size} failed (exit status {child.status}); "
        "its error is above in this log"
    )


def run_attempt(request: dict, runner: AttemptRunner) -> tuple[dict, dict | None]:
    """Run one attempt: its record for train.json, and the run's summary if it completed."""
    work, batch_size = Path(request["work"]), request["batch_size"]
    remove(work / OUTCOME)
    remove(work / FINISHED)
    write_json(work / REQUEST, request)
    log.info("%s seed %d: training at batch %d", request["name"], request["seed"], batch_size)
    started = time.monotonic()
    child = runner(work / REQUEST)
    ending = attempt_ending(child, work, batch_size)
    record = {
        "batch_size": batch_size,
        "ended": ending["ended"],
        "how": ending["how"],
        "seconds": round(time.monotonic() - started, 1),
        "peak_rss_mb": child.peak_rss_mb,
    }
    return record, ending.get("summary")


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
    move_into_place(work / FINISHED / "model.keras", outputs.model)
    move_into_place(work / FINISHED / "savedmodel", outputs.savedmodel)
    write_history(finished_epochs(work / "history.csv"), outputs.history)
    move_into_place(work / "tensorboard", outputs.tensorboard)
    summary["files"] = describe_files(Path(outputs.summary).parent, ["model.keras", "savedmodel"])
    write_json(outputs.summary, summary)
    shutil.rmtree(work)


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
    request = {
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
