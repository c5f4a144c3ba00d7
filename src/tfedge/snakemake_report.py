"""What Snakemake's own report (`snakemake --report`) shows of tfedge's results, and the labels
a reader finds each by: its kind, the variant, the data set and the format.

The rules mark their outputs with ``report()`` and take the labels from here. Pure Python:
Snakemake imports it while it parses the workflow.
"""

from __future__ import annotations

EVERY_VARIANT, EVERY_DATASET = "every variant", "every data set"

# The charts the report job writes (tfedge.report.exports), as <kind>/<subject>.svg.
CHART_KINDS = {
    "curves": "training curves",
    "formats": "latency per format",
    "deployment": "accuracy against latency",
    "architectures": "ImageNet accuracy against compute",
    "sweeps": "sweep",
}


def dataset_of(config: dict, subject: str) -> str | None:
    """The data set of a variant, or of a sweep's points (every point shares its data set)."""
    variants = config["variants"]
    if subject in variants:
        return variants[subject]["dataset"]
    points = config.get("sweeps", {}).get(subject, {}).get("points", {})
    return next((variants[point]["dataset"] for point in points), None)


def chart_labels(config: dict, chart: str, subject: str) -> dict[str, str]:
    """The labels of chart ``<chart>/<subject>.svg``: what it shows and of which variant."""
    dataset = dataset_of(config, subject)
    return {
        "chart": CHART_KINDS[chart],
        "variant": subject if dataset else EVERY_VARIANT,
        "dataset": dataset or EVERY_DATASET,
    }


def measurement_labels(config: dict, variant: str, fmt: str) -> dict[str, str]:
    """The labels of one format's measurements of one variant (its benchmark record)."""
    return {"variant": variant, "dataset": dataset_of(config, variant), "format": fmt}
