"""Run Snakemake on a temporary copy of the workflow: full runs, dry runs, planned jobs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .helpers import ROOT

WORKFLOW_FILES = ("Snakefile", "rules", "scripts", "schemas", "report", "profiles", "envs")
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def copy_workflow(destination: Path, config: dict, checkout: Path = ROOT) -> Path:
    """The workflow's files from ``checkout`` (this one by default) and ``config`` as its
    config.yaml, in ``destination``; used by the tests and the benchmarks alike."""
    for name in WORKFLOW_FILES:
        source = checkout / name
        if source.is_dir():
            shutil.copytree(source, destination / name)
        else:
            shutil.copy(source, destination / name)
    # In the order given (a hand-written config's), not sorted: the rules see it as written.
    (destination / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return destination


def snakemake(workdir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SNAKEMAKE, *args], cwd=workdir, capture_output=True, text=True, env=env, timeout=1800
    )


def dry_run(workdir: Path, *args: str, env: dict | None = None, target: str = "report") -> str:
    result = snakemake(workdir, target, "-n", *args, env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout + result.stderr


def job_blocks(output: str) -> dict[tuple[str, str], str]:
    """(rule, wildcards) → that job's block of a dry run's output (in a group job, too)."""
    jobs = {}
    for block in re.split(r"\n(?=[ \t]*(?:local)?rule \w+:)", output):
        match = re.match(r"(?:local)?rule (\w+):", block.strip())
        if match:
            wildcards = re.search(r"wildcards: (.*)", block)
            jobs[match.group(1), wildcards.group(1) if wildcards else ""] = block
    return jobs


def planned_jobs(workdir: Path, *args: str, env: dict | None = None) -> set[tuple[str, str]]:
    """(rule, wildcards) of every job a dry run of ``report`` (with ``args``) plans."""
    return set(job_blocks(dry_run(workdir, *args, env=env)))


def s3_env() -> dict:
    """The environment with the moto server's credentials (any key works there)."""
    keys = ("SNAKEMAKE_STORAGE_S3_ACCESS_KEY", "SNAKEMAKE_STORAGE_S3_SECRET_KEY")
    return {**os.environ, **dict.fromkeys(keys, "test")}


def s3_storage(endpoint: str, bucket: str) -> tuple[str, ...]:
    """Options that keep every result in ``bucket`` on the S3 server at ``endpoint``.

    Put them after the target: the --storage-s3-* options take several values and would
    swallow a target that follows them.
    """
    return (
        "--default-storage-provider", "s3", "--default-storage-prefix", f"s3://{bucket}",
        "--storage-s3-endpoint-url", endpoint,
    )  # fmt: skip


def import_blocker(folder: Path, modules: list[str], reason: str) -> dict:
    """An environment in which importing any of ``modules`` raises ImportError(reason)."""
    for name in modules:
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(f"raise ImportError('{name} {reason}')")
    search_path = [str(folder), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(search_path)}
