"""The one error every config check raises, with every problem it found listed.

A config is checked in several passes (tfedge.config.validation, tfedge.config.folders); each
collects all its problems first, so one run of the workflow names every field to fix.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """config.yaml is wrong; the message lists each bad field and what it accepts."""

    @classmethod
    def listing(cls, problems: list[str], source: str) -> ConfigError:
        """The error naming the config's ``source`` and each problem on a line of its own."""
        return cls(
            f"{source} is invalid:\n  - " + "\n  - ".join(problems) + "\n"
            "See the config reference in README.md (every key, its type and default)."
        )
