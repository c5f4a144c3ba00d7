"""Gather every run's results into the report's template context (no TensorFlow needed)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import markdown
import numpy as np
import pandas as pd

from tfedge import paths
from tfedge.config import config_hash
from tfedge.files import read_json
from tfedge.report import plots
from tfedge.report.provenance import provenance
from tfedge.stats import mcnemar_exact


@dataclass
class Run:
    """One trained (variant, seed) and what evaluation made of it."""

    variant: str
    seed: int
    summary: dict
    metrics: dict
    history: pd.DataFrame
    predictions: dict[str, np.ndarray]

    @property
    def correct(self) -> np.ndarray:
        return self.predictions["predicted"] == self.predictions["labels"]


def load_run(variant: str, seed: int) -> Run:
    with np.load(paths.predictions(variant, seed)) as archive:
        predictions = {name: archive[name] for name in archive.files}
    return Run(
        variant=variant,
        seed=seed,
        summary=read_json(paths.model_file(variant, seed, "train.json")),
        metrics=read_json(paths.metrics(variant, seed)),
        history=pd.read_csv(paths.model_file(variant, seed, "history.csv")),
        predictions=predictions,
    )


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single seed)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def compare_to_baseline(runs: list[Run], baseline_runs: list[Run], alpha: float) -> dict:
    """McNemar per seed on the same test images.

    "beats" needs a higher mean accuracy and p < alpha in every seed.
    """
    by_seed = {run.seed: run for run in baseline_runs}
    tests = [mcnemar_exact(by_seed[run.seed].correct, run.correct) for run in runs]
    accuracy = mean_std([run.metrics["test_accuracy"] for run in runs])[0]
    baseline_accuracy = mean_std([run.metrics["test_accuracy"] for run in baseline_runs])[0]
    worst_p = max(test.p_value for test in tests)
    return {
        "p_values": [test.p_value for test in tests],
        "worst_p": worst_p,
        "discordant": [(test.only_first_correct, test.only_second_correct) for test in tests],
        "beats": accuracy > baseline_accuracy and worst_p < alpha,
    }


def variant_row(name: str, variant: dict, runs: list[Run], manifest: dict) -> dict:
    accuracy_mean, accuracy_std = mean_std([run.metrics["test_accuracy"] for run in runs])
    return {
        "variant": name,
        "dataset": variant["dataset"],
        "model": variant["model"],
        "source_used": manifest["source_used"],
        "params": runs[0].summary["params"],
        "epochs": runs[0].summary["epochs_run"],
        "best_epochs": [run.summary["best_epoch"] for run in runs],
        "train_seconds": statistics.fmean(run.summary["train_seconds"] for run in runs),
        "accuracy_mean": accuracy_mean,
        "accuracy_std": accuracy_std,
        "loss_mean": statistics.fmean(run.metrics["test_loss"] for run in runs),
        "seeds": [run.seed for run in runs],
        "comparison": None,
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


def load_answers(answers_path: str | Path) -> list[dict]:
    """``## Question`` sections of answers.md, rendered from Markdown (trusted project text)."""
    sections: list[dict] = []
    for line in Path(answers_path).read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            sections.append({"question": line[3:].strip(), "lines": []})
        elif sections:
            sections[-1]["lines"].append(line)
    return [
        {
            "question": section["question"],
            "anchor": f"answer-{number}",
            "html": markdown.markdown("\n".join(section["lines"])),
        }
        for number, section in enumerate(sections, start=1)
    ]


def collect_context(config: dict, answers_path: str | Path) -> dict:
    variants, seeds, baseline = config["variants"], config["seeds"], config["baseline"]
    manifests = {
        dataset: read_json(paths.manifest(dataset))
        for dataset in sorted({variant["dataset"] for variant in variants.values()})
    }
    runs = {name: [load_run(name, seed) for seed in seeds] for name in variants}
    rows, figures = [], {}
    for name, variant in variants.items():
        manifest = manifests[variant["dataset"]]
        row = variant_row(name, variant, runs[name], manifest)
        if name != baseline and variant["dataset"] == variants[baseline]["dataset"]:
            row["comparison"] = compare_to_baseline(
                runs[name], runs[baseline], config["report"]["significance_level"]
            )
        rows.append(row)
        figures[name] = variant_figures(name, runs[name], manifest["class_names"])
    return {
        "title": config["report"]["title"],
        "baseline": baseline,
        "baseline_layers": runs[baseline][0].summary["layers"],
        "baseline_params": runs[baseline][0].summary["params"],
        "alpha": config["report"]["significance_level"],
        "seeds": seeds,
        "rows": rows,
        "figures": figures,
        "datasets": manifests,
        "stand_ins": {
            name: manifest
            for name, manifest in manifests.items()
            if manifest["source_used"] == "bundled"
        },
        "answers": load_answers(answers_path),
        "provenance": provenance(config_hash(config)),
    }
