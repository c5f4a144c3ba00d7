"""`snakemake --report` on a finished run: Snakemake's own page holds tfedge's results, each
findable by its labels (variant, data set, format)."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from tfedge.snakemake_report import CHART_KINDS

from .helpers import validated
from .snakemake_runs import snakemake


@pytest.fixture(scope="module")
def finished_copy(tiny_run, tmp_path_factory) -> Path:
    """A copy of the finished tiny run (``--report`` writes only its file, but the run stays
    untouched for the tests that plan on it)."""
    return Path(
        shutil.copytree(tiny_run, tmp_path_factory.mktemp("reported") / "run", symlinks=True)
    )


def snakemake_report(workdir: Path, name: str) -> Path:
    result = snakemake(workdir, "--report", name)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir / name


def labels_text(labels: dict) -> str:
    """How Snakemake's page holds an item's labels (its data is JSON inside the page)."""
    return f'"labels": {json.dumps(labels)}'


@pytest.mark.workflow
@pytest.mark.slow
def test_the_zip_holds_the_page_charts_tables_and_every_format_s_measurements(finished_copy):
    config = validated(yaml.safe_load((finished_copy / "config.yaml").read_text()))
    archive = zipfile.ZipFile(snakemake_report(finished_copy, "report.zip"))
    # Each file lies in report/data/raw/<id>/, under its name within a folder output.
    names = {Path(*Path(name).parts[4:]).as_posix() for name in archive.namelist()}
    variants, converted = config["variants"], config["convert"]["variants"]
    expected = {config["report"]["file"], "accuracy.csv", "formats.csv", "job_times.csv"}
    expected |= {f"curves/{name}.svg" for name in variants}
    expected |= {f"formats/{name}.svg" for name in converted}
    expected |= {"deployment/all.svg", "architectures/all.svg"}
    expected |= {f"sweeps/{name}.svg" for name in config["sweeps"]}
    expected |= {f"{fmt}.json" for fmt in config["convert"]["formats"]}
    assert expected <= names
    page = archive.read("report/report.html").decode()
    for fmt in config["convert"]["formats"]:
        labels = {"variant": converted[0], "dataset": variants[converted[0]]["dataset"]}
        assert labels_text({**labels, "format": fmt}) in page
    assert (
        labels_text({"chart": CHART_KINDS["curves"], "variant": "cnn", "dataset": "mnist"}) in page
    )
    assert "Training curves of <strong>cnn</strong>" in page  # the caption, from its template


@pytest.mark.workflow
@pytest.mark.slow
def test_the_html_page_is_one_self_contained_file(finished_copy):
    page = snakemake_report(finished_copy, "snakemake.html").read_text()
    assert labels_text({"table": "formats"}) in page
    assert "One row per variant and format" in page
