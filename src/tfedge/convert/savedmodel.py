"""The SavedModel itself, copied: the reference every other format is compared with."""

from __future__ import annotations

import shutil
from pathlib import Path

from tfedge.formats import Format
from tfedge.integrity import SNAKEMAKE_MARKER


def convert(source: Path, artifact: Path, fmt: Format, settings: dict, manifest: str) -> dict:
    """Snakemake's marker of a directory output stays behind: it is not part of the model."""
    shutil.copytree(source, artifact, ignore=shutil.ignore_patterns(SNAKEMAKE_MARKER))
    return {"role": "reference"}
