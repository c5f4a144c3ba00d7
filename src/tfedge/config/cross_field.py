"""The checks that relate one field to another, which a JSON schema cannot express.

A variant's dataset, backbone and init_from must name things that exist and fit together, each
baseline must be a variant of its dataset, a ``source: directory`` data set must name a folder
Snakemake can take as a path, and the batch and TensorRT settings must agree with each other.
They run only on a config the schema passed and filled with defaults.
"""

from __future__ import annotations

import re


def cross_field_problems(config: dict) -> list[str]:
    """Every cross-field error, in the order of the config's sections."""
    datasets, variants = config.get("datasets", {}), config.get("variants", {})
    problems = _dataset_problems(variants, datasets) + _directory_problems(datasets)
    problems += _transfer_problems(config) + _batch_problems(variants)
    throughput_batch = config.get("benchmark", {}).get("throughput_batch")
    problems += _convert_problems(config.get("convert", {}), variants, throughput_batch)
    return problems + _baseline_problems(config)


def _dataset_problems(variants: dict, datasets: dict) -> list[str]:
    """Each variant's dataset must be defined."""
    return [
        f"variants.{name}.dataset: {variant.get('dataset')!r} is not defined under "
        f"datasets; defined: {', '.join(datasets) or 'none'}"
        for name, variant in variants.items()
        if isinstance(variant, dict) and variant.get("dataset") not in datasets
    ]


def _directory_problems(datasets: dict) -> list[str]:
    """A ``source: directory`` data set names its folder, in a path Snakemake leaves alone."""
    problems = []
    for name, dataset in datasets.items():
        if dataset.get("source") != "directory":
            continue
        folder = dataset.get("directory")
        if not folder:
            problems.append(
                f"datasets.{name}.directory: source 'directory' needs a folder of class "
                f"sub-folders; set datasets.{name}.directory or choose another source"
            )
        elif re.search(r"[{}<>]", folder):
            problems.append(
                f"datasets.{name}.directory: {folder!r} holds {{, }}, < or >, which Snakemake "
                "reads as wildcards or path variables; rename the folder, or point at a "
                "symbolic link to it whose path has none"
            )
    return problems


def _convert_problems(convert: dict, variants: dict, throughput_batch: int) -> list[str]:
    problems = []
    for name in convert.get("variants") or []:
        if name not in variants:
            problems.append(
                f"convert.variants: {name!r} is not a variant; choose from: {', '.join(variants)}"
            )
    tensorrt = [fmt for fmt in convert.get("formats", []) if fmt.startswith("tensorrt_")]
    opt_batch = convert.get("tensorrt", {}).get("opt_batch")
    max_batch = convert.get("tensorrt", {}).get("max_batch")
    if tensorrt and max_batch < opt_batch:
        problems.append(
            f"convert.tensorrt.max_batch: {max_batch} is below opt_batch ({opt_batch}), so no "
            "engine could be built; set max_batch to at least opt_batch"
        )
    if tensorrt and opt_batch != throughput_batch:
        problems.append(
            f"convert.tensorrt.opt_batch: {opt_batch} differs from benchmark.throughput_batch "
            f"({throughput_batch}), so the engines' throughput would be timed at a batch they "
            "are not tuned for; set both to the same batch size"
        )
    if convert.get("formats") == [] and convert.get("variants") != []:
        problems.append(
            "convert.formats: [] lists no format, so the report's formats tables would be empty; "
            "list the formats to produce, or set convert.variants: [] to convert nothing"
        )
    return problems


def _batch_problems(variants: dict) -> list[str]:
    """The out-of-memory back-off halves the batch down to min_batch_size, so that is no more
    than batch_size."""
    return [
        f"variants.{name}.min_batch_size: {variant['min_batch_size']} is larger than its "
        f"batch_size ({variant['batch_size']}); lower it to {variant['batch_size']} or less"
        for name, variant in variants.items()
        if variant.get("min_batch_size", 0) > variant.get("batch_size", 0)
    ]


