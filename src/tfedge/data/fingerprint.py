"""A cheap fingerprint of an image folder, so Snakemake notices added, removed or replaced images.

Snakemake compares a job's params with the ones it recorded, and reruns the job when they
differ. rules/data.smk passes this fingerprint of a ``source: directory`` folder as a param
of prepare_data: every file's path (relative to the folder), size and modification time in
nanoseconds, sorted, hashed. No file is read (one ``stat`` per file), so planning stays fast
at 100,000 images. Pure Python: Snakemake imports it while it parses the workflow.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


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


def folder_fingerprint(folder: str | Path) -> str:
    """sha256 (hex) of :func:`folder_entries`: changes when a file is added, removed or replaced."""
    digest = hashlib.sha256()
    for relative, size, mtime_ns in folder_entries(folder):
        line = f"{relative}\0{size}\0{mtime_ns}\n"
        digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def image_folders(settings: dict) -> list[str]:
    """The folder a ``source: directory`` dataset reads (``~`` expanded), or none."""
    if settings["source"] != "directory":
        return []
    return [os.path.expanduser(settings["directory"])]


def images_fingerprint(settings: dict) -> str | None:
    """The dataset's folder fingerprint (prepare_data's param), None for other sources."""
    folders = image_folders(settings)
    return folder_fingerprint(folders[0]) if folders else None
