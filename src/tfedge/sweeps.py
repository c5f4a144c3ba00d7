"""Sweeps: a variant that gives a list for a setting trains once per value.

``batch_size: [16, 32, 64]`` in the variant ``finetuned`` becomes three variants,
``finetuned_batch_size_16``, ``finetuned_batch_size_32`` and ``finetuned_batch_size_64``, each
an ordinary variant with its own train → evaluate chain and its own params, so editing one
value reruns that point alone. Lists in several keys give every combination. Expansion
happens while the config is validated, at parse time: the rules never see a list.
"""

from __future__ import annotations

import itertools
from typing import Any

from jsonschema import Draft202012Validator

from tfedge.names import identifier

# Keys that say what a variant is rather than how it trains; a list there is an error.
FIXED_KEYS = {
    "dataset": "define one variant per dataset",
    "model": "define one variant per model (each model has its own settings)",
    "init_from": "define one variant per starting point",
}


def key_schemas(variant: dict, schema: dict) -> dict[str, dict]:
    """The schema of each key ``variant`` may hold: common keys and its model's own."""
    variant_schema = schema["$defs"]["variant"]
    keys = dict(variant_schema["properties"])
    for branch in variant_schema.get("allOf", []):
        if branch["if"]["properties"]["model"]["const"] == variant.get("model"):
            keys.update(branch["then"].get("properties", {}))
    return keys


def is_sweepable(key_schema: dict) -> bool:
    """A key whose value is one number, text, true/false or null; a list there is a sweep."""
    kinds = key_schema.get("type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return not {"array", "object"} & set(kinds)


def swept_keys(variant: dict, schema: dict) -> dict[str, list]:
    """The keys of ``variant`` given as lists where the schema wants one value."""
    schemas = key_schemas(variant, schema)
    return {
        key: value
        for key, value in variant.items()
        if isinstance(value, list) and key in schemas and is_sweepable(schemas[key])
    }


def value_problems(name: str, key: str, values: list, key_schema: dict, schema: dict) -> list[str]:
    """Each value of a sweep checked on its own, named by its index: ``variants.v.lr[2]``."""
    where = f"variants.{name}.{key}"
    if key in FIXED_KEYS:
        return [f"{where}: a list here would sweep what the variant is; {FIXED_KEYS[key]}"]
    if not values:
        return [f"{where}: an empty list sweeps nothing; give at least one value"]
    repeated = sorted({repr(value) for value in values if values.count(value) > 1})
    if repeated:
        return [f"{where}: {', '.join(repeated)} appears more than once; list each value once"]
    validator = Draft202012Validator({**key_schema, "$defs": schema["$defs"]})
    return [
        f"{where}[{index}]: {error.message}"
        for index, value in enumerate(values)
        for error in validator.iter_errors(value)
    ]


def take_sweeps(config: dict, schema: dict) -> tuple[dict[str, dict[str, list]], list[str]]:
    """Replace each sweep by its first value, so the schema checks the rest of the variant.

    Returns ``{variant: {key: values}}`` and the problems with the values themselves.
    """
    sweeps, problems = {}, []
    for name, variant in (config.get("variants") or {}).items():
        if not isinstance(variant, dict):
            continue
        schemas = key_schemas(variant, schema)
        found = swept_keys(variant, schema) | {
            key: variant[key] for key in FIXED_KEYS if isinstance(variant.get(key), list)
        }
        lists = dict(sorted(found.items()))  # names must not change when keys are reordered
        for key, values in lists.items():
            problems += value_problems(name, key, values, schemas.get(key, {}), schema)
        if lists:
            sweeps[name] = lists
            for key, values in lists.items():
                if values:
                    variant[key] = values[0]
                else:  # reported above; the schema's default stands in for it
                    del variant[key]
    return sweeps, problems


def value_token(value: Any) -> str:
    """A value as part of a variant name, spelt as in YAML: 0.0005 → 0p0005, None → null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    text = str(value)
    if isinstance(value, int | float):
        text = f"{value:g}".replace(".", "p").replace("-", "m").replace("+", "")
    return identifier(text) or "empty"


def point_name(base: str, point: dict) -> str:
    return base + "".join(f"_{key}_{value_token(value)}" for key, value in point.items())


def points_of(lists: dict[str, list]) -> list[dict]:
    """Every combination of the swept values, in the order they are written."""
    keys = list(lists)
    return [dict(zip(keys, values)) for values in itertools.product(*lists.values())]


def expand_sweeps(config: dict, sweeps: dict[str, dict[str, list]]) -> list[str]:
    """Replace each swept variant by its points and record them in ``config["sweeps"]``.

    ``sweeps`` comes from :func:`take_sweeps`, after the representatives validated. A name
    that elsewhere refers to a swept variant (``convert.variants``) now means all its points;
    one that must name a single variant (``baseline``, ``init_from``) is an error.
    """
    variants, expanded, record = config["variants"], {}, {}
    for name, variant in variants.items():
        if name not in sweeps:
            expanded[name] = variant
            continue
        points = {point_name(name, point): point for point in points_of(sweeps[name])}
        expanded.update({point: {**variant, **values} for point, values in points.items()})
        record[name] = {"keys": list(sweeps[name]), "points": points}
    problems = _name_clashes(variants, record) + _single_variant_problems(config, record)
    if problems:
        return problems
    config["variants"] = expanded
    config["sweeps"] = {**config.get("sweeps", {}), **record}
    chosen = config.get("convert", {}).get("variants")
    if chosen:
        config["convert"]["variants"] = [
            point
            for name in chosen
            for point in (record[name]["points"] if name in record else [name])
        ]
    return []


def _name_clashes(variants: dict, record: dict) -> list[str]:
    problems, owners = [], {name: name for name in variants if name not in record}
    for base, sweep in record.items():
        for point in sweep["points"]:
            if point in owners:
                problems.append(
                    f"variants.{base}: its sweep point {point!r} has the name of "
                    f"{'variant' if owners[point] == point else 'a point of'} {owners[point]!r}; "
                    "rename one of the variants"
                )
            owners[point] = base
    return problems


def _single_variant_problems(config: dict, record: dict) -> list[str]:
    def fix(base: str) -> str:
        return f"{base!r} is swept; name one of its points: {', '.join(record[base]['points'])}"

    baseline = config.get("baseline")
    named = (
        {"baseline": baseline}
        if isinstance(baseline, str)
        else {f"baseline.{dataset}": name for dataset, name in (baseline or {}).items()}
    )
    for name, variant in config["variants"].items():
        named[f"variants.{name}.init_from"] = variant.get("init_from")
    return [f"{where}: {fix(base)}" for where, base in named.items() if base in record]