def _baseline_problems(config: dict) -> list[str]:
    """Each baseline must be a variant, and in the mapping form, one of its key's dataset."""
    baseline, variants = config.get("baseline"), config.get("variants", {})
    if isinstance(baseline, str):
        if baseline in variants:
            return []
        return [f"baseline: {baseline!r} is not a variant; choose one of: {', '.join(variants)}"]
    datasets, problems = config.get("datasets", {}), []
    for dataset, name in (baseline or {}).items():
        where = f"baseline.{dataset}"
        if dataset not in datasets:
            problems.append(
                f"{where}: {dataset!r} is not a dataset; key each baseline by one of: "
                f"{', '.join(datasets)}"
            )
            continue
        own = [other for other, variant in variants.items() if variant["dataset"] == dataset]
        fix = (
            f"choose one of the {dataset} variants: {', '.join(own)}"
            if own
            else f"no variant trains on {dataset}; remove {where}"
        )
        if name not in variants:
            problems.append(f"{where}: {name!r} is not a variant; {fix}")
        elif name not in own:
            trains_on = variants[name]["dataset"]
            problems.append(f"{where}: {name!r} trains on {trains_on}, not {dataset}; {fix}")
    return problems


def _transfer_problems(config: dict) -> list[str]:
    """A transfer variant's backbone must fit; init_from must share its dataset and backbone."""
    problems, variants = [], config.get("variants", {})
    for name, variant in variants.items():
        if variant.get("model") == "transfer":
            problems += _backbone_problems(name, variant, config)
            problems += _init_from_problems(name, variant, variants)
    return problems


def _backbone_problems(name: str, variant: dict, config: dict) -> list[str]:
    """The backbone must be defined, take the dataset's colour images, and be unfrozen whole
    if it is a TF Hub layer."""
    problems, backbones = [], config.get("backbones", {})
    dataset = config.get("datasets", {}).get(variant.get("dataset"), {})
    if dataset.get("channels", 3) != 3:
        problems.append(
            f"variants.{name}: a transfer model's backbone is an ImageNet network, which "
            f"takes colour images, but dataset {variant['dataset']} has channels: "
            f"{dataset['channels']}; set datasets.{variant['dataset']}.channels: 3 (grey "
            "images are then repeated into three channels), or use model: cnn or mlp"
        )
    if variant["backbone"] not in backbones:
        problems.append(
            f"variants.{name}.backbone: {variant['backbone']!r} is not defined under "
            f"backbones; defined: {', '.join(backbones) or 'none'}"
        )
    elif _unfreezes_part_of_a_hub_layer(variant, backbones[variant["backbone"]]):
        problems.append(
            f"variants.{name}.unfreeze_from: {variant['unfreeze_from']!r} names a layer, but "
            f"backbone {variant['backbone']} is a TF Hub layer, which has no layers to "
            "start from and trains whole; remove unfreeze_from, or use a "
            "keras_applications or efficientnet_lite0_bundled backbone to unfreeze part of it"
        )
    return problems


def _init_from_problems(name: str, variant: dict, variants: dict) -> list[str]:
    """init_from names another transfer variant of the same dataset and backbone, in no loop."""
    parent = variant.get("init_from")
    if parent is None:
        return []
    source = variants.get(parent)
    if source is None or parent == name:
        return [
            f"variants.{name}.init_from: {parent!r} is not another variant; "
            f"choose one of: {', '.join(v for v in variants if v != name)}"
        ]
    if source.get("model") != "transfer" or (source["dataset"], source["backbone"]) != (
        variant["dataset"],
        variant["backbone"],
    ):
        return [
            f"variants.{name}.init_from: {parent!r} must be a transfer variant with the same "
            f"dataset ({variant['dataset']}) and backbone ({variant['backbone']})"
        ]
    if _init_chain_loops(name, variants):
        return [f"variants.{name}.init_from: the init_from chain loops back to {name}"]
    return []


def _unfreezes_part_of_a_hub_layer(variant: dict, backbone: dict) -> bool:
    """unfreeze_from on a backbone that is always a TF Hub layer (``source: auto`` may resolve
    to a network with layers, so it keeps unfreeze_from and trains a hub layer whole)."""
    return (
        backbone.get("source") == "hub"
        and variant.get("unfreeze", False)
        and variant.get("unfreeze_from") is not None
    )


def _init_chain_loops(start: str, variants: dict) -> bool:
    seen, current = {start}, variants[start].get("init_from")
    while current is not None and current in variants:
        if current in seen:
            return True
        seen.add(current)
        current = variants[current].get("init_from")
    return False
