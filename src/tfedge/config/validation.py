"""validate_config: the passes a config goes through before the workflow plans a job, in order.

The values must be finite and bounded before anything walks them (tfedge.config.values). A
sweep's list is replaced by its first value so the schema checks the rest of the variant and
fills its defaults (tfedge.config.schema_errors); the sweep is expanded only then, and the
cross-field checks read the expanded variants (tfedge.config.cross_field), beside the check
that settings needing an optional extra have it installed (tfedge.config.extras). The first pass
that finds problems raises them all at once (ConfigError), so one run names every field to fix.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tfedge.config.cross_field import cross_field_problems
from tfedge.config.errors import ConfigError
from tfedge.config.extras import extra_problems
from tfedge.config.schema_errors import schema_problems
from tfedge.config.values import number_problems
from tfedge.sweeps import expand_sweeps, take_sweeps


def validate_config(config: dict, schema_path: str | Path, source: str = "config.yaml") -> dict:
    """Fill defaults into ``config`` in place and raise ConfigError listing every problem.

    Variants that give a list for a setting are replaced by one variant per value (see
    tfedge.sweeps); ``config["sweeps"]`` records which, for the report's curves.

    ``source`` names the file(s) the config came from, for the error's first line.
    """
    problems = number_problems(config, source)
    if problems:
        raise ConfigError.listing(problems, source)
    schema = yaml.safe_load(Path(schema_path).read_text())
    recorded_sweeps = config.pop("sweeps", {})  # a config validated before keeps its record
    sweeps, problems = take_sweeps(config, schema)
    problems += schema_problems(config, schema)
    config["sweeps"] = recorded_sweeps
    if not problems:
        problems = expand_sweeps(config, sweeps)
    if not problems:
        problems = cross_field_problems(config) + extra_problems(config)
    if problems:
        raise ConfigError.listing(problems, source)
    return config
