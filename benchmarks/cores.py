"""Wall time of the whole workflow at --cores 1 vs --cores N, from empty results each time.

Each run copies the workflow and a config (by default the checkout's own config.yaml, which is
the offline default here) into a fresh folder and times `snakemake --cores N report`.
Jobs get their rule's threads, capped at N, and TensorFlow's thread pools follow them, so
more cores mean more threads per job, and with one-thread jobs (`--one-thread-jobs`)
more jobs at once. Prints each wall time and the speed-up over the first run.

`--compare-with REV` first runs the same from git revision REV (checked out into a temporary
worktree, its `src` on PYTHONPATH, its own config.yaml unless `--config` names one), so old
and new are timed back to back on the same machine, as timings drift between sessions. By hand:

    .venv/bin/python benchmarks/cores.py --cores 1 2
    .venv/bin/python benchmarks/cores.py --cores 2 --one-thread-jobs
    .venv/bin/python benchmarks/cores.py --cores 1 --compare-with HEAD~1
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.snakemake_runs import SNAKEMAKE, copy_workflow  # noqa: E402

MULTI_THREAD_RULES = ("train", "evaluate", "convert", "convert_tensorrt")


@contextlib.contextmanager
def worktree(revision: str):
    """A temporary checkout of ``revision``, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="tfedge-rev-") as folder:
        path = Path(folder) / "checkout"
        git = ["git", "-C", str(ROOT)]
        subprocess.run([*git, "worktree", "add", "--detach", str(path), revision], check=True)
        try:
            yield path
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=True)


def timed_run(
    cores: int,
    config: Path | None,
    one_thread_jobs: bool,
    checkout: Path = ROOT,
    keep: Path | None = None,
) -> float:
    """Seconds for a full `snakemake --cores N report` from empty results.

    The workflow and library come from ``checkout`` (this checkout by default). With
    ``keep``, the run's report, job records (results/benchmarks) and format measurements
    (results/bench) are copied there.
    """
    args = [SNAKEMAKE, "--cores", str(cores), "report"]
    if one_thread_jobs:
        args += ["--set-threads", *(f"{rule}=1" for rule in MULTI_THREAD_RULES)]
    with tempfile.TemporaryDirectory(prefix="tfedge-cores-") as folder:
        workdir = Path(folder)
        config_path = config or checkout / "config.yaml"
        copy_workflow(workdir, yaml.safe_load(config_path.read_text()), checkout)
        env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
        log = workdir / "snakemake.log"
        start = time.perf_counter()
        with log.open("w") as stream:
            result = subprocess.run(
                args, cwd=workdir, stdout=stream, stderr=subprocess.STDOUT, env=env
            )
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"--cores {cores} failed:\n{log.read_text()[-4000:]}")
        if keep is not None:
            shutil.copytree(workdir / "results" / "benchmarks", keep / "benchmarks")
            shutil.copytree(workdir / "results" / "bench", keep / "bench")
            shutil.copy(workdir / "results" / "report.html", keep)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--config", type=Path, help="one config for every run")
    parser.add_argument(
        "--one-thread-jobs",
        action="store_true",
        help=f"give {', '.join(MULTI_THREAD_RULES)} one thread each, so jobs run side by side",
    )
    parser.add_argument("--compare-with", metavar="REV", help="time git revision REV first")
    parser.add_argument(
        "--keep", type=Path, help="copy each run's report and records into a folder here"
    )
    options = parser.parse_args()
    before = {}
    if options.compare_with:
        with worktree(options.compare_with) as checkout:
            for cores in options.cores:
                kept = options.keep and options.keep / f"{options.compare_with}-cores{cores}"
                before[cores] = timed_run(
                    cores, options.config, options.one_thread_jobs, checkout, kept
                )
                print(f"{options.compare_with}: --cores {cores}: {before[cores]:.0f} s", flush=True)
    times = {}
    for cores in options.cores:
        kept = options.keep and options.keep / f"cores{cores}"
        times[cores] = timed_run(cores, options.config, options.one_thread_jobs, keep=kept)
        print(f"--cores {cores}: {times[cores]:.0f} s", flush=True)
    for cores, seconds in before.items():
        print(f"--cores {cores}: {seconds / times[cores]:.2f}x faster than {options.compare_with}")
    first = options.cores[0]
    for cores in options.cores[1:]:
        print(f"speed-up --cores {cores} vs --cores {first}: {times[first] / times[cores]:.2f}x")


if __name__ == "__main__":
    main()
