"""Wall time of one config on SLURM (profiles/slurm, the README's command) against a local run.

Each run copies the workflow and the config (tests/configs/tiny.yaml by default) into a fresh
folder and makes the report from empty results: first `snakemake --cores N report` here, then
`snakemake --workflow-profile profiles/slurm report` on the cluster `sinfo` reaches (bring one
up on this machine with `profiles/slurm/local_cluster.sh up`). Prints both wall times, their
ratio and the SLURM jobs as `sacct` lists them. By hand:

    .venv/bin/python benchmarks/slurm_vs_local.py
    .venv/bin/python benchmarks/slurm_vs_local.py --config config.yaml --cores 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from cores import ROOT, SNAKEMAKE, copy_workflow

SACCT_FIELDS = "JobID,JobName%12,Comment%60,AllocCPUS,ReqMem,Timelimit,Elapsed,State"


def timed(args: list[str], config: Path) -> float:
    """Seconds for ``snakemake ARGS --configfile CONFIG`` in a fresh copy of the workflow."""
    with tempfile.TemporaryDirectory(prefix="tfedge-slurm-vs-local-") as folder:
        workdir = Path(folder)
        copy_workflow(workdir, ROOT / "config.yaml")
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
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "tests" / "configs" / "tiny.yaml")
    parser.add_argument("--cores", type=int, default=2, help="the local run's --cores")
    options = parser.parse_args()
    if subprocess.run(["sinfo"], capture_output=True).returncode != 0:
        sys.exit("no SLURM cluster answers sinfo: profiles/slurm/local_cluster.sh up (as root)")
    local = timed(["--cores", str(options.cores)], options.config)
    print(f"local --cores {options.cores}: {local:.0f} s", flush=True)
    since = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    slurm = timed(["--workflow-profile", "profiles/slurm"], options.config)
    print(f"SLURM (profiles/slurm): {slurm:.0f} s, {slurm / local:.2f}x the local run")
    subprocess.run(["sacct", "-X", "-S", since, "-o", SACCT_FIELDS], check=True)


if __name__ == "__main__":
    main()
