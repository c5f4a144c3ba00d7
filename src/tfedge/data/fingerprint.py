"""What a ``source: directory`` folder holds, so Snakemake reruns prepare_data when, and only
when, an image it reads is added, removed or changed.

Snakemake compares a job's params with the ones it recorded and reruns the job when they
differ; rules/data.smk passes :func:`images_fingerprint` as a param of prepare_data: the
SHA-256 of every image the loader reads (path and content), hashed together. Files the loader
ignores (hidden ones like .DS_Store, other suffixes, files beside the class folders) are left
out, and a file whose size and time match the record prepare_data last wrote (images.json)
keeps its recorded hash, so planning reads only new or touched files. Pure Python: Snakemake
imports it while it parses the workflow.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

from tfedge.files import read_json, sha256

# What TensorFlow decodes, plus what only Pillow reads (converted to PNG by the check).
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def folder_entries(folder: str | Path) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime_ns) of every file below ``folder``, sorted by path.

    Symbolic links are followed (the job reads what they point at); a broken link counts
    with its own size and time, and a folder reached twice through links is walked once.
    """
    entries: list[tuple[str, int, int]] = []
    seen: set[tuple[int, int]] = set()

    def walk(path: str, prefix: str) -> None:
        info = os.stat(path)
        if (info.st_dev, info.st_ino) in seen:
            return
        seen.add((info.st_dev, info.st_ino))
        with os.scandir(path) as found:
            for entry in found:
                relative = prefix + entry.name
                if entry.is_dir():
                    walk(entry.path, relative + "/")
                    continue
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    stat = entry.stat(follow_symlinks=False)
                entries.append((relative, stat.st_size, stat.st_mtime_ns))

    root = os.path.expanduser(os.fspath(folder))
    if not os.path.isdir(root):
        raise NotADirectoryError(f"{root!r} is not a folder")
    walk(root, "")
    entries.sort()
    return entries


def is_hidden(name: str) -> bool:
    """Names starting with "." are system or editor clutter (.DS_Store, ._photo.jpg, .git)."""
    return name.startswith(".")


def hidden_item(relative: str) -> str | None:
    """The hidden file, or the hidden folder ("a/.thumbs/") a file lies in; None if neither."""
    parts = relative.split("/")
    for index, part in enumerate(parts):
        if is_hidden(part):
            return "/".join(parts[: index + 1]) + ("/" if index < len(parts) - 1 else "")
    return None


def is_image(relative: str) -> bool:
    """Whether the loader reads the file: an image suffix, inside a class folder, not hidden.

    The rule keras' image_dataset_from_directory follows: an image at any depth below a class
    folder belongs to that class.
    """
    return (
        hidden_item(relative) is None
        and "/" in relative
        and Path(relative).suffix.lower() in IMAGE_SUFFIXES
    )


def image_folders(settings: dict) -> list[str]:
    """The folder a ``source: directory`` dataset reads (``~`` expanded), or none."""
    if settings["source"] != "directory":
        return []
    return [os.path.expanduser(settings["directory"])]


def content_hash(path: Path) -> str:
    """The file's SHA-256, or "unreadable" (a broken link: the loader skips it too)."""
    try:
        return sha256(path)
    except OSError:
        return "unreadable"


def describe_images(folder: str | Path) -> dict[str, dict]:
    """images.json: ``{relative path: {bytes, mtime_ns, sha256}}`` of every image the loader
    reads in ``folder``."""
    return {
        relative: {
            "bytes": size,
            "mtime_ns": mtime_ns,
            "sha256": content_hash(Path(folder, relative)),
        }
        for relative, size, mtime_ns in folder_entries(folder)
        if is_image(relative)
    }


def image_hashes(folder: str | Path, record: dict[str, dict]) -> dict[str, str]:
    """SHA-256 of every image the loader reads, reusing the record's where size and time match."""
    hashes = {}
    for relative, size, mtime_ns in folder_entries(folder):
        if not is_image(relative):
            continue
        known = record.get(relative)
        if known and (known["bytes"], known["mtime_ns"]) == (size, mtime_ns):
            hashes[relative] = known["sha256"]
        else:
            hashes[relative] = content_hash(Path(folder, relative))
    return hashes


def read_record(record_path: str | Path) -> dict[str, dict]:
    """The images.json prepare_data last wrote, or nothing (never prepared, or unreadable)."""
    try:
        return read_json(record_path)
    except (OSError, ValueError):
        return {}


def folder_state(settings: dict, record_path: str | Path) -> tuple[str | None, str]:
    """prepare_data's param: the dataset's images, path and content, hashed (None for other
    sources); and what changed since prepare_data wrote ``record_path`` ("" if nothing)."""
    folders = image_folders(settings)
    if not folders:
        return None, ""
    record = read_record(record_path)
    hashes = image_hashes(folders[0], record)
    digest = hashlib.sha256()
    for relative, content in sorted(hashes.items()):
        digest.update(f"{relative}\0{content}\n".encode("utf-8", "surrogateescape"))
    recorded = {relative: entry["sha256"] for relative, entry in record.items()}
    return digest.hexdigest(), describe_changes(recorded, hashes) if record else ""


def describe_changes(recorded: dict[str, str], current: dict[str, str]) -> str:
    """What changed among the images, by class folder: "3 images added in ant/, 1 removed in
    bee/"; empty when nothing did."""
    changes: Counter[tuple[str, str]] = Counter()
    for relative in recorded.keys() | current.keys():
        if recorded.get(relative) == current.get(relative):
            continue
        what = (
            "added"
            if relative not in recorded
            else "removed"
            if relative not in current
            else ("changed")
        )
        changes[(what, relative.split("/", 1)[0])] += 1
    return ", ".join(
        f"{count} image{'s' * (count != 1)} {what} in {folder}/"
        for (what, folder), count in sorted(changes.items(), key=lambda item: item[0][::-1])
    )
