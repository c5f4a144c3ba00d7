"""Wall time of one config on SLURM (profiles/slurm, the README's command) against a local run.

Each run copies the workflow and the config (tests/configs/tiny.yaml by default) into a fresh
folder and makes the report from empty results: first `snakemake --cores N report` here, then
`snakemake --workflow-profile profiles/slurm report` on the cluster `sinfo` reaches (bring one
up on this machine with `profiles/slurm/local_cluster.sh up`). Prints both wall times, their
ratio, the seconds the jobs themselves took in each run, summed by rule (their `benchmark:`
records; the rest of a run's time is waiting: for a free CPU, for SLURM, for a status check),
and the SLURM jobs as `sacct` lists them. By hand:

    .venv/bin/python benchmarks/slurm_vs_local.py
    .venv/bin/python benchmarks/slurm_vs_local.py --config config.yaml --cores 2 --keep /tmp/runs
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml
from cores import ROOT, SNAKEMAKE, copy_workflow

SACCT_FIELDS = "JobID,JobName%12,Comment%60,AllocCPUS,Submit,Start,End,Elapsed,State"


@contextlib.contextmanager
def run_folder(keep: Path | None, name: str):
    """A fresh folder for one run: ``KEEP/NAME`` when asked to keep it, else a temporary one."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="tfedge-slurm-vs-local-") as folder:
            yield Path(folder)
    else:
        if (keep / name).exists():
            sys.exit(f"{keep / name} exists: give --keep a folder without local/ or slurm/ in it")
        (keep / name).mkdir(parents=True)
        yield keep / name


def job_seconds(workdir: Path) -> dict[str, float]:
    """Rule → wall seconds of its jobs, summed, from the jobs' ``benchmark:`` records."""
    seconds: dict[str, float] = {}
    for record in sorted((workdir / "results" / "benchmarks").glob("*/*.tsv")):
        with record.open() as stream:
            row = next(csv.DictReader(stream, delimiter="\t"))
        rule = record.parent.name
        seconds[rule] = seconds.get(rule, 0.0) + float(row["s"])
    return seconds


def timed(args: list[str], config: Path, workdir: Path) -> tuple[float, dict[str, float]]:
    """Seconds for ``snakemake ARGS --configfile CONFIG`` in a fresh copy of the workflow in
    WORKDIR, and its jobs' own seconds by rule."""
    copy_workflow(workdir, yaml.safe_load((ROOT / "config.yaml").read_text()))
    (workdir / "own.yaml").write_text(config.read_text())
    log = workdir / "snakemake.log"
    started = time.perf_counter()
    with log.open("w") as stream:
        result = subprocess.run(
            [SNAKEMAKE, *args, "report", "--configfile", "own.yaml"],
            cwd=workdir, stdout=stream, stderr=subprocess.STDOUT,
        )  # fmt: skip
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{log.read_text()[-4000:]}")
    return seconds, job_seconds(workdir)


def print_job_seconds(local: dict[str, float], slurm: dict[str, float]) -> None:
    print(f"{'jobs of rule':<20} {'local s':>8} {'SLURM s':>8}")
    for rule in sorted(local.keys() | slurm.keys()):
        print(f"{rule:<20} {local.get(rule, 0):8.0f} {slurm.get(rule, 0):8.0f}")
    print(f"{'all jobs':<20} {sum(local.values()):8.0f} {sum(slurm.values()):8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "tests" / "configs" / "tiny.yaml")
    parser.add_argument("--cores", type=int, default=2, help="the local run's --cores")
    parser.add_argument("--keep", type=Path, help="keep both runs here (local/, slurm/)")
    options = parser.parse_args()
    if subprocess.run(["sinfo"], capture_output=True).returncode != 0:
        sys.exit("no SLURM cluster answers sinfo: profiles/slurm/local_cluster.sh up (as root)")
    with run_folder(options.keep, "local") as workdir:
        local, local_jobs = timed(["--cores", str(options.cores)], options.config, workdir)
    print(f"local --cores {options.cores}: {local:.0f} s", flush=True)
    since = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    with run_folder(options.keep, "slurm") as workdir:
        slurm, slurm_jobs = timed(["--workflow-profile", "profiles/slurm"], options.config, workdir)
    print(f"SLURM (profiles/slurm): {slurm:.0f} s, {slurm / local:.2f}x the local run")
    print_job_seconds(local_jobs, slurm_jobs)
    subprocess.run(["sacct", "-X", "-S", since, "-o", SACCT_FIELDS], check=True)


if __name__ == "__main__":
    main()
