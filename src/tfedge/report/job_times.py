"""Where a run's time went: Snakemake's ``benchmark:`` record of every job, by rule and chain.

Each rule writes one record per job (tfedge.paths.job_benchmark): wall seconds, peak
resident memory and CPU seconds, measured by Snakemake around the job's process. The
report shows them per rule and per job, their sum (the time at ``--cores 1``), and the
longest chain of jobs that wait for each other (the time no number of cores can beat).
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import pandas as pd

from tfedge.formats import FORMATS


def read_record(path: str | Path) -> dict:
    """Wall seconds, peak RSS in MB and CPU seconds of one job (None where not measured)."""
    row = pd.read_csv(path, sep="\t", na_values=["-", "NA"]).iloc[0]

    def number(column: str) -> float | None:
        value = row.get(column)
        return None if value is None or math.isnan(value) else float(value)

    return {"seconds": number("s"), "peak_mb": number("max_rss"), "cpu_seconds": number("cpu_time")}


def rule_of(job: tuple) -> str:
    """The rule that ran ``job``; TensorRT formats have rules of their own."""
    rule = job[0]
    if rule in ("convert", "benchmark") and len(job) == 3 and FORMATS[job[2]].needs_gpu:
        return f"{rule}_tensorrt"
    return rule


def label(job: tuple) -> str:
    return " ".join(map(str, job[1:])) or job[0]


def longest_chain(graph: dict[tuple, list[tuple]], seconds: dict[tuple, float]) -> list[tuple]:
    """The jobs of the slowest path through ``graph`` (job → the jobs it waits for)."""

    @cache
    def finish(job: tuple) -> float:
        return seconds[job] + max((finish(need) for need in graph[job]), default=0.0)

    chain = [max(graph, key=finish)]
    while graph[chain[-1]]:
        chain.append(max(graph[chain[-1]], key=finish))
    return chain[::-1]


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


def job_times_context(graph: dict[tuple, list[tuple]], files: dict[tuple, str]) -> dict:
    """The report's "where the time went" section from the benchmark record of every job."""
    records = {job: read_record(files[job]) for job in graph}
    jobs = [{"rule": rule_of(job), "job": label(job), **record} for job, record in records.items()]
    chain = longest_chain(graph, {job: record["seconds"] or 0.0 for job, record in records.items()})
    return {
        "rules": by_rule(jobs),
        "jobs": sorted(jobs, key=lambda job: -(job["seconds"] or 0.0)),
        "total_seconds": sum(job["seconds"] or 0.0 for job in jobs),
        "peak_mb": max((job["peak_mb"] or 0.0 for job in jobs), default=0.0),
        "chain": [{"rule": rule_of(job), "job": label(job), **records[job]} for job in chain],
        "chain_seconds": sum(records[job]["seconds"] or 0.0 for job in chain),
    }
