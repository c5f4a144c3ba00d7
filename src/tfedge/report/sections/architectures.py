"""MobileNet vs GoogLeNet/Inception, measured here: parameters, multiply-adds counted from the
graph, layers, batch-1 latency and TFLite size beside the papers' figures."""

from __future__ import annotations

from tfedge.files import read_json
from tfedge.report import plots
from tfedge.report.results import Results

ID = "architectures"
TITLE = "MobileNet vs GoogLeNet/Inception"
READS = ("architectures",)


def _measured(results: Results) -> dict:
    """The measured networks with ratios against MobileNetV2 (the tutorial's backbone)."""
    measured = read_json(results.path("architectures"))
    models = measured["models"]
    reference = next((m for m in models if m["name"] == "mobilenet_v2"), models[0])
    for model in models:
        model["macs_ratio"] = model["macs"] / reference["macs"]
        model["latency_ratio"] = model["latency_p50_ms"] / reference["latency_p50_ms"]
        model["params_ratio"] = model["params"] / reference["params"]
    return {"threads": measured["threads"], "reference": reference["name"], "models": models}


def measured(results: Results) -> dict:
    return results.once("architectures", _measured)


def context(results: Results) -> dict:
    figures = measured(results)
    return {**figures, "chart": plots.accuracy_vs_compute(figures["models"])}
