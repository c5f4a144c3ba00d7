"""Settings that need an optional extra installed, refused before any job runs rather than by
the report job at the end of the workflow, which is the one that would import it.

Packages are only looked up (importlib.util.find_spec), never imported: Snakemake imports this
package while it parses the workflow, and MLflow takes seconds to import.
"""

from __future__ import annotations

from importlib.util import find_spec


def extra_problems(config: dict) -> list[str]:
    """``tracking.backend: mlflow`` needs MLflow (the ``tracking`` extra)."""
    if config.get("tracking", {}).get("backend") != "mlflow" or find_spec("mlflow") is not None:
        return []
    return [
        "tracking.backend: 'mlflow' needs MLflow, which is not installed here; install it with "
        ".venv/bin/pip install 'tfedge[tracking]' (or pip install mlflow), or set "
        "tracking.backend: none"
    ]
