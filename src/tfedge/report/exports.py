"""The report's charts and tables as files of their own, for Snakemake's report.

`snakemake --report report.html` shows the outputs a rule marks with ``report()``; the HTML
page holds its charts inline, so the report job also writes each chart as an SVG file
(``<kind>/<subject>.svg``) and the accuracy, format and job-time tables as CSV. All come from
the sections the page is built from, so they hold the page's own pictures and numbers.
"""

from __future__ import annotations

import base64
import csv
import io
from pathlib import Path

from tfedge.files import atomic
from tfedge.report.sections import Section

SVG_URI = "data:image/svg+xml;base64,"
ALL = "all"  # the subject of a chart that covers every variant

ACCURACY_COLUMNS = (
    "variant", "dataset", "model", "accuracy_mean", "accuracy_std", "loss_mean", "epochs",
    "params", "train_seconds", "peak_memory_mb",
)  # fmt: skip
FORMAT_COLUMNS = (
    "variant", "dataset", "format", "status", "test_accuracy", "agreement", "p50_ms",
    "size_bytes", "speedup", "speedup_low", "speedup_high",
)  # fmt: skip
JOB_TIME_COLUMNS = ("rule", "jobs", "seconds", "longest", "peak_mb", "cpu_seconds")
TABLES = {"accuracy": ACCURACY_COLUMNS, "formats": FORMAT_COLUMNS, "job_times": JOB_TIME_COLUMNS}


def charts(sections: list[Section]) -> dict[str, str]:
    """``{"<kind>/<subject>.svg": data URI}`` of every chart the page shows but the pictures
    of single images (confusion matrices, misclassified test images)."""
    context = {section.id: section.context for section in sections}
    found: dict[str, str | None] = {}
    for name, chart in context.get("curves", {}).get("figures", {}).items():
        found[f"curves/{name}.svg"] = chart
    for table in context.get("conversions", {}).get("tables", []):
        found[f"formats/{table['variant']}.svg"] = table["chart"]
    for kind in ("deployment", "architectures"):
        found[f"{kind}/{ALL}.svg"] = context.get(kind, {}).get("chart")
    for sweep in context.get("sweeps", {}).get("sweeps", []):
        found[f"sweeps/{sweep['base']}.svg"] = sweep["chart"]
    return {name: chart for name, chart in found.items() if chart}


def tables(sections: list[Section]) -> dict[str, list[dict]]:
    """The accuracy table (a row per variant), the formats table (a row per variant and
    format) and the time per rule, as rows of plain values."""
    context = {section.id: section.context for section in sections}
    accuracy = context.get("accuracy", {}).get("rows", [])
    datasets = {row["variant"]: row["dataset"] for row in accuracy}
    formats = [
        {**row, "dataset": datasets[table["variant"]], "p50_ms": p50_ms(row)}
        for table in context.get("conversions", {}).get("tables", [])
        for row in table["rows"]
    ]
    rules = context.get("job-times", {}).get("rules", [])
    found = {"accuracy": accuracy, "formats": formats, "job_times": rules}
    return {name: [pick(row, TABLES[name]) for row in rows] for name, rows in found.items()}


def p50_ms(row: dict) -> float | None:
    return (row.get("latency_batch1") or {}).get("p50_ms")


def pick(row: dict, columns: tuple[str, ...]) -> dict:
    return {column: row.get(column) for column in columns}


def csv_text(rows: list[dict], columns: tuple[str, ...]) -> str:
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return stream.getvalue()


def write_charts(sections: list[Section], folder: str | Path) -> None:
    """Each chart as an SVG file in ``folder`` (replaced whole, so no stale chart stays)."""
    with atomic(folder) as partial:
        partial.mkdir()
        for name, uri in charts(sections).items():
            path = partial / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(base64.b64decode(uri.removeprefix(SVG_URI)))


def write_tables(sections: list[Section], folder: str | Path) -> None:
    """Each table as ``<name>.csv`` in ``folder``, a header row even when it has no rows."""
    with atomic(folder) as partial:
        partial.mkdir()
        for name, rows in tables(sections).items():
            (partial / f"{name}.csv").write_text(csv_text(rows, TABLES[name]))
