"""Where the time went: Snakemake's ``benchmark:`` record of every job, by rule and chain.

Each rule writes one record per job (tfedge.paths.job_benchmark): wall seconds, peak
resident memory and CPU seconds, measured by Snakemake around the job's process. The
section shows them per rule and per job, their sum (the time at ``--cores 1``), and the
longest chain of jobs that wait for each other (the time no number of cores can beat). Which
job waits for which comes from what each job declared it read and wrote (its job record,
tfedge.job), so the chain follows the rules as they are, whatever rule is added.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import pandas as pd

from tfedge.files import read_json
from tfedge.report.results import Results

ID = "job-times"
TITLE = "Where the time went"
READS = ("job_times", "job_records")


def read_record(path: str | Path) -> dict:
    """Wall seconds, peak RSS in MB and CPU seconds of one job (None where not measured)."""
    row = pd.read_csv(path, sep="\t", na_values=["-", "NA"]).iloc[0]

    def number(column: str) -> float | None:
        value = row.get(column)
        return None if value is None or math.isnan(value) else float(value)

    return {"seconds": number("s"), "peak_mb": number("max_rss"), "cpu_seconds": number("cpu_time")}


def waits_for(records: dict[tuple, dict]) -> dict[tuple, list[tuple]]:
    """Job → the jobs that wrote a file it read, from every job's record of its files."""
    made_by = {path: job for job, record in records.items() for path in record["outputs"]}
    return {
        job: sorted({made_by[path] for path in record["inputs"] if path in made_by} - {job})
        for job, record in records.items()
    }


def longest_chain(graph: dict[tuple, list[tuple]], seconds: dict[tuple, float]) -> list[tuple]:
    """The jobs of the slowest path through ``graph`` (job → the jobs it waits for)."""

    @cache
    def finish(job: tuple) -> float:
        return seconds[job] + max((finish(need) for need in graph[job]), default=0.0)

    chain = [max(graph, key=finish)]
    while graph[chain[-1]]:
        chain.append(max(graph[chain[-1]], key=finish))
    return chain[::-1]


def label(job: tuple) -> str:
    return " ".join(job[1:]) or job[0]


def by_rule(jobs: list[dict]) -> list[dict]:
    """Per rule: job count, total and longest wall time, largest peak memory; slowest first."""
    rules: dict[str, list[dict]] = {}
    for job in jobs:
        rules.setdefault(job["rule"], []).append(job)
    rows = [
        {
            "rule": rule,
            "jobs": len(members),
            "seconds": sum(job["seconds"] or 0.0 for job in members),
            "longest": max(job["seconds"] or 0.0 for job in members),
            "peak_mb": max((job["peak_mb"] or 0.0 for job in members), default=0.0),
            "cpu_seconds": sum(job["cpu_seconds"] or 0.0 for job in members),
        }
        for rule, members in rules.items()
    ]
    return sorted(rows, key=lambda row: -row["seconds"])


def context(results: Results) -> dict:
    keys = results.keys("job_times")
    times = {job: read_record(results.path("job_times", *job)) for job in keys}
    declared = {job: read_json(results.path("job_records", *job)) for job in keys}
    jobs = {job: {"rule": declared[job]["rule"], "job": label(job), **times[job]} for job in keys}
    chain = longest_chain(
        waits_for(declared), {job: t["seconds"] or 0.0 for job, t in times.items()}
    )
    return {
        "rules": by_rule(list(jobs.values())),
        "jobs": sorted(jobs.values(), key=lambda job: (-(job["seconds"] or 0.0), job["rule"])),
        "total_seconds": sum(job["seconds"] or 0.0 for job in jobs.values()),
        "peak_mb": max((job["peak_mb"] or 0.0 for job in jobs.values()), default=0.0),
        "chain": [jobs[job] for job in chain],
        "chain_seconds": sum(times[job]["seconds"] or 0.0 for job in chain),
    }
