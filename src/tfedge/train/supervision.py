"""Each attempt runs in a child process, watched from outside, because running out of memory
shows in three ways and only one of them reaches Python.

TensorFlow raises ``ResourceExhaustedError`` (the child writes that into its outcome file), a
refused allocation crashes a kernel (SIGSEGV inside oneDNN on CPUs without AVX2), or the
kernel's out-of-memory killer sends SIGKILL. Here the child is started, made the killer's first
choice, and its ending read: from its outcome file, else from the signal that ended it.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tfedge.files import read_json, remove, write_json
from tfedge.train.protocol import FINISHED, OUTCOME, REQUEST
from tfedge.train.stopped import TrainingStopped

log = logging.getLogger(__name__)

# Signals with which an attempt dies the way running out of memory kills it; any other
# (SIGTERM, SIGINT: the job itself is being stopped) ends the job, keeping its checkpoint.
OUT_OF_MEMORY_SIGNALS: dict[int, str] = {
    signal.SIGKILL: "killed by SIGKILL, as the kernel's out-of-memory killer does",
    signal.SIGSEGV: "crashed with SIGSEGV (a refused allocation inside a kernel)",
    signal.SIGBUS: "crashed with SIGBUS (memory that could not be backed)",
    signal.SIGABRT: "aborted with SIGABRT (e.g. a failed allocation in C++)",
}
PR_SET_PDEATHSIG = 1  # prctl option: the signal a child gets when its parent dies


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
