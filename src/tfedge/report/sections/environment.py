"""Environment: where and with what the report was made (packages, machine, git commit, config
hash, date), and the TensorFlow the training jobs ran, which may differ from the report job's."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from importlib import metadata

from tfedge.config.helpers import config_hash
from tfedge.report.results import Results

ID = "environment"
TITLE = "Environment"
READS = ("summaries",)

PACKAGES = (
    "tensorflow",
    "tf-keras",
    "tensorflow-datasets",
    "tensorflow-hub",
    "snakemake",
    "numpy",
    "scikit-learn",
    "matplotlib",
    "jinja2",
    "tfedge",
)


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str:
    """Short commit of the working tree, marked ``-dirty`` when it has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + ("-dirty" if dirty else "")


def _provenance(results: Results) -> dict:
    return {
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "git_commit": git_commit(),
        "config_hash": config_hash(results.config),
        "packages": package_versions(),
    }


def provenance(results: Results) -> dict:
    """Made once: the page's header line shows it too."""
    return results.once("provenance", _provenance)


def context(results: Results) -> dict:
    return {
        "provenance": provenance(results),
        "training_tensorflow": sorted(
            {run.summary["tensorflow"] for runs in results.runs.values() for run in runs}
        ),
    }
