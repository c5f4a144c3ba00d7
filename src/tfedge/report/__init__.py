"""The HTML report: one self-contained file from the report rule's named inputs.

tfedge.report.results reads the inputs by name, each section in tfedge.report.sections
computes its numbers and words its sentences, and report/templates/report.html.j2 lays the
sections out in order, each through its own template. No TensorFlow is needed.
"""

from __future__ import annotations

import logging

from tfedge.files import write_text
from tfedge.report.render import render_report
from tfedge.report.results import Results
from tfedge.report.sections import build_sections
from tfedge.report.sections.environment import provenance

log = logging.getLogger(__name__)


def render(results: Results, template_path: str) -> str:
    """The report page for ``results``, from the page template at ``template_path``."""
    title = results.config["report"]["title"]
    return render_report(template_path, title, provenance(results), build_sections(results))


def build_report(
    config: dict, inputs: dict[str, str], template_path: str, answers_path: str, output_path: str
) -> None:
    """Read the results in ``inputs`` (tfedge.paths.report_inputs, by name) and write the report."""
    html = render(Results(config, inputs, answers_path), template_path)
    write_text(output_path, html)
    log.info("report written to %s (%d kB)", output_path, len(html) // 1024)
