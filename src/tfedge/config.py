"""Validate config.yaml before any job runs, with errors that name the field and the fix.

The JSON schema (schemas/config.schema.yaml) describes each key, its type and default;
this module fills the defaults, turns every schema violation into one readable line, and
adds the checks a schema cannot express (a variant's dataset must exist, each baseline
must be a variant of its dataset). It imports no TensorFlow: Snakemake calls it at parse time.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError, validators

from tfedge.names import identifier
from tfedge.sweeps import expand_sweeps, take_sweeps


class ConfigError(ValueError):
    """config.yaml is wrong; the message lists each bad field and what it accepts."""


def _with_defaults(validator_class: type) -> type:
    """A validator that fills each property's schema default before checking it."""
    check_properties = validator_class.VALIDATORS["properties"]

    def fill_then_check(validator, properties, instance, schema) -> Iterator[ValidationError]:
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, json.loads(json.dumps(subschema["default"])))
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": fill_then_check})


_DefaultingValidator = _with_defaults(Draft202012Validator)


def field_path(error: ValidationError) -> str:
    """Dotted path of the offending field, e.g. ``variants.cnn.epochs``."""
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


BASELINE_FORMS = (
    "is neither a variant name nor a mapping dataset: variant (e.g. baseline: mlp_baseline, "
    "or baseline: {mnist: mlp_baseline, flowers: mobilenet_frozen})"
)


def describe(error: ValidationError) -> str:
    """One line naming the field, what is wrong, and what would be accepted."""
    where = field_path(error)
    if "patternMessage" in error.schema:  # the schema's own words for a pattern it sets
        return f"{where}: {error.instance!r} {error.schema['patternMessage']}"
    if "pattern" in error.schema:
        # Otherwise only $defs/name has a pattern. A bad key is reported with the mapping's
        # path and the key as instance; a bad value (a baseline) with its own path.
        return _describe_bad_name(where, error.instance)
    if error.validator == "oneOf" and where == "baseline":
        return f"{where}: {error.instance!r} {BASELINE_FORMS}"
    if error.validator == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"{where}: {error.instance!r} is not allowed; use one of: {allowed}"
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        known = sorted(_known_keys(error.schema, error.instance))
        return f"{where}: {error.message}; known keys here: {', '.join(known)}"
    return f"{where}: {error.message}"


def _describe_bad_name(where: str, name: Any) -> str:
    if not isinstance(name, str):
        return (
            f"{where}: {name!r} is not a valid name; names are text of letters, digits and _ "
            f"(quote it in YAML: '{name}')"
        )
    return (
        f"{where}: {name!r} is not a valid name; names use only letters, digits and _ "
        f"(e.g. {suggested_name(name, where)})"
    )


_SPOKEN_SYMBOLS = {"+": "plus", "#": "sharp", "&": "and", "@": "at", "%": "percent"}


def suggested_name(name: str, mapping: str = "") -> str:
    """A valid name close to ``name``: ``c++`` → ``c_plus_plus``, ``café`` → ``cafe``."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    for symbol, word in _SPOKEN_SYMBOLS.items():
        text = text.replace(symbol, f"_{word}_")
    text = identifier(text)
    return text or f"my_{mapping.rstrip('s') or 'name'}"


def _known_keys(schema: dict, instance: Any) -> set[str]:
    """Keys a schema object admits, including those of if/then branches that apply."""
    keys = set(schema.get("properties", {}))
    for branch in schema.get("allOf", []):
        if_schema, then_schema = branch.get("if"), branch.get("then", {})
        if if_schema is None or Draft202012Validator(if_schema).is_valid(instance):
            keys |= set(then_schema.get("properties", {}))
    return keys


def _meant_branches(errors: list[ValidationError]) -> list[ValidationError]:
    """Replace a oneOf error by the errors of the branch whose shape the value has.

    jsonschema only says "is not valid under any of the given schemas"; a mapping with one
    bad name deserves the line about that name. A value that has no branch's shape (a
    number, an empty mapping) keeps the oneOf error.
    """
    expanded = []
    for error in errors:
        meant = [sub for sub in error.context if not _fails_at_branch_root(sub)]
        expanded += meant if error.validator == "oneOf" and meant else [error]
    return expanded


def _fails_at_branch_root(error: ValidationError) -> bool:
    """The value has not the branch's type, or is empty where it needs entries."""
    branch_keyword = len(error.relative_schema_path) == 2  # [branch index, keyword]
    return branch_keyword and error.validator in ("type", "minProperties")


def _most_specific(errors: list[ValidationError]) -> list[ValidationError]:
    """Drop "unexpected keys" errors on an object whose own fields already fail.

    An unknown ``model`` makes every model-specific key look unexpected; the useful line
    is the one about ``model``.
    """
    paths = [tuple(error.absolute_path) for error in errors]

    def has_deeper_error(path: tuple) -> bool:
        return any(len(other) > len(path) and other[: len(path)] == path for other in paths)

    return [
        error
        for error, path in zip(errors, paths)
        if error.validator != "unevaluatedProperties" or not has_deeper_error(path)
    ]


def check_references(config: dict) -> list[str]:
    """Cross-field errors a JSON schema cannot express."""
    problems = []
    datasets, variants = config.get("datasets", {}), config.get("variants", {})
    for name, variant in variants.items():
        if isinstance(variant, dict) and variant.get("dataset") not in datasets:
            problems.append(
                f"variants.{name}.dataset: {variant.get('dataset')!r} is not defined under "
                f"datasets; defined: {', '.join(datasets) or 'none'}"
            )
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
    problems += _transfer_problems(config) + _batch_problems(variants)
    throughput_batch = config.get("benchmark", {}).get("throughput_batch")
    problems += _convert_problems(config.get("convert", {}), variants, throughput_batch)
    return problems + _baseline_problems(config)


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


