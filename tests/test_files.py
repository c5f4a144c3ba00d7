"""Files and folders are written atomically: a reader or a rerun never sees half of one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfedge.files import atomic, read_json, write_json


def test_a_finished_file_replaces_the_old_one_and_leaves_no_partial(tmp_path):
    target = tmp_path / "deep" / "model.keras"
    write_json(tmp_path / "x.json", {"a": 1})
    with atomic(target) as partial:
        assert partial.name == "model.partial.keras" and not target.exists()
        partial.write_text("new")
    assert target.read_text() == "new" and not partial.exists()
    assert read_json(tmp_path / "x.json") == {"a": 1}


def test_a_failed_write_keeps_the_old_file_and_removes_the_partial(tmp_path):
    target = tmp_path / "history.csv"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic(target) as partial:
        partial.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old" and not partial.exists()


def test_a_folder_replaces_the_old_folder_whole(tmp_path):
    target = tmp_path / "savedmodel"
    (target / "variables").mkdir(parents=True)
    (target / "stale.pb").write_text("old")
    with atomic(target) as partial:
        partial.mkdir()
        (partial / "saved_model.pb").write_text("new")
    assert sorted(path.name for path in target.iterdir()) == ["saved_model.pb"]


def test_what_is_written_reaches_the_disk_before_the_rename_and_the_rename_after(
    tmp_path, monkeypatch
):
    """os.fsync watched on the real files: every file and folder written, then the rename's
    folder, in that order."""
    import os

    from tfedge import files

    synced = []
    real_fsync = os.fsync

    def watched_fsync(descriptor):
        synced.append(Path(os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    monkeypatch.setattr(files.os, "fsync", watched_fsync)
    with atomic(tmp_path / "out" / "model") as partial:
        (partial / "variables").mkdir(parents=True)
        (partial / "variables" / "weights.bin").write_bytes(b"w")
        (partial / "saved_model.pb").write_bytes(b"g")
    written = tmp_path / "out" / "model.partial"
    assert synced == [
        written / "saved_model.pb",
        written / "variables",
        written / "variables" / "weights.bin",
        written,
        tmp_path / "out",
    ]
