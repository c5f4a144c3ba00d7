"""prepare_data: load and check a source, split it stratified and seeded, write TFRecords."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from tfedge.data.fingerprint import describe_images, image_folders
from tfedge.data.sources import (
    Fetched,
    LabelledImages,
    SourceData,
    SourceUnavailable,
    ignored_summary,
    load_source,
)
from tfedge.files import sha256, write_json

log = logging.getLogger(__name__)


class TooFewImages(SourceUnavailable):
    """Some class has fewer images than the splits need to give it one in each."""


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


def images_needed(fraction: float, rest: int) -> int:
    """Fewest images of a class for which a stratified split holding out ``fraction`` gives it
    at least one held-out image and at least ``rest`` others, whatever the other classes hold.

    sklearn holds out ceil(fraction * total) images and shares them out in proportion to
    class size, each class's share rounded down or up. A class of n images therefore gets at
    least one when n * fraction >= 1, and at most ceil(n * fraction) + 1 (the ceil on the
    total adds less than one image to the class's exact share).
    """
    count = 1
    while count * fraction < 1 or count - math.ceil(count * fraction) - 1 < rest:
        count += 1
    return count


def min_images_per_class(settings: dict, has_test_split: bool) -> int:
    """Fewest images per class that leave one in train, validation and (if carved) test."""
    needed = images_needed(settings["validation_fraction"], rest=1)
    if has_test_split:
        return needed
    return images_needed(settings["test_fraction"], rest=needed)


def require_images_per_class(dataset_name: str, source: SourceData, settings: dict) -> None:
    """Fail before splitting, naming every class too small to split, rather than inside sklearn."""
    has_test = "test" in source.splits
    needed = min_images_per_class(settings, has_test)
    counts = np.bincount(source.splits["train"].labels, minlength=len(source.class_names))
    small = [f"{name} ({n})" for name, n in zip(source.class_names, counts) if n < needed]
    if not small:
        return
    fractions = {"validation_fraction": settings["validation_fraction"]}
    if not has_test:
        fractions["test_fraction"] = settings["test_fraction"]
    raise TooFewImages(
        f"datasets.{dataset_name}: every class needs at least {needed} usable images so that "
        f"each split gets one ({', '.join(f'{key} {value}' for key, value in fractions.items())}"
        f"); too few in {', '.join(small)}. Add images to these classes, remove their "
        f"folders, or lower {' or '.join(fractions)}."
    )


def make_splits(source: SourceData, settings: dict) -> dict[str, LabelledImages]:
    """train / validation / test; test comes from the source when it has one (TFDS MNIST).

    Test and validation are split off the full data first and only train is capped by
    ``max_per_class``, so a quick run is evaluated on the same test set as a full one.
    """
    seed = settings["split_seed"]
    train = source.splits["train"]
    test = source.splits.get("test")
    if test is None:
        train, test = stratified_split(train, settings["test_fraction"], seed)
    train, validation = stratified_split(train, settings["validation_fraction"], seed)
    train = cap_per_class(train, settings["max_per_class"], seed)
    return {"train": train, "validation": validation, "test": test}


def split_summary(data: LabelledImages, class_names: list[str]) -> dict:
    counts = np.bincount(data.labels, minlength=len(class_names))
    return {
        "count": int(len(data.labels)),
        "per_class": {name: int(count) for name, count in zip(class_names, counts)},
    }


def outputs_in(folder: str | Path) -> dict[str, str]:
    """The files prepare_dataset writes, in ``folder`` (as the prepare_data rule names them)."""
    files = {split: f"{split}.tfrecord" for split in ("train", "validation", "test")}
    files.update(manifest="manifest.json", images="images.json")
    return {key: str(Path(folder) / name) for key, name in files.items()}


def prepare_dataset(
    name: str, settings: dict, outputs: dict[str, str], fetched: Fetched | None = None
) -> dict:
    """Materialise dataset ``name`` into ``outputs`` (split -> .tfrecord, "manifest", and
    "images": what a ``source: directory`` folder held, for the next plan to compare).
    ``fetched`` is what the download job left, for a ``tfds`` or ``auto`` source."""
    from tfedge.data.checks import check_source
    from tfedge.data.records import write_tfrecord

    source = load_source(name, settings, fetched)
    log.info("dataset %s: source %s (%s)", name, source.source_used, source.reason)
    source, images = check_source(name, source, settings)
    require_images_per_class(name, source, settings)
    splits = make_splits(source, settings)
    manifest = {
        "dataset": name,
        "source_requested": settings["source"],
        "source_used": source.source_used,
        "reason": source.reason,
        "class_names": source.class_names,
        "image_size": settings["image_size"],
        "channels": settings["channels"],
        "images": images,
        "ignored_files": ignored_summary(source.ignored_files),
        "nested_images": source.nested_images,
        "splits": {},
    }
    for split, data in splits.items():
        write_tfrecord(outputs[split], data)
        entry = split_summary(data, source.class_names)
        entry.update(
            file=Path(outputs[split]).name,
            bytes=Path(outputs[split]).stat().st_size,
            sha256=sha256(outputs[split]),
        )
        manifest["splits"][split] = entry
        log.info("dataset %s: %s split, %d images", name, split, entry["count"])
    folders = image_folders(settings)
    write_json(outputs["images"], describe_images(folders[0]) if folders else {})
    write_json(outputs["manifest"], manifest)
    return manifest
