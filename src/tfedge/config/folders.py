"""The folders ``source: directory`` data sets name must exist where the workflow plans its jobs.

Kept out of validation, which only reads the config: Snakemake checks folders where it plans
the jobs (rules/data.smk), not inside a remote job that may not mount them, and tests can
validate settings that name folders made later.
"""

from __future__ import annotations

import os

from tfedge.config.errors import ConfigError


def folder_problems(config: dict) -> list[str]:
    """The missing ``source: directory`` folders (relative paths start at the working directory)."""
    problems = []
    for name, dataset in config.get("datasets", {}).items():
        folder = dataset.get("directory")
        if dataset.get("source") != "directory" or not folder:
            continue
        if not os.path.isdir(os.path.expanduser(folder)):
            problems.append(
                f"datasets.{name}.directory: {folder!r} is not a folder; point it at a folder "
                "holding one sub-folder of images per class (a relative path starts at the "
                f"working directory snakemake runs in, {os.getcwd()})"
            )
    return problems


def check_folders(config: dict, source: str = "config.yaml") -> None:
    """Raise ConfigError when a ``source: directory`` folder is missing (see folder_problems)."""
    problems = folder_problems(config)
    if problems:
        raise ConfigError.listing(problems, source)
