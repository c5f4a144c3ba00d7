"""What a ``source: directory`` folder holds, so Snakemake reruns prepare_data when, and only
when, a class folder or an image it reads is added, removed or changed.

Snakemake compares a job's params with the ones it recorded and reruns the job when they
differ; rules/data.smk passes :func:`folder_state` as a param of prepare_data: the class
folders' names and the SHA-256 of every image the loader reads (path and content), hashed
together. Files the loader ignores (hidden ones like .DS_Store, other suffixes, files beside the
class folders) are left out, and a file whose size and time match the record prepare_data last
wrote (images.json) keeps its recorded hash, so planning reads only new or touched files. Only
regular files are opened (a named pipe would hang the plan), and a link leading out of the
folder is refused. Pure Python: Snakemake imports it while it parses the workflow.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import Counter
from pathlib import Path
from typing import NamedTuple

from tfedge.files import read_json, sha256

# What TensorFlow decodes, plus what only Pillow reads (converted to PNG by the check).
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class Entry(NamedTuple):
    """A file below a dataset folder: its relative path, size and time, and why it is not
    read ("" for a regular file)."""

    relative: str
    size: int
    mtime_ns: int
    not_read: str = ""


class LinkLeavesFolder(ValueError):
    """A link inside a dataset folder points outside it; the message names both and the fix."""


NOT_REGULAR = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def _outside(root: str, path: str) -> str | None:
    """Where a link at ``path`` leads when that is a file or folder outside ``root``; None when
    inside, broken, or something that is never read anyway (a device, a pipe)."""
    target = os.path.realpath(path)
    if not (os.path.isfile(target) or os.path.isdir(target)):
        return None
    inside = os.path.commonpath([os.path.realpath(root), target]) == os.path.realpath(root)
    return None if inside else target


def folder_entries(folder: str | Path) -> list[Entry]:
    """Every file below ``folder``, sorted by path. Only regular files are ever opened: a named
    pipe, socket or device (or a link to one) and a broken link are listed with the reason.

    Links are followed inside the folder (a folder reached twice is walked once); a link that
    leads outside it raises LinkLeavesFolder, so the data is never more than the folder holds.
    """
    entries: list[Entry] = []
    seen: set[tuple[int, int]] = set()
    root = os.path.expanduser(os.fspath(folder))

    def walk(path: str, prefix: str) -> None:
        info = os.stat(path)
        if (info.st_dev, info.st_ino) in seen:
            return
        seen.add((info.st_dev, info.st_ino))
        with os.scandir(path) as found:
            for entry in found:
                relative = prefix + entry.name
                if entry.is_symlink() and (target := _outside(root, entry.path)):
                    raise LinkLeavesFolder(
                        f"{entry.path} links to {target}, outside {root}: copy what it points "
                        "at into the folder, or point the dataset at a folder that holds it"
                    )
                if entry.is_dir():
                    walk(entry.path, relative + "/")
                else:
                    entries.append(_entry(entry, relative))

    if not os.path.isdir(root):
        raise NotADirectoryError(f"{root!r} is not a folder")
    walk(root, "")
    entries.sort()
    return entries


def _entry(entry: os.DirEntry, relative: str) -> Entry:
    try:
        info = entry.stat()
    except OSError:
        info = entry.stat(follow_symlinks=False)
        return Entry(relative, info.st_size, info.st_mtime_ns, "a broken link")
    reason = NOT_REGULAR.get(stat.S_IFMT(info.st_mode), "")
    return Entry(relative, info.st_size, info.st_mtime_ns, reason)


def class_folders(folder: str | Path) -> list[str]:
    """The class folders, sorted: every sub-folder whose name does not start with "."."""
    root = Path(folder).expanduser()
    return sorted(
        path.name for path in root.iterdir() if path.is_dir() and not is_hidden(path.name)
    )


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


def content_hash(entry: Entry, folder: str | Path) -> str:
    """The file's SHA-256; for a file that is not read, why (the loader skips it too)."""
    if entry.not_read:
        return f"not read: {entry.not_read}"
    return sha256(Path(folder, entry.relative))


def describe_images(folder: str | Path) -> dict:
    """images.json: the class folders, and ``{relative path: {bytes, mtime_ns, sha256}}`` of
    every image the loader reads in ``folder``."""
    return {
        "classes": class_folders(folder),
        "images": {
            entry.relative: {
                "bytes": entry.size,
                "mtime_ns": entry.mtime_ns,
                "sha256": content_hash(entry, folder),
            }
            for entry in folder_entries(folder)
            if is_image(entry.relative)
        },
    }


def image_hashes(folder: str | Path, recorded: dict[str, dict]) -> dict[str, str]:
    """SHA-256 of every image the loader reads, reusing the record's where size and time match."""
    hashes = {}
    for entry in folder_entries(folder):
        if not is_image(entry.relative):
            continue
        known = recorded.get(entry.relative)
        if known and (known["bytes"], known["mtime_ns"]) == (entry.size, entry.mtime_ns):
            hashes[entry.relative] = known["sha256"]
        else:
            hashes[entry.relative] = content_hash(entry, folder)
    return hashes


def read_record(record_path: str | Path) -> dict:
    """The images.json prepare_data last wrote, or an empty one (never prepared, unreadable,
    or written by an older tfedge)."""
    try:
        record = read_json(record_path)
    except (OSError, ValueError):
        record = {}
    return record if "classes" in record else {"classes": [], "images": {}}


def folder_state(settings: dict, record_path: str | Path) -> tuple[str | None, str]:
    """prepare_data's param: the dataset's class folders and images, path and content, hashed
    (None for other sources); and what changed since prepare_data wrote ``record_path`` ("" if
    nothing). An empty class folder counts: the class list defines the labels."""
    folders = image_folders(settings)
    if not folders:
        return None, ""
    record = read_record(record_path)
    hashes = image_hashes(folders[0], record["images"])
    classes = class_folders(folders[0])
    digest = hashlib.sha256()
    for name in classes:
        digest.update(f"class\0{name}\n".encode("utf-8", "surrogateescape"))
    for relative, content in sorted(hashes.items()):
        digest.update(f"{relative}\0{content}\n".encode("utf-8", "surrogateescape"))
    if not record["classes"]:
        return digest.hexdigest(), ""
    recorded = {relative: entry["sha256"] for relative, entry in record["images"].items()}
    changes = [describe_changes(recorded, hashes), class_changes(record["classes"], classes)]
    return digest.hexdigest(), ", ".join(change for change in changes if change)


def class_changes(recorded: list[str], current: list[str]) -> str:
    """ "class folder x/ added, y/ removed"; empty when the class list is the same."""
    added = [f"{name}/ added" for name in current if name not in recorded]
    removed = [f"{name}/ removed" for name in recorded if name not in current]
    return f"class folders {', '.join(added + removed)}" if added or removed else ""


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
