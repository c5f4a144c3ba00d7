"""prepare_data: load a source, split it stratified and seeded, write TFRecords and a manifest."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from tfedge.data.sources import LabelledImages, SourceData, load_source
from tfedge.files import write_json

log = logging.getLogger(__name__)


def cap_per_class(data: LabelledImages, limit: int | None, seed: int) -> LabelledImages:
    """At most ``limit`` images of each class, chosen at random with ``seed``."""
    if limit is None:
        return data
    rng = np.random.default_rng(seed)
    keep = []
    for label in np.unique(data.labels):
        members = np.flatnonzero(data.labels == label)
        keep.append(rng.permutation(members)[:limit])
    return data.subset(np.sort(np.concatenate(keep)))


def stratified_split(
    data: LabelledImages, fraction: float, seed: int
) -> tuple[LabelledImages, LabelledImages]:
    """(rest, held_out) with ``fraction`` of each class held out."""
    indices = np.arange(len(data.labels))
    rest, held_out = train_test_split(
        indices, test_size=fraction, stratify=data.labels, random_state=seed
    )
    return data.subset(np.sort(rest)), data.subset(np.sort(held_out))


def make_splits(source: SourceData, settings: dict) -> dict[str, LabelledImages]:
    """train / validation / test; test comes from the source when it has one (TFDS MNIST)."""
    seed = settings["split_seed"]
    pools = {
        name: cap_per_class(images, settings["max_per_class"], seed)
        for name, images in source.splits.items()
    }
    train = pools["train"]
    test = pools.get("test")
    if test is None:
        train, test = stratified_split(train, settings["test_fraction"], seed)
    train, validation = stratified_split(train, settings["validation_fraction"], seed)
    return {"train": train, "validation": validation, "test": test}


def split_summary(data: LabelledImages, class_names: list[str]) -> dict:
    counts = np.bincount(data.labels, minlength=len(class_names))
    return {
        "count": int(len(data.labels)),
        "per_class": {name: int(count) for name, count in zip(class_names, counts)},
    }


def prepare_dataset(name: str, settings: dict, outputs: dict[str, str]) -> dict:
    """Materialise dataset ``name`` into ``outputs`` (split -> .tfrecord, plus "manifest")."""
    from tfedge.data.records import sha256, write_tfrecord

    source = load_source(name, settings)
    log.info("dataset %s: source %s (%s)", name, source.source_used, source.reason)
    splits = make_splits(source, settings)
    manifest = {
        "dataset": name,
        "source_requested": settings["source"],
        "source_used": source.source_used,
        "reason": source.reason,
        "class_names": source.class_names,
        "image_size": settings["image_size"],
        "channels": settings["channels"],
        "splits": {},
    }
    for split, data in splits.items():
        write_tfrecord(outputs[split], data)
        entry = split_summary(data, source.class_names)
        entry.update(file=Path(outputs[split]).name, sha256=sha256(outputs[split]))
        manifest["splits"][split] = entry
        log.info("dataset %s: %s split, %d images", name, split, entry["count"])
    write_json(outputs["manifest"], manifest)
    return manifest
