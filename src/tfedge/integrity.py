"""What an artifact holds, recorded where it is made and checked wherever it is read.

Snakemake judges a folder output by its timestamp alone and never reads a file, so a model file
deleted or truncated inside one would go unnoticed, and it never rebuilds a missing file whose
readers are up to date. So every job's record (``results/benchmarks/<rule>/<job>.json``, written
by tfedge.job) lists the size and SHA-256 of every file the job wrote and is sealed by a digest of
its own. Planning checks those records (``damaged_jobs``): sizes of every file, hashes of the
small ones (the JSON records, which an edit keeps the size of), the seals, and that every input a
finished job read is still there; the workflow then forces what is damaged to be made again.
Every job that reads an artifact compares the hashes first (``verify_*``), and ``python -m
tfedge.verify_run`` checks a whole finished run by hash. No TensorFlow: planning imports it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tfedge import paths
from tfedge.files import read_json, sha256

# The user's command line with a "{target}" to force, set by the workflow where Snakemake runs
# (rules/damage.smk): a job that finds damage prints the fix with the user's target and config.
RUN_COMMAND = "TFEDGE_RUN_COMMAND"
# Files up to this size are hashed while planning: the records and metrics, whose edits keep
# their size; models and data splits are checked by size there and by hash in the jobs.
HASHED_WHILE_PLANNING = 256 * 1024

SNAKEMAKE_MARKER = ".snakemake_timestamp"  # Snakemake's own file in a folder output


class DamagedArtifact(RuntimeError):
    """An input differs from its record; the message names the file and the rebuild command."""


def describe_files(root: str | Path, artifacts: Iterable[str]) -> dict[str, dict]:
    """``{path: {"bytes", "sha256"}}`` of every file in ``artifacts`` (files or folders, below
    ``root``), with paths relative to ``root``."""
    root = Path(root)
    files = {}
    for artifact in artifacts:
        path = root / artifact
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file() and file.name != SNAKEMAKE_MARKER:
                files[file.relative_to(root).as_posix()] = {
                    "bytes": file.stat().st_size,
                    "sha256": sha256(file),
                }
    return files


def problems(root: str | Path, files: dict[str, dict], hashes: bool = False) -> list[str]:
    """How the files below ``root`` differ from their record: missing, resized, or (with
    ``hashes``) changed in content."""
    return list(file_problems(files, sys.maxsize if hashes else -1, root).values())


def verify_savedmodel(savedmodel: str | Path) -> None:
    """A trained run's SavedModel, checked against the train.json beside it."""
    verify_recorded(Path(savedmodel).parent / "train.json", only="savedmodel/")


def rebuild_target(record: dict) -> str:
    """The declared output whose job remakes what ``record`` describes (what --forcerun takes)."""
    if "format" in record:
        return paths.converted_dir(record["variant"], record["format"])
    return paths.model_file(record["variant"], record["seed"], "model.keras")


def rebuild_command(target: str) -> str:
    """The user's own command (target, config files) with the --forcerun that remakes ``target``."""
    command = os.environ.get(RUN_COMMAND, "snakemake report --forcerun {target}")
    return command.replace("{target}", target)


def verify_recorded(record_path: str | Path, only: str = "") -> dict:
    """Check the files a record lists (those whose path starts with ``only``) by size and hash,
    below the record's own folder, and return the record.

    Raises DamagedArtifact naming each damaged file and the command that rebuilds it.
    """
    record = read_json(record_path)
    verify_files(record, Path(record_path).parent, only)
    return record


def verify_files(record: dict, root: str | Path, only: str = "") -> None:
    """Check the files ``record`` lists (those starting with ``only``) below ``root``."""
    files = {
        name: entry for name, entry in record.get("files", {}).items() if name.startswith(only)
    }
    found = problems(root, files, hashes=True)
    if found:
        raise damaged(root, found, rebuild_target(record))


def verify(root: str | Path, files: dict[str, dict], target: str) -> None:
    """Raise DamagedArtifact unless the files below ``root`` match their record; ``target`` is
    the declared output whose job remakes them."""
    found = problems(root, files, hashes=True)
    if found:
        raise damaged(root, found, target)


def damaged(root: str | Path, found: list[str], target: str) -> DamagedArtifact:
    return DamagedArtifact(
        f"{root} is damaged: {'; '.join(found)}. Rebuild it (and what was made from it) with: "
        f"{rebuild_command(target)}"
    )


