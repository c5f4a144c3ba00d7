"""Inference formats: each converted model's size, accuracy and agreement through its own
runtime, batch-1 latency and throughput, and its speed-up over the SavedModel with an interval.

The format with the lowest p50 within the accuracy tolerance is marked fastest only when it is
measurably faster than the SavedModel (its speed-up's 95 % bootstrap interval lies above 1).
"""

from __future__ import annotations

from tfedge import paths
from tfedge.files import read_json
from tfedge.report import plots
from tfedge.report.results import Results
from tfedge.stats import ratio_of_medians_interval

ID = "conversions"
TITLE = "Inference formats: accuracy and speed"
READS = ("benchmarks", "metrics")


def speedup_over(saved: dict | None, row: dict) -> dict:
    """The speed-up of ``row`` over the SavedModel ``saved`` (ratio of p50s) with its interval.

    The 95 % bootstrap interval comes from both rows' timed runs; the speed-up counts as
    measurable only when the interval excludes 1. The SavedModel's own row and records
    written before the timings were kept (no ``samples_ms``) get no interval.
    """
    fields: dict = {"speedup": None, "speedup_low": None, "speedup_high": None}
    if saved is not None:
        fields["speedup"] = saved["latency_batch1"]["p50_ms"] / row["latency_batch1"]["p50_ms"]
        samples = [r["latency_batch1"].get("samples_ms") for r in (saved, row)]
        if row is not saved and all(samples):
            fields["speedup_low"], fields["speedup_high"] = ratio_of_medians_interval(*samples)
    low, high = fields["speedup_low"], fields["speedup_high"]
    fields["speedup_measurable"] = low is not None and not low <= 1.0 <= high
    return fields


def measurably_faster(row: dict) -> bool:
    """Whether the row's whole speed-up interval lies above 1."""
    return row["speedup_measurable"] and row["speedup_low"] > 1.0


def conversion_rows(records: list[dict], reference_accuracy: float, tolerance: float):
    """Each benchmark record with its speed-up over the SavedModel and its tolerance flag."""
    rows = [dict(record) for record in records]
    saved = next((r for r in rows if r["format"] == "savedmodel" and r["status"] == "ok"), None)
    for row in rows:
        if row["status"] != "ok":
            continue
        row["accuracy_drop"] = reference_accuracy - row["test_accuracy"]
        row["flagged"] = row["accuracy_drop"] > tolerance
        row.update(speedup_over(saved, row))
    within = [r for r in rows if r["status"] == "ok" and not r["flagged"]]
    quickest = min(within, key=lambda r: r["latency_batch1"]["p50_ms"], default=None)
    for row in rows:
        row["fastest"] = row is quickest and measurably_faster(row)
    return rows


def _tables(results: Results) -> list[dict]:
    convert, seed = results.config["convert"], results.seeds[0]
    tables = []
    for name in paths.converted_variants(results.config):
        reference = read_json(results.path("metrics", name, seed))["test_accuracy"]
        records = [read_json(results.path("benchmarks", name, fmt)) for fmt in convert["formats"]]
        rows = conversion_rows(records, reference, convert["tolerance"])
        tables.append(
            {
                "variant": name,
                "seed": seed,
                "reference_accuracy": reference,
                "rows": rows,
                "chart": plots.latency_chart(rows, name),
            }
        )
    return tables


def tables(results: Results) -> list[dict]:
    """One table per converted variant (its first seed); the answers quote them too."""
    return results.once("conversion tables", _tables)


def context(results: Results) -> dict:
    return {"tables": tables(results), "tolerance": results.config["convert"]["tolerance"]}
