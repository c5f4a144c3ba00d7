"""Where every artefact lives under results/.

The Snakemake rules and the report collector both use these functions, so the layout is
written down once. Pure string functions: imported at parse time.
"""

from __future__ import annotations

RESULTS = "results"
SPLITS = ("train", "validation", "test")


def data_dir(dataset: str) -> str:
    return f"{RESULTS}/data/{dataset}"


def tfrecord(dataset: str, split: str) -> str:
    return f"{data_dir(dataset)}/{split}.tfrecord"


def manifest(dataset: str) -> str:
    return f"{data_dir(dataset)}/manifest.json"


def model_dir(variant: str, seed: int | str) -> str:
    return f"{RESULTS}/models/{variant}/seed{seed}"


def train_work_dir(variant: str, seed: int | str) -> str:
    """Checkpoints and partial logs of an unfinished training run (kept when a job dies)."""
    return f"{RESULTS}/.work/train/{variant}/seed{seed}"


def metrics(variant: str, seed: int | str) -> str:
    return f"{RESULTS}/metrics/{variant}/seed{seed}.json"


def predictions(variant: str, seed: int | str) -> str:
    return f"{RESULTS}/metrics/{variant}/seed{seed}.predictions.npz"


def report() -> str:
    return f"{RESULTS}/report.html"


def log(rule: str, *names: object) -> str:
    return f"{RESULTS}/logs/{rule}/" + "_".join(str(name) for name in names) + ".log"


def model_file(variant: str, seed: int | str, name: str) -> str:
    """A file of a finished training run: model.keras, train.json, history.csv, …"""
    return f"{model_dir(variant, seed)}/{name}"


def converted_dir(variant: str, fmt: str) -> str:
    """A converted model's folder: conversion.json and, when conversion succeeded, the model."""
    return f"{RESULTS}/converted/{variant}/{fmt}"


def conversion(variant: str, fmt: str) -> str:
    return f"{converted_dir(variant, fmt)}/conversion.json"


def bench(variant: str, fmt: str) -> str:
    return f"{RESULTS}/bench/{variant}/{fmt}.json"


def architectures() -> str:
    return f"{RESULTS}/architectures.json"
