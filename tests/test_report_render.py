"""The report template escapes what it is given and refers to nothing outside the file."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from tfedge.config import baselines
from tfedge.report.collect import (
    Run,
    add_comparisons,
    baseline_networks,
    load_answers,
    reference_of,
    variant_row,
)
from tfedge.report.render import p_value, percent, render_report
from tfedge.report.sweeps import sweeps_context

from .conftest import ROOT, table_html, tiny_config, validated

TEMPLATE = ROOT / "report" / "templates" / "report.html.j2"
EVIL = "<script>alert('x')</script>"
LAYERS = [{"name": "dense", "type": "Dense", "output_shape": "(None, 10)", "params": 10}]


def minimal_context(**overrides) -> dict:
    manifest = {
        "source_requested": "auto",
        "source_used": "bundled",
        "reason": f"offline {EVIL}",
        "class_names": ["0", "1"],
        "image_size": 28,
        "channels": 1,
        "splits": {split: {"count": 5} for split in ("train", "validation", "test")},
        "images": {"checked": 15, "converted": 0, "skipped": [], "on_bad_image": "skip"},
        "ignored_files": {"count": 0, "by_suffix": {}, "examples": []},
        "nested_images": 0,
    }
    row = {
        "variant": EVIL,
        "dataset": "mnist",
        "model": "mlp",
        "source_used": "bundled",
        "params": 101770,
        "epochs": 5,
        "best_epochs": [4],
        "train_seconds": 12.345,
        "accuracy_mean": 0.97531,
        "accuracy_std": 0.0,
        "loss_mean": 0.1,
        "seeds": [0],
        "comparison": None,
        "sentence": None,
        "backbone": None,
        "backbone_reason": None,
        "unfrozen": False,
        "features_cached": False,
        "trainable_params": 101770,
        "batch_sizes": [32],
        "ran_out": [],
        "peak_memory_mb": 900.0,
    }
    context = {
        "title": "t",
        "baselines": {"mnist": EVIL},
        "baseline_networks": [
            {"dataset": "mnist", "variant": EVIL, "layers": LAYERS, "params": 10}
        ],
        "alpha": 0.05,
        "seeds": [0],
        "rows": [row],
        "figures": {},
        "datasets": {"mnist": manifest},
        "stand_ins": {"mnist": manifest},
        "backbone_fallbacks": [],
        "answers": load_answers(ROOT / "report" / "answers.md"),
        "conversions": [],
        "sweeps": [],
        "architectures": {"threads": 2, "reference": "mobilenet_v2", "models": [], "chart": ""},
        "measured_notes": {},
        "job_times": {
            "rules": [],
            "jobs": [],
            "total_seconds": 0.0,
            "peak_mb": 0.0,
            "chain": [],
            "chain_seconds": 0.0,
        },
        "tolerance": 0.01,
        "training_tensorflow": ["2.21.0"],
        "provenance": {
            "generated": "now",
            "git_commit": "abc",
            "config_hash": "123",
            "python": "3",
            "platform": "p",
            "cpu": "c",
            "cores": 2,
            "packages": {"tensorflow": "2.21.0"},
        },
    }
    context.update(overrides)
    return context


def test_values_from_results_are_escaped():
    html = render_report(TEMPLATE, minimal_context())
    assert EVIL not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_skipped_and_unused_files_are_listed_in_the_provenance():
    context = minimal_context()
    manifest = context["datasets"]["mnist"]
    assert 'id="data-checks-mnist"' not in render_report(TEMPLATE, context)
    manifest["images"].update(
        converted=2, skipped=[{"file": f"cats/{EVIL}.jpg", "reason": "Invalid JPEG data"}]
    )
    manifest["ignored_files"] = {
        "count": 3,
        "by_suffix": {".txt": 2, "(hidden)": 1},
        "examples": ["README.txt"],
    }
    manifest["nested_images"] = 4
    html = render_report(TEMPLATE, context)
    checks = html.split('id="data-checks-mnist"')[1].split("</details>")[0]
    assert "15 decoded, 2 converted, 1 skipped" in html
    assert "4 images came from folders below the class folders" in checks
    assert "2 × .txt, 1 × (hidden)" in checks and "<code>README.txt</code>" in checks
    assert "1 unreadable file skipped" in checks
    assert "cats/&lt;script&gt;" in checks and "Invalid JPEG data" in checks


def test_environment_names_the_training_jobs_tensorflow_apart_from_the_report_job():
    """With conda or containers per rule group the report job may not carry TensorFlow."""
    context = minimal_context(training_tensorflow=["2.20.1", "2.21.0"])
    context["provenance"]["packages"] = {"tensorflow": "not installed"}
    table = render_report(TEMPLATE, context).split('id="environment-table"')[1]
    assert "TensorFlow in the training jobs</th><td>2.20.1, 2.21.0</td>" in table
    assert "report job" in table


def test_offline_banner_shows_only_when_a_stand_in_was_used():
    assert 'id="offline-banner"' in render_report(TEMPLATE, minimal_context())
    assert 'id="offline-banner"' not in render_report(TEMPLATE, minimal_context(stand_ins={}))
    fallback = {**minimal_context()["rows"][0], "backbone": "lite (efficientnet_lite0_bundled)"}
    fallback["backbone_reason"] = "auto fell back to the bundled EfficientNet-Lite0: offline"
    html = render_report(TEMPLATE, minimal_context(stand_ins={}, backbone_fallbacks=[fallback]))
    assert 'id="offline-banner"' in html and "auto fell back to the bundled" in html


def test_offline_banner_is_one_sentence_with_the_details_folded_below():
    banner = render_report(TEMPLATE, minimal_context()).split('id="offline-banner">')[1]
    headline, details = banner.split("</div>")[0].split("<details>")
    sentence = " ".join(re.sub(r"<[^>]+>", "", headline).split())
    assert re.fullmatch(r"Offline run: stand-in data replaced [^.]*\.", sentence), sentence
    assert "offline &lt;script&gt;" in details and "Accuracies below are measured" in details
    assert details.rstrip().endswith("</details>")


def accuracy_cell(html: str) -> str:
    return re.search(r'<td class="num accuracy"[^>]*>(.*?)</td>', html).group(1)


def test_one_seed_shows_the_value_and_n_without_a_zero_spread():
    html = render_report(TEMPLATE, minimal_context())
    assert accuracy_cell(html) == "97.53 (n = 1)"
    assert "± 0.00" not in html and "<th>Test accuracy (%)</th>" in html


def test_several_seeds_show_mean_and_spread_and_n_even_when_the_spread_is_zero():
    row = minimal_context()["rows"][0]
    for std, cell in ((0.01234, "97.53 ± 1.23"), (0.0, "97.53 ± 0.00")):
        rows = [{**row, "seeds": [0, 1, 2], "accuracy_std": std}]
        html = render_report(TEMPLATE, minimal_context(seeds=[0, 1, 2], rows=rows))
        assert accuracy_cell(html) == cell
        assert "<th>Test accuracy (%, mean ± std, n = 3)</th>" in html


class TableBoxes(HTMLParser):
    """Each table's id or class, and whether an element around it has the class ``wide``."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"}

    def __init__(self):
        super().__init__()
        self.open, self.tables = [], {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table":
            name = attributes.get("id") or attributes.get("class")
            self.tables[name] = any(wide for _, wide in self.open)
        if tag not in self.VOID:
            self.open.append((tag, "wide" in (attributes.get("class") or "").split()))

    def handle_endtag(self, tag):
        tags = [name for name, _ in self.open]
        if tag in tags:
            del self.open[len(tags) - 1 - tags[::-1].index(tag) :]


def every_table_context() -> dict:
    """A context that fills every table the template can draw."""
    model = {
        "name": "mobilenet_v2", "input_size": 224, "params": 3.5e6, "macs": 3e8, "layers": 105,
        "latency_p50_ms": 17.3, "latency_p50_interval_ms": [16.9, 17.8], "tflite_fp32_bytes": 1.4e7,
        "params_ratio": 1.0, "macs_ratio": 1.0, "latency_ratio": 1.0,
        "published": {"params": 3.4e6, "macs": 3e8, "top1": 72.0, "citation": "Sandler et al."},
    }  # fmt: skip
    per_class = [{"class": "0", "precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 5}]
    job = {"rule": "train", "job": "cnn seed0", "seconds": 9.0, "cpu_seconds": 8.0, "peak_mb": 9.0}
    context = minimal_context(
        figures={
            "cnn": {"curves": "", "confusion": "", "misclassified": "", "misclassified_total": 0,
                    "per_class": per_class},
        },
        conversions=[
            {"variant": "cnn", "seed": 0, "reference_accuracy": 0.95, "chart": "",
             "rows": [conversion_row("savedmodel", 1.0)]},
        ],
        architectures={"threads": 2, "reference": "mobilenet_v2", "chart": "", "models": [model]},
        job_times={
            "rules": [{**job, "jobs": 1, "longest": 9.0}], "jobs": [job], "chain": [],
            "total_seconds": 9.0, "chain_seconds": 9.0, "peak_mb": 9.0,
        },
    )  # fmt: skip
    context["rows"][0]["backbone"] = "mobilenet_v2 (hub)"
    context["datasets"]["mnist"]["images"]["skipped"] = [{"file": "a.jpg", "reason": "truncated"}]
    return context


def test_every_table_scrolls_in_a_wide_box():
    """A table wider than the screen scrolls inside its box instead of widening the page."""
    parser = TableBoxes()
    parser.feed(render_report(TEMPLATE, every_table_context()))
    assert set(parser.tables) == {
        "datasets-table", "skipped-images", "backbones-table", "accuracy-table",
        f"baseline-layers-{EVIL}", "per-class", "conversions-cnn", "architectures-table",
        "rule-times", "job-times-table", "environment-table",
    }  # fmt: skip
    assert [name for name, wide in parser.tables.items() if not wide] == []


def test_the_four_answers_are_rendered_with_sources():
    answers = load_answers(ROOT / "report" / "answers.md")
    assert len(answers) == 4
    assert all("Sources:" in answer["html"] for answer in answers)
    html = render_report(TEMPLATE, minimal_context())
    for question in ("What is TensorFlow", "What is TensorRT", "What is ImageNet", "MobileNet"):
        assert question in html
    assert "14,197,122" in html and "1,281,167" in html


def test_measured_notes_go_under_the_answer_with_their_id():
    notes = {"mobilenet": "Measured here: GoogLeNet has 2.0x", "tensorrt": "Measured here: tflite"}
    html = render_report(TEMPLATE, minimal_context(measured_notes=notes))
    sections = {
        match.group(1): match.group(2)
        for match in re.finditer(r'<section id="answer-(\w+)">(.*?)</section>', html, re.DOTALL)
    }
    assert list(sections) == ["tensorflow", "tensorrt", "imagenet", "mobilenet"]
    assert "GoogLeNet has 2.0x" in sections["mobilenet"] and "tflite" in sections["tensorrt"]
    assert "Measured here" not in sections["tensorflow"] + sections["imagenet"]


def test_a_question_without_an_id_is_named(tmp_path):
    answers = tmp_path / "answers.md"
    answers.write_text("# Answers\n\n## What is TensorFlow?\n\nA library.\n")
    with pytest.raises(ValueError, match=r"answers.md:3: a question needs an id"):
        load_answers(answers)


def test_no_external_resources():
    html = render_report(TEMPLATE, minimal_context())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html


def test_number_formats():
    assert percent(0.97531) == "97.53" and percent(None) == "—"
    assert p_value(0.0123) == "0.012" and p_value(2e-9) == "2.00e-09"


def test_comparison_sentences_follow_the_numbers():
    from tfedge.report.collect import comparison_sentence

    def sentence(accuracy, beats, unfrozen=False, source_used="tfds"):
        comparison = {
            "reference": "mlp", "reference_accuracy": 0.90, "difference": accuracy - 0.90,
            "worst_p": 0.001 if beats else 0.3, "beats": beats,
        }  # fmt: skip
        row = {"variant": "cnn", "accuracy_mean": accuracy, "unfrozen": unfrozen,
               "source_used": source_used}  # fmt: skip
        return comparison_sentence({**row, "comparison": comparison}, 0.05)

    assert sentence(0.95, True).startswith("cnn beats mlp: 95.00 % vs 90.00 % (+5.00 points")
    assert sentence(0.91, False).endswith("but not significantly.")
    assert sentence(0.89, False).startswith("cnn does not beat mlp")
    assert sentence(0.95, True, unfrozen=True).startswith("Unfreezing helped: cnn 95.00 % vs mlp")
    assert sentence(0.89, False, unfrozen=True).startswith("Unfreezing did not help")
    caveat = "On the offline stand-in data this run cannot show the homework's gain"
    assert caveat in sentence(0.91, False, unfrozen=True, source_used="bundled")
    assert caveat not in sentence(0.91, False, unfrozen=True, source_used="tfds")
    assert caveat not in sentence(0.95, True, unfrozen=True, source_used="bundled")


def test_names_are_drawn_as_written_not_as_maths():
    """A class folder named ``a$^$b`` once crashed the report: matplotlib read it as TeX."""
    import base64

    from tfedge.report import plots

    names = ["a$^$b", "x_1$", "$\\alpha$"]
    uri = plots.confusion_matrix([[1, 0, 0], [0, 1, 0], [0, 0, 1]], names, "v$1$ (seed 0)")
    svg = base64.b64decode(uri.split(",", 1)[1]).decode()
    for text in [*names, "v$1$ (seed 0)"]:
        assert text in svg, text


def config_with(baseline) -> dict:
    """The tiny config plus ``frozen_small``, a flowers variant without init_from."""
    config = tiny_config()
    config["variants"]["frozen_small"] = {**config["variants"]["frozen"], "epochs": 1}
    config["baseline"] = baseline
    return validated(config)


def test_init_from_comes_before_the_datasets_baseline():
    variants = config_with("frozen")["variants"]
    per_dataset = {"mnist": "cnn", "flowers": "frozen_small"}
    assert reference_of("finetuned", variants, per_dataset) == "frozen"
    assert reference_of("frozen", variants, per_dataset) == "frozen_small"
    assert reference_of("mlp_baseline", variants, per_dataset) == "cnn"
    assert reference_of("cnn", variants, per_dataset) is None
    assert reference_of("cnn", variants, {"flowers": "frozen_small"}) is None


def fake_run(variant: str, seed: int, share_correct: float) -> Run:
    """A run whose first ``share_correct`` of 200 test images are right."""
    labels = np.zeros(200, dtype=int)
    predicted = (np.arange(200) >= 200 * share_correct).astype(int)
    summary = {
        "features_cached": False, "params": 10, "trainable_params": 10, "epochs_run": 1,
        "best_epoch": 1, "batch_size": 32, "peak_memory_mb": 1.0,
        "attempts": [{"batch_size": 32, "ended": "completed", "how": "completed"}],
        "train_seconds": 1.0, "layers": [{**LAYERS[0], "name": f"{variant}_dense"}],
    }  # fmt: skip
    return Run(
        variant=variant,
        seed=seed,
        summary=summary,
        metrics={"test_accuracy": share_correct, "test_loss": 0.1},
        history=pd.DataFrame(),
        predictions={"labels": labels, "predicted": predicted},
    )


def report_of(config: dict) -> tuple[list[dict], str]:
    """Rows with comparisons, and the rendered report, from fake runs: baselines 60 % right."""
    variants, per_dataset = config["variants"], baselines(config)
    share = {name: 0.6 if name in per_dataset.values() else 0.9 for name in variants}
    runs = {name: [fake_run(name, seed, share[name]) for seed in (0, 1)] for name in variants}
    manifest = minimal_context()["datasets"]["mnist"]
    rows = [variant_row(name, variant, runs[name], manifest) for name, variant in variants.items()]
    add_comparisons(rows, variants, runs, per_dataset, alpha=0.05)
    context = minimal_context(
        rows=rows,
        datasets={"mnist": manifest, "flowers": manifest},
        baselines=per_dataset,
        baseline_networks=baseline_networks(per_dataset, runs),
    )
    return rows, render_report(TEMPLATE, context)


MLP_BATCH_POINTS = ("mlp_batch_batch_size_16", "mlp_batch_batch_size_64")  # the tiny sweep


def test_each_dataset_is_compared_with_its_own_baseline():
    rows, html = report_of(config_with({"mnist": "mlp_baseline", "flowers": "frozen"}))
    references = {row["variant"]: (row["comparison"] or {}).get("reference") for row in rows}
    assert references == {
        "mlp_baseline": None, "cnn": "mlp_baseline",
        "frozen": None, "finetuned": "frozen", "frozen_small": "frozen",
        **{point: "mlp_baseline" for point in MLP_BATCH_POINTS},
    }  # fmt: skip
    assert "cnn beats mlp_baseline: 90.00 % vs 60.00 %" in html
    assert "frozen_small beats frozen: 90.00 % vs 60.00 %" in html
    assert "<strong>mlp_baseline</strong> on mnist, <strong>frozen</strong> on flowers" in html
    assert table_html(html, "accuracy-table").count("(baseline)") == 2
    assert 'id="baseline-layers-mlp_baseline"' in html and "mlp_baseline_dense" in html
    assert 'id="baseline-layers-frozen"' in html and "frozen_dense" in html


def test_a_dataset_left_out_of_the_mapping_gets_no_comparison():
    rows, html = report_of(config_with({"flowers": "frozen"}))
    compared = {row["variant"] for row in rows if row["comparison"]}
    assert compared == {"finetuned", "frozen_small"}
    assert table_html(html, "accuracy-table").count("(baseline)") == 1
    assert 'id="baseline-layers-frozen"' in html and "frozen_dense" in html
    assert "mlp_baseline_dense" not in html


def test_one_baseline_name_still_compares_its_dataset_only():
    rows, html = report_of(config_with("mlp_baseline"))
    compared = {row["variant"] for row in rows if row["comparison"]}
    assert compared == {"cnn", "finetuned", *MLP_BATCH_POINTS}
    assert 'id="baseline-layers-mlp_baseline"' in html and 'id="baseline-layers-frozen"' not in html


def conversion_row(fmt: str, speedup, low=None, high=None, fastest=False) -> dict:
    """A conversion table row as tfedge.report.collect.conversion_rows leaves it."""
    measurable = low is not None and not low <= 1 <= high
    return {
        "format": fmt, "status": "ok", "reason": None, "size_bytes": 1000, "threads": 2,
        "test_accuracy": 0.95, "agreement": 0.99, "throughput_images_per_s": 100.0,
        "latency_batch1": {"p50_ms": 1.0, "p95_ms": 1.2, "mean_ms": 1.0},
        "accuracy_drop": 0.0, "flagged": False, "fastest": fastest, "speedup": speedup,
        "speedup_low": low, "speedup_high": high, "speedup_measurable": measurable,
    }  # fmt: skip


def speedup_cells(rows: list[dict]) -> tuple[dict[str, str], str]:
    """Each format's speed-up cell, and the whole conversions section, as rendered."""
    conversions = [
        {"variant": "cnn", "seed": 0, "reference_accuracy": 0.95, "rows": rows, "chart": ""}
    ]
    html = render_report(TEMPLATE, minimal_context(conversions=conversions))
    section = html[html.index('id="conversions"') : html.index('id="architectures"')]
    cells = re.findall(r"<td>(\w+).*?<td class=\"num speedup\">(.*?)</td>", section, re.DOTALL)
    return dict(cells), section


def test_speed_ups_show_their_interval_and_claim_only_what_it_supports():
    cells, section = speedup_cells(
        [
            conversion_row("savedmodel", 1.0),
            conversion_row("tflite_fp32", 1.8, 1.6, 2.0, fastest=True),
            conversion_row("onnx", 1.02, 0.91, 1.09),
            conversion_row("tflite_int8", 4.0),
            {"format": "tensorrt_fp16", "status": "skipped", "reason": "no CUDA device"},
        ]
    )
    assert cells == {
        "savedmodel": "1 (reference)",
        "tflite_fp32": "1.80× (1.60–2.00)",
        "onnx": "no measurable difference (0.91–1.09)",
        "tflite_int8": "4.00× (no interval: re-run the benchmark)",
    }
    assert section.count("fastest within tolerance</strong>") == 1
    assert re.search(r"tflite_fp32 <strong class=\"yes\">fastest within tolerance", section)
    assert "Speed-up vs SavedModel (×, 95 % interval)" in section
    assert "95 % bootstrap interval over the timed runs" in section
    assert "skipped: no CUDA device" in section


def test_no_row_is_highlighted_without_a_measurable_winner():
    cells, section = speedup_cells(
        [conversion_row("savedmodel", 1.0), conversion_row("onnx", 1.02, 0.91, 1.09)]
    )
    assert cells["onnx"] == "no measurable difference (0.91–1.09)"
    assert "fastest within tolerance</strong>" not in section
    assert 'class="fastest' not in section


def test_a_sweep_renders_its_table_sentence_and_curve():
    config = validated(tiny_config())  # the tiny config sweeps mlp_batch's batch size
    runs = {name: [fake_run(name, seed, 0.9) for seed in (0, 1)] for name in config["variants"]}
    for name, size in zip(MLP_BATCH_POINTS, (16, 64)):
        for run in runs[name]:
            run.summary.update(
                batch_size_requested=size, batch_size=size, images_per_second=size / 4,
                peak_tensor_memory_mb=2.0 * size, memory_available_mb=2000.0, memory_limit_mb=None,
            )  # fmt: skip
    html = render_report(TEMPLATE, minimal_context(sweeps=sweeps_context(config, runs, 0.05)))
    rows = table_html(html, "sweep-table-mlp_batch")
    assert rows.index("mlp_batch_batch_size_16") < rows.index("mlp_batch_batch_size_64")
    assert "90.00 (90.00–90.00)" in rows and "16.0" in rows and "128" in rows
    assert "batch 64 trains 4.00× as fast as batch 16 (16 against 4 images/s)" in html
    assert 'href="#sweeps"' in html and 'alt="mlp_batch sweep"' in html
    assert "2,000 MB were available" in html


def test_no_sweep_no_section():
    assert 'id="sweeps"' not in render_report(TEMPLATE, minimal_context())
