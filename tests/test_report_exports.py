"""The charts and tables the report job writes for Snakemake's own report, and their labels."""

from __future__ import annotations

import base64
import csv

import pytest

from tfedge.report.exports import write_charts, write_tables
from tfedge.report.sections import build_sections
from tfedge.snakemake_report import EVERY_DATASET, EVERY_VARIANT, chart_labels, measurement_labels

from .helpers import tiny_config, validated
from .report_fakes import write_results


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The tiny config's fake results, their sections, and the files written from them."""
    folder = tmp_path_factory.mktemp("exports")
    config = validated(tiny_config())
    sections = build_sections(write_results(folder, config))
    write_charts(sections, folder / "charts")
    write_tables(sections, folder / "tables")
    return config, {section.id: section.context for section in sections}, folder


def rows(path) -> list[dict]:
    with path.open() as stream:
        return list(csv.DictReader(stream))


def test_every_chart_the_page_shows_is_a_file_of_its_own(exported):
    config, context, folder = exported
    written = {str(path.relative_to(folder / "charts")) for path in folder.rglob("*.svg")}
    expected = {f"curves/{name}.svg" for name in config["variants"]}
    expected |= {f"formats/{name}.svg" for name in config["convert"]["variants"]}
    expected |= {"deployment/all.svg", "architectures/all.svg"}
    expected |= {f"sweeps/{name}.svg" for name in config["sweeps"]}
    assert written == expected
    page_chart = context["deployment"]["chart"].removeprefix("data:image/svg+xml;base64,")
    assert (folder / "charts/deployment/all.svg").read_bytes() == base64.b64decode(page_chart)


def test_the_tables_hold_the_page_s_numbers_by_variant_dataset_and_format(exported):
    config, context, folder = exported
    accuracy = rows(folder / "tables/accuracy.csv")
    assert [row["variant"] for row in accuracy] == list(config["variants"])
    first = context["accuracy"]["rows"][0]
    assert float(accuracy[0]["accuracy_mean"]) == pytest.approx(first["accuracy_mean"])
    formats = rows(folder / "tables/formats.csv")
    expected = [(v, f) for v in config["convert"]["variants"] for f in config["convert"]["formats"]]
    assert [(row["variant"], row["format"]) for row in formats] == expected
    assert {row["dataset"] for row in formats} == {
        config["variants"][v]["dataset"] for v in config["convert"]["variants"]
    }
    rules = {row["rule"] for row in rows(folder / "tables/job_times.csv")}
    assert {"train", "evaluate", "convert"} <= rules


def test_labels_name_the_variant_its_data_set_and_the_format():
    config = validated(tiny_config())
    assert chart_labels(config, "curves", "cnn") == {
        "chart": "training curves", "variant": "cnn", "dataset": "mnist",
    }  # fmt: skip
    assert chart_labels(config, "sweeps", "mlp_batch")["dataset"] == "mnist"  # its points'
    assert chart_labels(config, "deployment", "all") == {
        "chart": "accuracy against latency", "variant": EVERY_VARIANT, "dataset": EVERY_DATASET,
    }  # fmt: skip
    assert measurement_labels(config, "frozen", "onnx_int8") == {
        "variant": "frozen", "dataset": "flowers", "format": "onnx_int8",
    }  # fmt: skip
