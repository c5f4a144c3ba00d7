"""Names the config may use (variants, data sets, sweep points): letters, digits and underscores."""

from __future__ import annotations

import re


def identifier(text: str) -> str:
    """``text`` with every other character replaced by an underscore, runs of underscores made
    one, and none at either end; empty when nothing is left."""
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", text)).strip("_")
