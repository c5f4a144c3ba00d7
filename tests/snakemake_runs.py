"""Run Snakemake on a temporary copy of the workflow: full runs, dry runs, planned jobs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import ROOT

WORKFLOW_FILES = ("Snakefile", "rules", "scripts", "schemas", "report", "profiles", "envs")
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def copy_workflow(destination: Path, config: dict) -> Path:
    for name in WORKFLOW_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name)
        else:
            shutil.copy(source, destination / name)
    (destination / "config.yaml").write_text(yaml.safe_dump(config))
    return destination


def snakemake(workdir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SNAKEMAKE, *args], cwd=workdir, capture_output=True, text=True, env=env, timeout=900
    )


def dry_run(workdir: Path, *args: str, env: dict | None = None) -> str:
    result = snakemake(workdir, "report", "-n", *args, env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout + result.stderr


def job_blocks(output: str) -> dict[tuple[str, str], str]:
    """(rule, wildcards) → that job's block of a dry run's output."""
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        match = re.match(r"(?:local)?rule (\w+):", block.strip())
        if match:
            wildcards = re.search(r"wildcards: (.*)", block)
            jobs[match.group(1), wildcards.group(1) if wildcards else ""] = block
    return jobs


def planned_jobs(workdir: Path, *args: str, env: dict | None = None) -> set[tuple[str, str]]:
    """(rule, wildcards) of every job a dry run of ``report`` (with ``args``) plans."""
    return set(job_blocks(dry_run(workdir, *args, env=env)))


def import_blocker(folder: Path, modules: list[str], reason: str) -> dict:
    """An environment in which importing any of ``modules`` raises ImportError(reason)."""
    for name in modules:
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(f"raise ImportError('{name} {reason}')")
    return {**os.environ, "PYTHONPATH": str(folder)}
