"""A prepared split's TFRecord file, found beside its manifest and checked against it."""

from __future__ import annotations

import functools
from pathlib import Path

from tfedge import paths
from tfedge.integrity import verify


@functools.cache
def _verified(path: Path, size: int, sha256: str, dataset: str) -> None:
    """Check a split file once per process (per size and hash recorded)."""
    verify(path.parent, {path.name: {"bytes": size, "sha256": sha256}}, paths.manifest(dataset))


def verified_split(manifest: dict, manifest_path: str | Path, split: str) -> Path:
    """The split's TFRecord file beside the manifest, checked against the manifest's record."""
    entry = manifest["splits"][split]
    path = Path(manifest_path).parent / entry["file"]
    if "bytes" in entry:
        _verified(path, entry["bytes"], entry["sha256"], manifest["dataset"])
    return path
