"""Data provenance: where each data set came from, its splits, the images checked, skipped or
left out, and which backbone each transfer variant used and why."""

from __future__ import annotations

from tfedge.report.results import Results
from tfedge.report.sections import accuracy

ID = "data"
TITLE = "Data provenance"
READS = accuracy.READS


def context(results: Results) -> dict:
    return {
        "datasets": results.manifests,
        "transfer_rows": [row for row in accuracy.rows(results) if row["backbone"]],
    }
