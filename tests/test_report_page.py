"""The report page: sections in order, escaped, self-contained, every table in a scrolling box."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tfedge.report import plots, render
from tfedge.report.render import p_value, percent
from tfedge.report.sections import SECTIONS, build_sections

from .helpers import ROOT, table_html, tiny_config, validated
from .report_fakes import bench, manifest, write_results

TEMPLATE = ROOT / "report" / "templates" / "report.html.j2"
EVIL = "<script>alert('x')</script>"


def page(tmp_path, config=None, **results) -> str:
    return render(write_results(tmp_path, config or validated(tiny_config()), **results), TEMPLATE)


@pytest.fixture
def unsaved_figures(monkeypatch):
    """Figures drawn but not saved as SVG, which is most of a page's render time. For the
    tests that read a page's text and structure; ``default_page`` keeps its figures whole."""

    def placeholder(figure) -> str:
        plots.plt.close(figure)
        return "data:image/svg+xml;base64,"

    monkeypatch.setattr(plots, "svg_data_uri", placeholder)


@pytest.fixture(scope="module")
def default_page(tmp_path_factory) -> str:
    """The page of the tiny config's results as report_fakes writes them."""
    return page(tmp_path_factory.mktemp("page"))


def test_every_section_renders_in_order_under_its_heading_and_in_the_contents(default_page):
    html = default_page
    titled = [module for module in SECTIONS if module.TITLE]
    headings = re.findall(r'<h2 id="([\w-]+)">', html)
    assert headings == ["contents", *(module.ID for module in titled)]
    contents = html.split('id="contents"')[1].split("</nav>")[0]
    assert re.findall(r'href="#([\w-]+)"', contents) == [module.ID for module in titled]


def test_a_section_with_nothing_to_show_is_left_out(tmp_path, unsaved_figures):
    config = validated(tiny_config())
    del config["sweeps"], config["variants"]["mlp_batch_batch_size_16"]
    del config["variants"]["mlp_batch_batch_size_64"]
    results = write_results(tmp_path, config)
    assert "sweeps" not in [section.id for section in build_sections(results)]
    assert 'id="sweeps"' not in render(results, TEMPLATE)


def test_values_from_results_are_escaped(tmp_path, unsaved_figures):
    skipped = [{"file": f"cats/{EVIL}.jpg", "reason": "Invalid JPEG data"}]
    data = manifest("mnist", reason=f"offline {EVIL}")
    data["images"]["skipped"] = skipped
    html = page(tmp_path, manifests={"mnist": data, "flowers": manifest("flowers")})
    assert EVIL not in html
    assert "offline &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "cats/&lt;script&gt;" in table_html(html, "data-checks-mnist")


def test_no_external_resources(default_page):
    html = default_page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html


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


def test_every_table_scrolls_in_a_wide_box(tmp_path, unsaved_figures):
    """A table wider than the screen scrolls inside its box instead of widening the page."""
    data = manifest("mnist")
    data["images"]["skipped"] = [{"file": "a.jpg", "reason": "truncated"}]
    backbone = {"name": "lite", "source": "bundled", "reason": "bundled"}
    parser = TableBoxes()
    parser.feed(
        page(
            tmp_path,
            manifests={"mnist": data, "flowers": manifest("flowers")},
            summaries={"frozen": {"backbone": backbone}},
        )
    )
    assert {
        "datasets-table", "skipped-images", "backbones-table", "accuracy-table",
        "sweep-table-mlp_batch", "per-class", "conversions-cnn", "architectures-table",
        "rule-times", "job-times-table", "environment-table",
    } <= set(parser.tables)  # fmt: skip
    assert [name for name, wide in parser.tables.items() if not wide] == []


def accuracy_cells(html: str) -> list[str]:
    return re.findall(
        r'<td class="num accuracy"[^>]*>(.*?)</td>', table_html(html, "accuracy-table")
    )


def test_accuracy_shows_mean_and_spread_over_seeds_or_n_for_one(
    default_page, tmp_path, unsaved_figures
):
    several = default_page
    assert '<td class="num">2.5</td>' in table_html(several, "accuracy-table")  # M multiply-adds
    assert accuracy_cells(several)[0] == "60.00 ± 0.00"
    assert "<th>Test accuracy (%, mean ± std, n = 2)</th>" in several
    config = validated(tiny_config())
    config["seeds"] = [0]
    one = page(tmp_path, config)
    assert accuracy_cells(one)[0] == "60.00 (n = 1)" and "± 0.00" not in table_html(
        one, "accuracy-table"
    )


