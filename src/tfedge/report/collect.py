"""Gather every run's results into the report's template context (no TensorFlow needed)."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import markdown
import numpy as np
import pandas as pd

from tfedge import paths
from tfedge.config import baselines, config_hash
from tfedge.files import read_json
from tfedge.report import plots
from tfedge.report.job_times import job_times_context
from tfedge.report.provenance import provenance
from tfedge.report.runs import Run, compare_runs, mean_std
from tfedge.report.sweeps import sweeps_context
from tfedge.stats import ratio_of_medians_interval


def load_run(variant: str, seed: int, inputs: dict[str, dict]) -> Run:
    """One run's files, found in ``inputs`` (tfedge.paths.report_inputs, staged)."""
    key = (variant, seed)
    with np.load(inputs["predictions"][key]) as archive:
        predictions = {name: archive[name] for name in archive.files}
    return Run(
        variant=variant,
        seed=seed,
        summary=read_json(inputs["summaries"][key]),
        metrics=read_json(inputs["metrics"][key]),
        history=pd.read_csv(inputs["histories"][key]),
        predictions=predictions,
    )


def reference_of(name: str, variants: dict, baseline_of: dict[str, str]) -> str | None:
    """What a variant is tested against: its init_from run, else its dataset's baseline.

    ``baseline_of`` maps a dataset to its baseline variant (tfedge.config.baselines).
    """
    variant = variants[name]
    if variant.get("init_from"):
        return variant["init_from"]
    baseline = baseline_of.get(variant["dataset"])
    return None if baseline == name else baseline


def add_comparisons(
    rows: list[dict], variants: dict, runs: dict, baseline_of: dict[str, str], alpha: float
) -> None:
    """Fill each row's McNemar comparison and sentence, where the variant has a reference."""
    for row in rows:
        reference = reference_of(row["variant"], variants, baseline_of)
        if reference is not None:
            row["comparison"] = compare_runs(runs[row["variant"]], runs[reference], alpha)
            row["sentence"] = comparison_sentence(row, alpha)


def baseline_networks(baseline_of: dict[str, str], runs: dict) -> list[dict]:
    """Each baseline's layers, for the section on the quickstart network's structure."""
    return [
        {
            "dataset": dataset,
            "variant": name,
            "layers": runs[name][0].summary["layers"],
            "params": runs[name][0].summary["params"],
        }
        for dataset, name in baseline_of.items()
    ]


def comparison_sentence(row: dict, alpha: float) -> str:
    """One sentence, computed from the numbers, on whether a variant improved on its reference."""
    comparison = row["comparison"]
    points = 100 * comparison["difference"]
    name, reference = row["variant"], comparison["reference"]
    numbers = f"({points:+.2f} points, McNemar p = {comparison['worst_p']:.3g})"
    accuracy, reference_accuracy = (
        100 * row["accuracy_mean"],
        100 * comparison["reference_accuracy"],
    )
    verdict = 0 if comparison["beats"] else 1 if points > 0 else 2
    if row["unfrozen"]:
        figures = f"{name} {accuracy:.2f} % vs {reference} {reference_accuracy:.2f} % {numbers}"
        claims = ("Unfreezing helped", "Unfreezing raised accuracy", "Unfreezing did not help")
    else:
        figures = f"{accuracy:.2f} % vs {reference_accuracy:.2f} % {numbers}"
        claims = (
            f"{name} beats {reference}",
            f"{name} is more accurate than {reference}",
            f"{name} does not beat {reference}",
        )
    qualifier = [f", significant at α = {alpha}", ", but not significantly", ""][verdict]
    return f"{claims[verdict]}: {figures}{qualifier}.{stand_in_caveat(row, verdict)}"


def stand_in_caveat(row: dict, verdict: int) -> str:
    """Said plainly when the offline stand-in data shows no significant gain from unfreezing."""
    if not row["unfrozen"] or verdict == 0 or row.get("source_used") != "bundled":
        return ""
    return (
        " On the offline stand-in data this run cannot show the homework's gain from "
        "unfreezing: the difference is within what chance gives on these test images."
    )


def variant_row(name: str, variant: dict, runs: list[Run], manifest: dict) -> dict:
    accuracy_mean, accuracy_std = mean_std([run.metrics["test_accuracy"] for run in runs])
    backbone = runs[0].summary.get("backbone")
    return {
        "variant": name,
        "dataset": variant["dataset"],
        "model": variant["model"],
        "backbone": f"{backbone['name']} ({backbone['source']})" if backbone else None,
        "backbone_reason": backbone["reason"] if backbone else None,
        "unfrozen": bool(variant.get("unfreeze")),
        "features_cached": runs[0].summary["features_cached"],
        "source_used": manifest["source_used"],
        "params": runs[0].summary["params"],
        "trainable_params": runs[0].summary["trainable_params"],
        "epochs": runs[0].summary["epochs_run"],
        "best_epochs": [run.summary["best_epoch"] for run in runs],
        "batch_sizes": sorted({run.summary["batch_size"] for run in runs}),
        "ran_out": [attempt for run in runs for attempt in run.ran_out],
        "peak_memory_mb": max(run.summary["peak_memory_mb"] for run in runs),
        "train_seconds": statistics.fmean(run.summary["train_seconds"] for run in runs),
        "accuracy_mean": accuracy_mean,
        "accuracy_std": accuracy_std,
        "loss_mean": statistics.fmean(run.metrics["test_loss"] for run in runs),
        "seeds": [run.seed for run in runs],
        "comparison": None,
        "sentence": None,
    }


