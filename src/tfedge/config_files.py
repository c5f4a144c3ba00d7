"""The files a run's config comes from, read with errors that name the file and the line.

The workflow reads ``config.yaml`` unless ``--configfile`` files are given, which it merges in
order instead (the Snakefile decides, so every job of a cluster run does the same). Snakemake's
own YAML error ("Config file is not valid JSON or YAML") names neither file nor line. This
module says which files are in play and checks them itself; ``python -m tfedge.config_files
my.yaml`` is what ``make report CONFIG=my.yaml`` runs before Snakemake. No TensorFlow: it runs
at parse time.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from tfedge.config.errors import ConfigError
from tfedge.config.folders import check_folders
from tfedge.config.validation import validate_config


def read_config_file(path: str | Path) -> dict:
    """The mapping in ``path``; a YAML syntax error names the file, line and column."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
    except yaml.MarkedYAMLError as error:
        raise ConfigError(_syntax_error(path, error)) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a config is a YAML mapping of keys (seeds:, datasets:, variants:, …), "
            f"not {type(data).__name__}"
        )
    return data


def _syntax_error(path: str | Path, error: yaml.MarkedYAMLError) -> str:
    """``file, line L, column C: problem (while parsing X started at line K)``."""
    mark, context = error.problem_mark, error.context_mark
    where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
    reason = error.problem or "unreadable YAML"
    if error.context:
        started = f" started at line {context.line + 1}" if context else ""
        reason += f" ({error.context}{started})"
    return (
        f"{where}: not valid YAML: {reason}. Check the indentation (spaces, no tabs) and "
        "that brackets and quotes are closed."
    )


def config_sources(workflow_file: str, command_line_files: Sequence[str | Path]) -> list[str]:
    """The config files in the order they are merged (later files win)."""
    return [_shown(Path(path)) for path in command_line_files] or [workflow_file]


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when below it; Snakemake makes it absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def describe_sources(files: Sequence[str], command_line_values: bool = False) -> str:
    """``my.yaml`` or ``config.yaml with my.yaml merged over it``, for error messages."""
    text = files[0]
    if len(files) > 1:
        text += f" with {', '.join(files[1:])} merged over it"
    return text + (" and --config values" if command_line_values else "")


def merged(base: dict, update: dict) -> dict:
    """``update`` merged over ``base`` key by key, nested mappings too (as Snakemake merges)."""
    result = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            value = merged(result[key], value)
        result[key] = value
    return result


def check_files(paths: Sequence[str | Path], schema: str | Path) -> dict:
    """Read and validate ``paths`` merged in order, as the workflow merges ``--configfile``s,
    and check that every image folder they name exists here."""
    config: dict = {}
    for path in paths:
        config = merged(config, read_config_file(path))
    source = describe_sources([str(p) for p in paths])
    validate_config(config, schema, source=source)
    check_folders(config, source)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check config files before a run.")
    parser.add_argument("configs", nargs="+", type=Path, help="config files, merged in order")
    parser.add_argument("--schema", type=Path, default=Path("schemas/config.schema.yaml"))
    arguments = parser.parse_args(argv)
    try:
        check_files(arguments.configs, arguments.schema)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