def test_speed_ups_render_with_their_interval_or_as_no_difference(tmp_path, unsaved_figures):
    config = validated(tiny_config())
    config["convert"]["formats"] = ["savedmodel", "tflite_fp32", "onnx", "tensorrt_fp16"]
    skipped = {"variant": "cnn", "format": "tensorrt_fp16", "status": "skipped", "reason": "no GPU"}
    benchmarks = {
        ("cnn", "savedmodel"): bench("cnn", "savedmodel", p50=4.0),
        ("cnn", "tflite_fp32"): bench("cnn", "tflite_fp32", p50=1.0),
        ("cnn", "onnx"): bench("cnn", "onnx", p50=3.9),
        ("cnn", "tensorrt_fp16"): skipped,
    }
    table = table_html(page(tmp_path, config, benchmarks=benchmarks), "conversions-cnn")
    cells = dict(re.findall(r"<td>(\w+).*?<td class=\"num speedup\">(.*?)</td>", table, re.DOTALL))
    assert cells["savedmodel"] == "1 (reference)"
    assert re.fullmatch(r"4\.00× \(3\.\d\d–4\.\d\d\)", cells["tflite_fp32"])
    assert cells["onnx"].startswith("no measurable difference")
    assert table.count("fastest within tolerance</strong>") == 1
    assert "skipped: no GPU" in table


def test_the_answers_carry_the_measured_notes_under_their_own_question(default_page):
    html = default_page
    answers = {
        match.group(1): match.group(2)
        for match in re.finditer(r'<section id="answer-(\w+)">(.*?)</section>', html, re.DOTALL)
    }
    assert list(answers) == ["tensorflow", "tensorrt", "imagenet", "mobilenet"]
    assert "Measured here" in answers["mobilenet"] and "Measured here" in answers["tensorrt"]
    assert "Measured here" not in answers["tensorflow"] + answers["imagenet"]
    assert "14,197,122" in answers["imagenet"]


def test_the_offline_banner_is_one_sentence_with_the_details_folded_below(default_page):
    banner = default_page.split('id="offline-banner">')[1]
    headline, details = banner.split("</div>")[0].split("<details>")
    sentence = " ".join(re.sub(r"<[^>]+>", "", headline).split())
    assert re.fullmatch(r"Offline run: stand-in data replaced [^.]*\.", sentence), sentence
    assert details.rstrip().endswith("</details>")


def test_environment_names_the_training_jobs_tensorflow_apart_from_the_report_job(default_page):
    table = table_html(default_page, "environment-table")
    assert "TensorFlow in the training jobs</th><td>2.21.0</td>" in table
    assert "report job" in table


def test_number_formats():
    assert percent(0.97531) == "97.53" and percent(None) == "—"
    assert p_value(0.0123) == "0.012" and p_value(2e-9) == "2.00e-09"


def test_names_are_drawn_as_written_not_as_maths():
    """A class folder named ``a$^$b`` once crashed the report: matplotlib read it as TeX."""
    import base64

    from tfedge.report import plots

    names = ["a$^$b", "x_1$", "$\\alpha$"]
    uri = plots.confusion_matrix([[1, 0, 0], [0, 1, 0], [0, 0, 1]], names, "v$1$ (seed 0)")
    svg = base64.b64decode(uri.split(",", 1)[1]).decode()
    for text in [*names, "v$1$ (seed 0)"]:
        assert text in svg, text


def test_every_section_reads_only_inputs_the_rule_declares(tmp_path):
    """What a section says it reads is among the rule's inputs, and every input is read."""
    results = write_results(tmp_path, validated(tiny_config()))
    kinds = {name.split("/")[0] for name in results.inputs} | {"answers"}
    read = {kind for module in SECTIONS for kind in module.READS}
    assert read == kinds


def svg_texts(html: str) -> dict[str, list[str]]:
    """Every figure's alt text → the text elements its SVG draws."""
    import base64

    figures = re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]*)"', html)
    return {
        alt: re.findall(r"<text[^>]*>([^<]*)</text>", base64.b64decode(data).decode())
        for data, alt in figures
    }


def test_every_chart_draws_plain_text_log_ticks_included(default_page):
    """With TeX maths off for users' names, matplotlib's own log-axis labels printed raw
    ($\\mathdefault{10^{-1}}$); every SVG's text must be plain."""
    texts = svg_texts(default_page)
    log_axes = ("Test accuracy against batch-1 latency", "ImageNet top-1 against multiply-adds")
    assert all(any(alt.startswith(chart) for alt in texts) for chart in log_axes), list(texts)
    for alt, drawn in texts.items():
        assert not [text for text in drawn if "\\" in text or "$" in text], alt
    for chart in log_axes:
        drawn = next(drawn for alt, drawn in texts.items() if alt.startswith(chart))
        assert [text for text in drawn if re.fullmatch(r"[0-9.]+", text)], (chart, drawn)
