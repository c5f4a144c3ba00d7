"""The baseline networks, layer by layer: the homework asks for the quickstart's structure."""

from __future__ import annotations

from tfedge.report.results import Results

ID = "baseline-structure"
TITLE = "The baseline networks"
READS = ("summaries",)


def context(results: Results) -> dict:
    plural = "s" if len(results.baselines) > 1 else ""
    return {
        "heading": f"The baseline network{plural}",
        "networks": [
            {
                "dataset": dataset,
                "variant": name,
                "layers": results.runs[name][0].summary["layers"],
                "params": results.runs[name][0].summary["params"],
            }
            for dataset, name in results.baselines.items()
        ],
    }
