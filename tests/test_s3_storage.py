"""The whole tiny DAG, by real jobs, with every result in S3 (a local moto server).

Why it exists: the DAG is the only contract (ARCHITECTURE.md §2). With a default storage
provider a job sees nothing but the inputs Snakemake staged for it and keeps nothing but its
declared outputs, as on Kubernetes. A script that rebuilds a path from the config, or a file
written beside a declared output, breaks here first.

Local execution shares the staging folder (.snakemake/storage) between jobs, so a later job
could still read a file an earlier one left there undeclared; the second test closes that gap.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .helpers import BUCKET, s3_client, tiny_config
from .snakemake_runs import copy_workflow, s3_env, s3_storage, snakemake


def failed_job_log(workdir: Path, stderr: str) -> str:
    """The end of the first failed job's log, from the local copy Snakemake keeps."""
    match = re.search(rf"Error in rule .*?log: s3://{BUCKET}/(\S+)", stderr, re.DOTALL)
    log = workdir / ".snakemake" / "storage" / "s3" / BUCKET / match.group(1) if match else None
    return f"\n--- {match.group(1)} ---\n{log.read_text()[-3000:]}" if log and log.exists() else ""


def on_s3(workdir: Path, endpoint: str, *args: str):
    """Snakemake on the report, every result in the bucket, jobs run here on two cores.

    No --shared-fs-usage: for local execution Snakemake always sets it to everything.
    """
    storage = s3_storage(endpoint, BUCKET)
    return snakemake(workdir, "report", "--cores", "2", *storage, *args, env=s3_env())


@pytest.fixture(scope="module")
def s3_run(tmp_path_factory, s3_endpoint) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("s3"), tiny_config())
    result = on_s3(workdir, s3_endpoint)
    assert result.returncode == 0, result.stderr[-5000:] + failed_job_log(workdir, result.stderr)
    return workdir


@pytest.mark.workflow
@pytest.mark.slow
@pytest.mark.cluster
def test_report_lands_in_the_bucket(s3_run, s3_endpoint):
    body = s3_client(s3_endpoint).get_object(Bucket=BUCKET, Key="results/report.html")["Body"]
    html = body.read().decode()
    assert "<html" in html
    assert tiny_config()["report"]["title"] in html


@pytest.mark.workflow
@pytest.mark.slow
@pytest.mark.cluster
def test_no_job_leaves_an_undeclared_file_behind(s3_run):
    """Snakemake removes the local copies of declared inputs and outputs (logs stay); what
    remains was written beside them, or under results/ directly, and never reached S3."""
    staging = s3_run / ".snakemake" / "storage" / "s3" / BUCKET
    leftovers = [path for path in staging.rglob("*") if path.is_file()]
    leftovers += [path for path in (s3_run / "results").rglob("*") if path.is_file()]
    logs = staging / "results" / "logs"
    assert [path for path in leftovers if logs not in path.parents] == []


@pytest.mark.workflow
@pytest.mark.slow
@pytest.mark.cluster
def test_a_second_run_has_nothing_to_do(s3_run, s3_endpoint):
    result = on_s3(s3_run, s3_endpoint, "--dry-run")
    assert result.returncode == 0, result.stderr[-5000:]
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-5000:]
