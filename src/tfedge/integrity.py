"""What an artifact holds, recorded where it is made and checked wherever it is read.

Snakemake judges a folder output by its timestamp alone, so a model file deleted or truncated
inside one would go unnoticed. The job that makes an artifact records the size and SHA-256 of
every file in it (``files`` in train.json and conversion.json); planning compares what is on
disk with those records by size (cheap enough for every dry run) and replans what differs, and
every job that reads an artifact compares the hashes first. No TensorFlow: planning imports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from tfedge import paths
from tfedge.files import read_json, sha256
from tfedge.formats import RECORD

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
    found = []
    for name, expected in files.items():
        path = Path(root) / name
        if not path.is_file():
            found.append(f"{name} is missing")
        elif path.stat().st_size != expected["bytes"]:
            found.append(f"{name} has {path.stat().st_size} bytes, not {expected['bytes']}")
        elif hashes and sha256(path) != expected["sha256"]:
            found.append(f"{name} has changed (its SHA-256 differs from the record)")
    return found


def verify_savedmodel(savedmodel: str | Path) -> None:
    """A trained run's SavedModel, checked against the train.json beside it."""
    verify_recorded(Path(savedmodel).parent / "train.json", only="savedmodel/")


def rebuild_target(record: dict) -> str:
    """The declared output whose job remakes what ``record`` describes (what --forcerun takes)."""
    if "format" in record:
        return paths.converted_dir(record["variant"], record["format"])
    return paths.model_file(record["variant"], record["seed"], "model.keras")


def rebuild_command(target: str) -> str:
    return f"snakemake report --forcerun {target}"


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


def _record_problems(record_path: Path) -> list[str]:
    """How the files a record lists differ from it (by size); nothing without a record."""
    if not record_path.is_file():
        return []
    try:
        record = read_json(record_path)
    except ValueError:
        return [f"{record_path.name} is unreadable"]
    return problems(record_path.parent, record.get("files", {}))


def _conversion_problems(folder: Path) -> list[str]:
    """A converted folder writes its record last, so a folder without one is damaged."""
    if folder.is_dir() and not (folder / RECORD).is_file():
        return [f"{RECORD} is missing"]
    return _record_problems(folder / RECORD)


def _split_problems(manifest_path: Path) -> list[str]:
    try:
        splits = read_json(manifest_path)["splits"] if manifest_path.is_file() else {}
    except (ValueError, KeyError):
        return [f"{manifest_path.name} is unreadable"]
    files = {entry["file"]: entry for entry in splits.values() if "bytes" in entry}
    return problems(manifest_path.parent, files)


def damaged_outputs(config: dict) -> dict[str, list[str]]:
    """Every made result of this config whose files no longer match their record, by size (no
    hashing: planning runs it): {a declared output of the job that remakes it: what is wrong}.
    """
    found = {}
    datasets = sorted({variant["dataset"] for variant in config["variants"].values()})
    for dataset in datasets:
        found[paths.manifest(dataset)] = _split_problems(Path(paths.manifest(dataset)))
    for variant in config["variants"]:
        for seed in config["seeds"]:
            summary = paths.model_file(variant, seed, "train.json")
            found[summary] = _record_problems(Path(summary))
    for variant, fmt in paths.conversions(config):
        folder = paths.converted_dir(variant, fmt)
        found[folder] = _conversion_problems(Path(folder))
    return {output: problems for output, problems in found.items() if problems}


def move_aside(output: str, when: datetime) -> Path:
    """Move a damaged output under results/.damaged/, so Snakemake sees it missing and makes
    it again; its files are kept there for a look."""
    destination = Path(paths.RESULTS, ".damaged", when.strftime("%Y%m%dT%H%M%S"), output)
    destination.parent.mkdir(parents=True, exist_ok=True)
    Path(output).replace(destination)
    return destination
