"""Sweeps: what changing one setting did, point by point, in numbers, curves and words.

Two sweeps answer the homework's suggestions directly and get a curve and a sentence each:
``unfreeze_from`` on a fine-tuning variant (how much of the backbone to train; its frozen
init_from variant is the first point) and ``batch_size`` (memory against speed, and the
largest batch that fits). Any other sweep gets the same table without a curve.
"""

from __future__ import annotations

import math
import statistics

from scipy.stats import t as student_t

from tfedge.report import plots
from tfedge.report.results import Results
from tfedge.report.runs import compare_runs

ID = "sweeps"
TITLE = "Sweeps: what one setting changes"
READS = ("metrics", "predictions", "summaries")

FROZEN = "frozen"
CONFIDENCE = 0.95


def accuracy_interval(values: list[float]) -> tuple[float, float] | None:
    """Student-t interval of the mean accuracy over seeds, within 0–1; None for one seed.

    ``scipy.stats.t.interval`` with the standard error of the mean as its scale: a handful
    of seeds is too few for the normal approximation.
    """
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    standard_error = statistics.stdev(values) / math.sqrt(len(values))
    if standard_error == 0:  # every seed scored the same; scipy wants a positive scale
        return mean, mean
    low, high = student_t.interval(CONFIDENCE, len(values) - 1, loc=mean, scale=standard_error)
    return max(0.0, float(low)), min(1.0, float(high))  # an accuracy lies in [0, 1]


def seconds_per_epoch(summary: dict) -> float:
    return summary["train_seconds"] / max(1, summary["epochs_run"])


def point_row(name: str, label: str, runs: list, reference_runs: list | None, alpha: float):
    """One point of a sweep: accuracy over seeds, McNemar against the reference, cost."""
    accuracies = [run.metrics["test_accuracy"] for run in runs]
    summaries = [run.summary for run in runs]
    row = {
        "variant": name,
        "label": label,
        "accuracy_mean": statistics.fmean(accuracies),
        "accuracy_interval": accuracy_interval(accuracies),
        "seeds": len(runs),
        "trainable_params": summaries[0]["trainable_params"],
        "seconds_per_epoch": statistics.fmean(seconds_per_epoch(s) for s in summaries),
        # A head trained on cached features never sees an image per step: not comparable.
        "images_per_second": None
        if summaries[0].get("features_cached")
        else _mean_of(summaries, "images_per_second"),
        "batch_size_requested": summaries[0]["batch_size_requested"],
        "batch_sizes": sorted({s["batch_size"] for s in summaries}),
        "ran_out": [attempt for run in runs for attempt in run.ran_out],
        "peak_tensor_memory_mb": _max_of(summaries, "peak_tensor_memory_mb"),
        "peak_memory_mb": max(s["peak_memory_mb"] for s in summaries),
        "memory_available_mb": _max_of(summaries, "memory_available_mb"),
        "memory_limit_mb": summaries[0].get("memory_limit_mb"),
        "p_values": None,
        "beats_reference": False,
    }
    if reference_runs is not None:
        comparison = compare_runs(runs, reference_runs, alpha)
        row["p_values"] = comparison["p_values"]
        row["difference"] = comparison["difference"]
        row["beats_reference"] = comparison["beats"]
    return row


def _mean_of(summaries: list[dict], key: str) -> float | None:
    values = [s[key] for s in summaries if s.get(key) is not None]
    return statistics.fmean(values) if values else None


def _max_of(summaries: list[dict], key: str) -> float | None:
    values = [s[key] for s in summaries if s.get(key) is not None]
    return max(values) if values else None


def value_label(value) -> str:
    return "null" if value is None else str(value)


def unfreeze_label(value) -> str:
    return "all layers (null)" if value is None else f"from {value}"


def sweep_kind(sweep: dict, base_variant: dict) -> str:
    keys = sweep["keys"]
    if keys == ["unfreeze_from"] and base_variant.get("init_from"):
        return "unfreeze"
    return "batch_size" if keys == ["batch_size"] else "other"


def fine_tuning_curve(base: str, sweep: dict, variants: dict, runs: dict, alpha: float) -> dict:
    """Frozen first, then each unfreeze depth by trainable parameters; McNemar vs frozen."""
    points = [name for name in sweep["points"] if name in runs]
    frozen = variants[points[0]]["init_from"]
    rows = [point_row(frozen, FROZEN, runs[frozen], None, alpha)]
    rows += sorted(
        (
            point_row(
                name, unfreeze_label(sweep["points"][name]["unfreeze_from"]),
                runs[name], runs[frozen], alpha,
            )
            for name in points
        ),
        key=lambda row: row["trainable_params"],
    )  # fmt: skip
    return {
        "base": base,
        "kind": "unfreeze",
        "reference": frozen,
        "rows": rows,
        "sentence": fine_tuning_sentence(rows[0], rows[1:], alpha),
        "chart": plots.fine_tuning_curve(rows, base),
    }


