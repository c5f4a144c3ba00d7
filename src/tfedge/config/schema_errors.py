"""The JSON schema's verdict on a config, as one readable line per problem.

The schema (schemas/config.schema.yaml) describes each key, its type and default. jsonschema
reports where a value fails, in its own terms ("is not valid under any of the given schemas");
this module fills the defaults while checking, picks the errors that point at the cause, and
words each as the field, what is wrong, and what would be accepted.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

from tfedge.names import identifier


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


def schema_problems(config: dict, schema: dict) -> list[str]:
    """Fill the schema's defaults into ``config`` in place; one line per violation, by field."""
    errors = _meant_branches(list(_DefaultingValidator(schema).iter_errors(config)))
    errors.sort(key=field_path)
    return [describe(error) for error in _most_specific(errors)]


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
