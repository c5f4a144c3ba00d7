"""What the rules and the report derive from a validated config: stable params, its fingerprint,
each data set's baseline. Pure, like the rest of tfedge.config: Snakemake imports it while it
parses the workflow.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


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


def baselines(config: dict) -> dict[str, str]:
    """Each dataset's baseline variant, the one its other variants are tested against.

    ``baseline`` is one variant name (it serves its own dataset) or a mapping dataset:
    variant; datasets it leaves out get no baseline. ``config`` must be valid.
    """
    baseline = config["baseline"]
    if isinstance(baseline, str):
        return {config["variants"][baseline]["dataset"]: baseline}
    return dict(baseline)
