"""The HTML report: one self-contained file from the report rule's named inputs.

tfedge.report.results reads the inputs by name, each section in tfedge.report.sections
computes its numbers and words its sentences, and report/templates/report.html.j2 lays the
sections out in order, each through its own template. The same sections give the charts and
tables Snakemake's own report shows (tfedge.report.exports). No TensorFlow is needed.
"""

from __future__ import annotations

import logging

from tfedge.files import write_text
from tfedge.report.exports import write_charts, write_tables
from tfedge.report.render import render_report
from tfedge.report.results import Results
from tfedge.report.sections import Section, build_sections
from tfedge.report.sections.environment import provenance

log = logging.getLogger(__name__)


def render(results: Results, template_path: str, sections: list[Section] | None = None) -> str:
    """The report page for ``results``, from the page template at ``template_path``."""
    title = results.config["report"]["title"]
    sections = build_sections(results) if sections is None else sections
    return render_report(template_path, title, provenance(results), sections)


def build_report(
    config: dict,
    inputs: dict[str, str],
    template_path: str,
    answers_path: str,
    output_path: str,
    charts_folder: str,
    tables_folder: str,
) -> Results:
    """Read the results in ``inputs`` (tfedge.paths.report_inputs, by name) and write the
    report, and its charts and tables as files of their own; the results read are returned
    for what else the job does with them (tfedge.tracking)."""
    results = Results(config, inputs, answers_path)
    sections = build_sections(results)
    html = render(results, template_path, sections)
    write_text(output_path, html)
    write_charts(sections, charts_folder)
    write_tables(sections, tables_folder)
    log.info("report written to %s (%d kB)", output_path, len(html) // 1024)
    return results
