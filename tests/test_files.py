"""Files and folders are written atomically: a reader or a rerun never sees half of one."""

from __future__ import annotations

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