def baselines(config: dict) -> dict[str, str]:
    """Each dataset's baseline variant, the one its other variants are tested against.

    ``baseline`` is one variant name (it serves its own dataset) or a mapping dataset:
    variant; datasets it leaves out get no baseline. ``config`` must be valid.
    """
    baseline = config["baseline"]
    if isinstance(baseline, str):
        return {config["variants"][baseline]["dataset"]: baseline}
    return dict(baseline)


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
    """A transfer variant's backbone must exist; init_from must share its dataset and backbone."""
    problems = []
    variants, backbones = config.get("variants", {}), config.get("backbones", {})
    for name, variant in variants.items():
        if variant.get("model") != "transfer":
            continue
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
        parent = variant.get("init_from")
        if parent is None:
            continue
        source = variants.get(parent)
        if source is None or parent == name:
            problems.append(
                f"variants.{name}.init_from: {parent!r} is not another variant; "
                f"choose one of: {', '.join(v for v in variants if v != name)}"
            )
        elif source.get("model") != "transfer" or (source["dataset"], source["backbone"]) != (
            variant["dataset"],
            variant["backbone"],
        ):
            problems.append(
                f"variants.{name}.init_from: {parent!r} must be a transfer variant with the same "
                f"dataset ({variant['dataset']}) and backbone ({variant['backbone']})"
            )
        elif _init_chain_loops(name, variants):
            problems.append(f"variants.{name}.init_from: the init_from chain loops back to {name}")
    return problems


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


def folder_problems(config: dict) -> list[str]:
    """Each ``source: directory`` folder exists here (relative paths: from the working directory).

    Kept out of :func:`validate_config`, which only reads the config: Snakemake calls this
    where it plans the jobs (rules/data.smk), not inside a remote job that may not mount the
    folder, and tests can validate settings that name folders made later.
    """
    problems = []
    for name, dataset in config.get("datasets", {}).items():
        folder = dataset.get("directory")
        if dataset.get("source") != "directory" or not folder:
            continue
        if not os.path.isdir(os.path.expanduser(folder)):
            problems.append(
                f"datasets.{name}.directory: {folder!r} is not a folder; point it at a folder "
                "holding one sub-folder of images per class (a relative path starts at the "
                f"working directory snakemake runs in, {os.getcwd()})"
            )
    return problems


def check_folders(config: dict, source: str = "config.yaml") -> None:
    """Raise ConfigError when a ``source: directory`` folder is missing (see folder_problems)."""
    problems = folder_problems(config)
    if problems:
        raise ConfigError(_invalid(problems, source))


def _invalid(problems: list[str], source: str) -> str:
    return (
        f"{source} is invalid:\n  - " + "\n  - ".join(problems) + "\n"
        "See the config reference in README.md (every key, its type and default)."
    )


# Far more values than any experiment has (the shipped config has about 150); YAML aliases can
# make a short file hold billions, which every later check would walk.
MAX_CONFIG_VALUES = 100_000


def number_problems(config: dict, source: str = "config.yaml") -> list[str]:
    """Every number that is not finite (``.nan``, ``.inf``), by its field; walked without
    recursion and refused past MAX_CONFIG_VALUES values, before anything else reads the config."""
    problems, pending, seen = [], [("", config)], 0
    while pending:
        where, value = pending.pop()
        seen += 1
        if seen > MAX_CONFIG_VALUES:
            raise ConfigError(
                f"{source} holds more than {MAX_CONFIG_VALUES:,} values once its YAML aliases "
                "(*name) are expanded; no experiment needs that many: write the values out "
                "instead of nesting aliases"
            )
        if isinstance(value, dict):
            pending += [(f"{where}.{key}".lstrip("."), item) for key, item in value.items()]
        elif isinstance(value, list):
            pending += [(f"{where}[{index}]", item) for index, item in enumerate(value)]
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{where}: {value} is not a finite number; give a number such as 0.001")
    return sorted(problems)


def validate_config(config: dict, schema_path: str | Path, source: str = "config.yaml") -> dict:
    """Fill defaults into ``config`` in place and raise ConfigError listing every problem.

    Variants that give a list for a setting are replaced by one variant per value (see
    tfedge.sweeps); ``config["sweeps"]`` records which, for the report's curves.

    ``source`` names the file(s) the config came from, for the error's first line.
    """
    problems = number_problems(config, source)
    if problems:
        raise ConfigError(_invalid(problems, source))
    schema = yaml.safe_load(Path(schema_path).read_text())
    recorded_sweeps = config.pop("sweeps", {})  # a config validated before keeps its record
    sweeps, problems = take_sweeps(config, schema)
    errors = _meant_branches(list(_DefaultingValidator(schema).iter_errors(config)))
    errors.sort(key=field_path)
    problems += [describe(error) for error in _most_specific(errors)]
    config["sweeps"] = recorded_sweeps
    if not problems:
        problems = expand_sweeps(config, sweeps)
    if not problems:
        problems = check_references(config)
    if problems:
        raise ConfigError(_invalid(problems, source))
    return config


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys sorted, recursively.

    Snakemake compares a job's ``params`` by their ``repr``, and a dict's repr follows its
    insertion order: without this, reordering config keys (or a default that validation
    appended) would rerun jobs whose settings did not change.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    return value


def config_hash(config: dict) -> str:
    """Short, order-independent fingerprint of the validated config, shown in the report."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