def seal_of(record: dict) -> str:
    """The SHA-256 of a record's content without its seal (keys sorted): an edit changes it."""
    content = {key: value for key, value in record.items() if key != "seal"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def sealed(record: dict) -> dict:
    return {**record, "seal": seal_of(record)}


def output_files(outputs: dict[str, str], skip: str = "") -> dict[str, dict]:
    """``{path: {"bytes", "sha256"}}`` of every file in ``outputs`` ({name as the workflow
    writes it, results/…: where it is on this machine}), but ``skip`` (the record itself)."""
    files = {}
    for name, local in outputs.items():
        if name == skip:
            continue
        for inner, entry in describe_files(Path(local).parent, [Path(local).name]).items():
            files[f"{Path(name).parent.as_posix()}/{inner}"] = entry
    return files


@dataclass(frozen=True)
class Damage:
    """A made output that no longer matches its job's record, or a read input that is gone."""

    output: str  # a declared output of the job that remakes it: what --forcerun takes
    problems: tuple[str, ...]
    artifact: tuple[str, ...]  # the job's outputs on disk, moved aside before the rebuild


def file_problems(
    files: dict[str, dict], hash_limit: int, root: str | Path = "."
) -> dict[str, str]:
    """{path: what is wrong} for the recorded files below ``root`` that are missing, resized, or
    (up to ``hash_limit`` bytes) changed in content. Only a regular file counts as there."""
    found = {}
    for name, expected in files.items():
        path = Path(root) / name
        if not path.is_file():
            found[name] = f"{name} is missing"
        elif path.stat().st_size != expected["bytes"]:
            found[name] = f"{name} has {path.stat().st_size} bytes, not {expected['bytes']}"
        elif expected["bytes"] <= hash_limit and sha256(path) != expected["sha256"]:
            found[name] = f"{name} has changed (its SHA-256 differs from the record)"
    return found


def declared_output(file: str, outputs: Sequence[str]) -> str:
    """The declared output (a file, or the folder) that ``file`` belongs to."""
    return next(output for output in outputs if file == output or file.startswith(f"{output}/"))


def job_damage(record_path: str, hash_limit: int = HASHED_WHILE_PLANNING) -> list[Damage]:
    """What is wrong with one finished job's outputs and inputs; nothing for a job not yet run."""
    path = Path(record_path)
    if not path.is_file():
        return []
    try:
        record = read_json(path)
    except (OSError, ValueError):
        return [Damage(record_path, ("the job's record is unreadable",), (record_path,))]
    if "seal" not in record:  # written by an older tfedge, which recorded no files
        return []
    if record["seal"] != seal_of(record):
        return [Damage(record_path, ("the job's record was edited",), (record_path,))]
    outputs = record["outputs"]
    artifact = tuple(output for output in outputs if Path(output).exists())
    found = [
        Damage(declared_output(name, outputs), (problem,), artifact)
        for name, problem in file_problems(record["files"], hash_limit).items()
    ]
    for name in record["inputs"]:
        if name.startswith(f"{paths.RESULTS}/") and not Path(name).exists():
            found.append(Damage(name, (f"{name} is missing, though {record_path} read it",), ()))
    return found


def damaged_jobs(config: dict, hash_limit: int = HASHED_WHILE_PLANNING) -> list[Damage]:
    """Every damaged output of the jobs this config makes, one entry per output to remake."""
    merged: dict[str, Damage] = {}
    for job in paths.jobs(config):
        for damage in job_damage(paths.job_record(*job), hash_limit):
            known = merged.get(damage.output)
            if known:
                problems = known.problems + tuple(
                    p for p in damage.problems if p not in known.problems
                )
                damage = Damage(damage.output, problems, known.artifact or damage.artifact)
            merged[damage.output] = damage
    return [merged[output] for output in sorted(merged)]


def move_aside(damaged: Iterable[Damage], when: datetime) -> Path:
    """Move each damaged job's outputs, whole, under results/.damaged/<time>/ (kept for a look)
    before the rebuild replaces them; returns that folder."""
    folder = Path(paths.RESULTS, ".damaged", when.strftime("%Y%m%dT%H%M%S"))
    for damage in damaged:
        for output in damage.artifact:
            if Path(output).exists():
                destination = folder / Path(output).relative_to(paths.RESULTS)
                destination.parent.mkdir(parents=True, exist_ok=True)
                Path(output).replace(destination)
    return folder
