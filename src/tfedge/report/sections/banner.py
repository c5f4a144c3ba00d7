"""The offline banner: which data sets and backbones stood in for what the tutorials download.

Shown above the contents, and only when something stood in, so a reader never takes a
stand-in's accuracy for the tutorial's.
"""

from __future__ import annotations

from tfedge.report.results import Results
from tfedge.report.sections import accuracy

ID = "offline-banner"
TITLE = None  # not a numbered section
READS = accuracy.READS


def context(results: Results) -> dict | None:
    stand_ins = {
        name: manifest
        for name, manifest in results.manifests.items()
        if manifest["source_used"] == "bundled"
    }
    fallbacks = [
        row
        for row in accuracy.rows(results)
        if (row["backbone_reason"] or "").startswith("auto fell back")
    ]
    if not stand_ins and not fallbacks:
        return None
    return {"stand_ins": stand_ins, "backbone_fallbacks": fallbacks}
