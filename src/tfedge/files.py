"""Small file helpers: JSON in and out, written atomically so a dying job leaves no half file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` beside ``path`` and move it into place: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def write_json(path: str | Path, payload: Any) -> None:
    write_text(path, json.dumps(payload, indent=2) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def replace_dir(partial: str | Path, final: str | Path) -> None:
    """Move a finished directory into place, replacing any older one."""
    final = Path(final)
    if final.exists():
        shutil.rmtree(final)
    Path(partial).replace(final)
