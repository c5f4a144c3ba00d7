"""``python -m tfedge.verify_run``: check every file of a finished run by SHA-256 against the
records of the jobs that wrote it, where a plan checks sizes only (tfedge.integrity).

Its own module, so the jobs, which import tfedge.integrity, do not carry the config checks in
their code digests (an edit there would rerun every job).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tfedge.config.errors import ConfigError
from tfedge.config.validation import validate_config
from tfedge.config_files import read_config_file
from tfedge.integrity import damaged_jobs


def main(argv: Sequence[str] | None = None) -> int:
    """Print each damaged output of the config's jobs; exit 1 if there is one."""
    parser = argparse.ArgumentParser(description="Check a finished run's files by SHA-256.")
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    config_path = parser.parse_args(argv).config
    try:
        config = validate_config(read_config_file(config_path), Path("schemas/config.schema.yaml"))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    damaged = damaged_jobs(config, hash_limit=sys.maxsize)
    for damage in damaged:
        print(f"{damage.output}: {'; '.join(damage.problems)}")
    print(f"{len(damaged)} damaged output(s) in the jobs of {config_path}")
    return 1 if damaged else 0


if __name__ == "__main__":
    sys.exit(main())
