"""A walk over every value of the config as YAML read it, before anything else reads it.

JSON Schema has no word for ``.nan`` or ``.inf``, and YAML aliases can make a short file hold
billions of values, which every later check would walk; this pass bounds both.
"""

from __future__ import annotations

import math

from tfedge.config.errors import ConfigError

# Far more values than any experiment has (the shipped config has about 150).
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