def variant_figures(name: str, runs: list[Run], class_names: list[str]) -> dict:
    """Curves over all seeds; confusion matrix and misclassified images of the first seed."""
    first = runs[0]
    wrong_index = first.predictions["misclassified_index"]
    captions = [
        f"{class_names[first.predictions['labels'][i]]} → "
        f"{class_names[first.predictions['predicted'][i]]}"
        for i in wrong_index
    ]
    return {
        "curves": plots.training_curves({run.seed: run.history for run in runs}, name),
        "confusion": plots.confusion_matrix(
            first.metrics["confusion_matrix"], class_names, f"{name} (seed {first.seed})"
        ),
        "misclassified": plots.image_grid(
            first.predictions["misclassified_images"],
            captions,
            f"{name}: misclassified test images, true → predicted (seed {first.seed})",
        ),
        "misclassified_total": int(np.sum(~first.correct)),
        "per_class": first.metrics["per_class"],
    }


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


def conversion_rows(benchmarks: list[str], reference_accuracy: float, tolerance: float):
    """One row per benchmark file: its figures, speed-up vs SavedModel, tolerance flag.

    The format with the lowest p50 within the tolerance is marked fastest only when it is
    measurably faster than the SavedModel; otherwise no row is, since noise could explain it.
    """
    rows = [read_json(path) for path in benchmarks]
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


def conversions_context(config: dict, runs: dict, benchmarks: dict) -> list[dict]:
    convert = config["convert"]
    tables = []
    for name in paths.converted_variants(config):
        reference = runs[name][0].metrics["test_accuracy"]
        files = [benchmarks[name, fmt] for fmt in convert["formats"]]
        rows = conversion_rows(files, reference, convert["tolerance"])
        tables.append(
            {
                "variant": name,
                "seed": runs[name][0].seed,
                "reference_accuracy": reference,
                "rows": rows,
                "chart": plots.latency_chart(rows, name),
            }
        )
    return tables


def architectures_context(path: str) -> dict:
    """The measured networks with ratios against MobileNetV2 (the tutorial's backbone)."""
    measured = read_json(path)
    models = measured["models"]
    reference = next((m for m in models if m["name"] == "mobilenet_v2"), models[0])
    for model in models:
        model["macs_ratio"] = model["macs"] / reference["macs"]
        model["latency_ratio"] = model["latency_p50_ms"] / reference["latency_p50_ms"]
        model["params_ratio"] = model["params"] / reference["params"]
    return {
        "threads": measured["threads"],
        "reference": reference["name"],
        "models": models,
        "chart": plots.accuracy_vs_compute(models),
    }


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


def measured_notes(conversions: list[dict], architectures: dict) -> dict[str, str]:
    """Sentences with this run's numbers, keyed by the id of the answer they bear on."""
    notes = {}
    timed = [t for t in conversions if any(r.get("speedup") for r in t["rows"])]
    if timed:
        heaviest = max(timed, key=lambda t: reference_latency(t["rows"]))
        tensorrt = sorted(
            {f"{r['status']}: {r['reason']}" if r["reason"] else r["status"]
             for t in conversions for r in t["rows"] if r["format"].startswith("tensorrt")}
        )  # fmt: skip
        notes["tensorrt"] = (
            f"Measured here, for {heaviest['variant']} (the heaviest model converted): "
            f"{speed_claim(heaviest['rows'])}. "
            f"TensorRT engines: {'; '.join(tensorrt) or 'not requested'}."
        )
    by_name = {model["name"]: model for model in architectures["models"]}
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


def collect_context(config: dict, inputs: dict[str, dict], answers_path: str | Path) -> dict:
    """The template's context from ``inputs`` (tfedge.paths.report_inputs, staged) alone."""
    variants, seeds, baseline_of = config["variants"], config["seeds"], baselines(config)
    manifests = {dataset: read_json(path) for dataset, path in inputs["manifests"].items()}
    runs = {name: [load_run(name, seed, inputs) for seed in seeds] for name in variants}
    alpha = config["report"]["significance_level"]
    rows, figures = [], {}
    for name, variant in variants.items():
        manifest = manifests[variant["dataset"]]
        rows.append(variant_row(name, variant, runs[name], manifest))
        figures[name] = variant_figures(name, runs[name], manifest["class_names"])
    add_comparisons(rows, variants, runs, baseline_of, alpha)
    conversions = conversions_context(config, runs, inputs["benchmarks"])
    sweeps = sweeps_context(config, runs, alpha)
    architectures = architectures_context(inputs["architectures"]["architectures"])
    job_times = job_times_context(paths.jobs(config), inputs["job_times"])
    return {
        "title": config["report"]["title"],
        "baselines": baseline_of,
        "baseline_networks": baseline_networks(baseline_of, runs),
        "alpha": alpha,
        "seeds": seeds,
        "rows": rows,
        "figures": figures,
        "datasets": manifests,
        "backbone_fallbacks": [
            row for row in rows if (row["backbone_reason"] or "").startswith("auto fell back")
        ],
        "stand_ins": {
            name: manifest
            for name, manifest in manifests.items()
            if manifest["source_used"] == "bundled"
        },
        "conversions": conversions,
        "sweeps": sweeps,
        "architectures": architectures,
        "job_times": job_times,
        "tolerance": config["convert"]["tolerance"],
        "answers": load_answers(answers_path),
        "measured_notes": measured_notes(conversions, architectures),
        "provenance": provenance(config_hash(config)),
        "training_tensorflow": sorted(
            {run.summary["tensorflow"] for variant_runs in runs.values() for run in variant_runs}
        ),
    }
