"""An attempt's child process shares only tfedge.train.protocol with the job that supervises it."""

from __future__ import annotations

from tfedge.code_digest import PACKAGE_FOLDER, code_files


def test_the_attempt_reaches_no_train_module_but_the_protocol():
    train_package = PACKAGE_FOLDER / "train"
    reached = {
        path.name for path in code_files(("tfedge.train_attempt",)) if path.parent == train_package
    }
    assert reached == {"__init__.py", "protocol.py"}


def test_the_job_runs_the_attempt_by_name():
    """So editing the attempt retrains, though the job never imports it."""
    assert PACKAGE_FOLDER / "train_attempt.py" in code_files(("tfedge.train.job",))