def fine_tuning_sentence(frozen: dict, points: list[dict], alpha: float) -> str:
    """Which depth is best here and by how much, with the test that says whether it counts."""
    best = max(points, key=lambda row: row["accuracy_mean"])
    points_gained = 100 * best["difference"]
    numbers = (
        f"{100 * best['accuracy_mean']:.2f} % against frozen {100 * frozen['accuracy_mean']:.2f} % "
        f"({points_gained:+.2f} points, McNemar p = {max(best['p_values']):.3g})"
    )
    if best["beats_reference"]:
        return f"Unfreezing {best['label']} is best here: {numbers}, significant at α = {alpha}."
    if points_gained > 0:
        return (
            f"Unfreezing {best['label']} scored highest here, {numbers}, but no depth beat "
            f"the frozen features significantly at α = {alpha} on this data."
        )
    return f"No depth beat the frozen features here; the best, {best['label']}: {numbers}."


def batch_size_curve(base: str, sweep: dict, runs: dict, alpha: float) -> dict:
    """Memory and speed by batch size; the largest batch that trained is the largest that fits."""
    points = [name for name in sweep["points"] if name in runs]
    rows = sorted(
        (
            point_row(name, str(sweep["points"][name]["batch_size"]), runs[name], None, alpha)
            for name in points
        ),
        key=lambda row: row["batch_size_requested"],
    )
    return {
        "base": base,
        "kind": "batch_size",
        "reference": None,
        "rows": rows,
        "largest_fit": max(size for row in rows for size in row["batch_sizes"]),
        "sentence": batch_size_sentence(rows),
        "chart": plots.batch_size_curve(rows, base),
    }


def batch_size_sentence(rows: list[dict]) -> str:
    """ "On this machine batch N is the largest that fits; batch B trains X× faster than 32"."""
    largest = max(size for row in rows for size in row["batch_sizes"])
    backed_off = sorted(row["batch_size_requested"] for row in rows if row["ran_out"])
    limit = next((row["memory_limit_mb"] for row in rows if row["memory_limit_mb"]), None)
    where = f"under a {limit} MB memory cap" if limit else "on this machine"
    fits = f"{where} batch {largest} is the largest that fits"
    if backed_off:
        fits += f" (batch {', '.join(map(str, backed_off))} ran out of memory and was halved)"
    else:
        fits += " of those tried (none ran out of memory)"
    timed = [row for row in rows if row["images_per_second"] and not row["ran_out"]]
    if len(timed) < 2:
        return f"{fits[0].upper()}{fits[1:]}."
    reference = next((r for r in timed if r["batch_size_requested"] == 32), timed[0])
    others = [row for row in timed if row is not reference]
    largest_timed = max(others, key=lambda row: row["batch_size_requested"])
    fast, slow = largest_timed["images_per_second"], reference["images_per_second"]
    speed = (
        f"batch {largest_timed['label']} trains {fast / slow:.2f}× as fast as batch "
        f"{reference['label']} ({fast:.0f} against {slow:.0f} images/s)"
    )
    return f"{fits[0].upper()}{fits[1:]}; {speed}."


def other_sweep(base: str, sweep: dict, runs: dict, alpha: float) -> dict:
    points = [name for name in sweep["points"] if name in runs]
    rows = [
        point_row(
            name,
            ", ".join(
                f"{key} {value_label(value)}" for key, value in sweep["points"][name].items()
            ),
            runs[name],
            None,
            alpha,
        )
        for name in points
    ]
    return {"base": base, "kind": "other", "reference": None, "rows": rows,
            "sentence": None, "chart": None}  # fmt: skip


def sweeps_context(config: dict, runs: dict, alpha: float) -> list[dict]:
    """One entry per sweep in the config, in the order written; points without results skipped."""
    sections = []
    for base, sweep in config.get("sweeps", {}).items():
        if not any(name in runs for name in sweep["points"]):
            continue
        first = config["variants"][next(iter(sweep["points"]))]
        kind = sweep_kind(sweep, first)
        if kind == "unfreeze":
            sections.append(fine_tuning_curve(base, sweep, config["variants"], runs, alpha))
        elif kind == "batch_size":
            sections.append(batch_size_curve(base, sweep, runs, alpha))
        else:
            sections.append(other_sweep(base, sweep, runs, alpha))
    return sections


def context(results: Results) -> dict | None:
    """None without a sweep: the section is left out."""
    sweeps = sweeps_context(results.config, results.runs, results.alpha)
    return {"sweeps": sweeps, "seeds": results.seeds} if sweeps else None
