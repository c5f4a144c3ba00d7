"""The homework's four questions, answered with sources (report/answers.md), and under the
TensorRT and MobileNet answers the figures this run measured."""

from __future__ import annotations

import re
from pathlib import Path

import markdown

from tfedge.report.results import Results
from tfedge.report.sections import architectures, conversions

ID = "answers"
TITLE = "The four questions"
READS = ("answers", *conversions.READS, *architectures.READS)

QUESTION_ID = re.compile(r"^(?P<question>.*?)\s*\{#(?P<id>[a-z0-9_-]+)\}\s*$")


def load_answers(answers_path: str | Path) -> list[dict]:
    """``## Question {#id}`` sections of answers.md, rendered from Markdown (trusted text)."""
    sections: list[dict] = []
    for number, line in enumerate(Path(answers_path).read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("## "):
            heading = QUESTION_ID.match(line[3:])
            if heading is None:
                raise ValueError(
                    f"{answers_path}:{number}: a question needs an id, e.g. {{#tensorrt}}"
                )
            sections.append({**heading.groupdict(), "lines": []})
        elif sections:
            sections[-1]["lines"].append(line)
    return [
        {
            "id": section["id"],
            "question": section["question"],
            "anchor": f"answer-{section['id']}",
            "html": markdown.markdown("\n".join(section["lines"])),
        }
        for section in sections
    ]


def reference_latency(rows: list[dict]) -> float:
    """The SavedModel's batch-1 p50 in a conversion table (0 when it was not measured)."""
    saved = [r for r in rows if r["format"] == "savedmodel" and r["status"] == "ok"]
    return saved[0]["latency_batch1"]["p50_ms"] if saved else 0.0


def interval_text(row: dict) -> str:
    """A speed-up's bootstrap interval in words, or why there is none."""
    if row["speedup_low"] is None:
        return "no interval: re-run the benchmark to record its timings"
    return f"95 % bootstrap interval {row['speedup_low']:.2f}–{row['speedup_high']:.2f}"


def speed_claim(rows: list[dict]) -> str:
    """What one conversion table says about speed; a speed-up only where it is measurable."""
    best = next((r for r in rows if r["fastest"]), None)
    if best:
        return (
            f"{best['format']} ran {best['speedup']:.2f}× faster than the TensorFlow SavedModel "
            f"at batch 1 on this CPU ({interval_text(best)}), "
            f"at {100 * best['test_accuracy']:.2f} % test accuracy"
        )
    others = [
        r for r in rows
        if r["status"] == "ok" and not r["flagged"] and r["format"] != "savedmodel"
    ]  # fmt: skip
    quickest = min(others, key=lambda r: r["latency_batch1"]["p50_ms"], default=None)
    if quickest is None:
        return "no format but the SavedModel itself stayed within the accuracy tolerance"
    return (
        f"no format within the accuracy tolerance ran measurably faster than the TensorFlow "
        f"SavedModel at batch 1 on this CPU (the quickest, {quickest['format']}: "
        f"{quickest['speedup']:.2f}×, {interval_text(quickest)})"
    )


def measured_notes(tables: list[dict], measured: dict) -> dict[str, str]:
    """Sentences with this run's numbers, keyed by the id of the answer they bear on."""
    notes = {}
    timed = [t for t in tables if any(r.get("speedup") for r in t["rows"])]
    if timed:
        heaviest = max(timed, key=lambda t: reference_latency(t["rows"]))
        tensorrt = sorted(
            {f"{r['status']}: {r['reason']}" if r["reason"] else r["status"]
             for t in tables for r in t["rows"] if r["format"].startswith("tensorrt")}
        )  # fmt: skip
        notes["tensorrt"] = (
            f"Measured here, for {heaviest['variant']} (the heaviest model converted): "
            f"{speed_claim(heaviest['rows'])}. "
            f"TensorRT engines: {'; '.join(tensorrt) or 'not requested'}."
        )
    by_name = {model["name"]: model for model in measured["models"]}
    if {"googlenet", "mobilenet_v2"} <= set(by_name):
        google, mobile = by_name["googlenet"], by_name["mobilenet_v2"]
        notes["mobilenet"] = (
            f"Measured here: GoogLeNet has {google['params'] / mobile['params']:.1f}× "
            f"MobileNetV2's parameters and {google['macs'] / mobile['macs']:.1f}× its "
            f"multiply-adds, and takes {google['latency_p50_ms'] / mobile['latency_p50_ms']:.1f}× "
            f"as long per image at batch 1 on this CPU (section "
            f'"MobileNet vs GoogLeNet/Inception").'
        )
    return notes


def context(results: Results) -> dict:
    return {
        "answers": load_answers(results.answers_path),
        "notes": measured_notes(conversions.tables(results), architectures.measured(results)),
    }
