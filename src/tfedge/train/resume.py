"""Whether a work folder may be resumed: only by the same settings and data that wrote it.

A checkpoint of other settings either fails to restore (other layer shapes) or silently
finishes a different run (e.g. fewer epochs than it already ran). So the folder records a
fingerprint of everything that decides what its checkpoint holds, and a run whose fingerprint
differs discards the folder, logging what changed, and trains from scratch.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from tfedge.files import read_json, sha256, write_json
from tfedge.train.protocol import FetchedBackbone, InitFrom
from tfedge.train.work_folder import SETTINGS_RECORD

log = logging.getLogger(__name__)


def data_identity(manifest: dict) -> dict:
    """What of the manifest decides what a run learns: classes, image shape, split files."""
    return {
        "class_names": manifest["class_names"],
        "image_size": manifest["image_size"],
        "channels": manifest["channels"],
        "splits": {
            split: {"sha256": entry["sha256"], "count": entry["count"]}
            for split, entry in manifest["splits"].items()
        },
    }


def run_fingerprint(
    variant: dict,
    seed: int,
    manifest: dict,
    backbone_settings: dict | None,
    init_from: InitFrom | None,
    fetched: FetchedBackbone | None = None,
) -> dict:
    """Everything that decides what a work folder's checkpoint holds; resuming needs all of it.

    The parent model and the backbone's download record are identified by their bytes, so
    retraining the parent or fetching the backbone again invalidates a checkpoint too.
    """
    return {
        "variant": variant,
        "backbone": backbone_settings,
        "backbone_download": sha256(fetched.record) if fetched is not None else None,
        "seed": seed,
        "data": data_identity(manifest),
        "init_from": sha256(init_from.model) if init_from is not None else None,
    }


def changed_keys(stored: dict, current: dict) -> list[str]:
    return sorted(
        key for key in stored.keys() | current.keys() if stored.get(key) != current.get(key)
    )


def describe_changes(stored: dict, current: dict) -> str:
    """Why a stored fingerprint no longer matches, naming what changed (old → new)."""
    reasons = []
    for part, what in (("variant", "variant settings"), ("backbone", "backbone settings")):
        old, new = stored.get(part) or {}, current.get(part) or {}
        if old != new:
            fields = [
                f"{key}: {old.get(key)!r} → {new.get(key)!r}" for key in changed_keys(old, new)
            ]
            reasons.append(f"{what} changed ({', '.join(fields)})")
    if stored.get("seed") != current.get("seed"):
        reasons.append(f"the seed changed ({stored.get('seed')} → {current.get('seed')})")
    if stored.get("data") != current.get("data"):
        fields = changed_keys(stored.get("data") or {}, current.get("data") or {})
        reasons.append(f"the training data changed (manifest: {', '.join(fields)})")
    if stored.get("init_from") != current.get("init_from"):
        reasons.append("the init_from model changed")
    if stored.get("backbone_download") != current.get("backbone_download"):
        reasons.append("the backbone was fetched again")
    return "; ".join(reasons) or "the settings record has another format"


def stale_reason(work: Path, fingerprint: dict) -> str | None:
    """Why the state in ``work`` must not be resumed, or None when it may be (or there is none)."""
    if not work.is_dir() or not any(work.iterdir()):
        return None
    record = work / SETTINGS_RECORD
    if not record.is_file():
        return "the folder has no settings record, so what wrote it is unknown"
    try:
        stored = read_json(record)
    except ValueError:
        return "its settings record is unreadable"
    current = json.loads(json.dumps(fingerprint))  # as JSON reads it back: lists, not tuples
    return None if stored == current else describe_changes(stored, current)


def claim_work_folder(work: Path, fingerprint: dict, label: str) -> None:
    """Keep ``work`` for a resume only if the same settings and data wrote it, then record them.

    A stale folder is deleted and training starts from scratch. The record is written before
    any state, so every folder a killed job leaves says what it belongs to.
    """
    reason = stale_reason(work, fingerprint)
    if reason is not None:
        log.warning(
            "%s: %s; discarding the checkpoint in %s and training from scratch", label, reason, work
        )
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    write_json(work / SETTINGS_RECORD, fingerprint)
