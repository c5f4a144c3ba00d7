"""Small file helpers: JSON in and out, written atomically so a dying job leaves no half file."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic(path: str | Path) -> Iterator[Path]:
    """A name beside ``path`` to write a file or folder under, moved into place when the block
    ends and removed if it fails: no reader ever sees half of it, and a job that dies leaves
    at most a ``.partial`` (its suffix kept last, as writers such as Keras want). What was
    written reaches the disk before the rename, and the rename after it (``flush_to_disk``):
    otherwise a node that crashes can leave the new name on an empty file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.partial{path.suffix}")
    remove(partial)
    try:
        yield partial
    except BaseException:
        remove(partial)
        raise
    flush_to_disk(partial)
    remove(path)
    partial.replace(path)
    fsync(path.parent)


def flush_to_disk(path: Path) -> None:
    """fsync a file, or a folder with every file and folder inside it (a folder's own entry
    list is what makes a new name in it durable)."""
    inside = sorted(path.rglob("*")) if path.is_dir() else []
    for item in [*inside, path]:
        if not item.is_symlink():
            fsync(item)


def fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_text(path: str | Path, text: str) -> None:
    with atomic(path) as partial:
        partial.write_text(text, encoding="utf-8")


def write_json(path: str | Path, payload: Any) -> None:
    write_text(path, json.dumps(payload, indent=2) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def remove(path: str | Path) -> None:
    """Delete a file or a folder with its contents; nothing to do when there is none."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def move_into_place(source: str | Path, destination: str | Path) -> None:
    """Move a finished file or folder to ``destination``, replacing what is there.

    Across file systems (a work folder on one disk, staged outputs on another) this copies.
    """
    remove(destination)
    shutil.move(str(source), str(destination))


def sha256(path: str | Path) -> str:
    """The file's SHA-256 (hex), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
