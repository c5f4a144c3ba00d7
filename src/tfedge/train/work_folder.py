"""The work folder a run trains in, outside Snakemake's outputs, and the lock that guards it.

Snakemake deletes the outputs of a failed job, so a run keeps its checkpoints and partial logs
in a work folder that outlives a killed job. Beside the attempts' own files it holds two
records: the settings and data it was written with (SETTINGS_RECORD, tfedge.train.resume) and
the attempts that ran out of memory (ATTEMPTS_RECORD, tfedge.train.backoff).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tfedge.files import remove
from tfedge.train.stopped import TrainingStopped

SETTINGS_RECORD = "settings.json"
ATTEMPTS_RECORD = "attempts.json"


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


def forget_attempt(work: Path) -> None:
    """Delete what an attempt left in ``work`` (checkpoint, epoch log, features, partial files)."""
    for path in work.iterdir():
        if path.name not in (SETTINGS_RECORD, ATTEMPTS_RECORD):
            remove(path)
