"""The HTML report: collect results, draw plots, render one self-contained file with Jinja."""

from __future__ import annotations

import logging

from tfedge.files import write_text
from tfedge.report.collect import collect_context
from tfedge.report.render import render_report

log = logging.getLogger(__name__)


def build_report(
    config: dict, inputs: dict[str, dict], template_path: str, answers_path: str, output_path: str
) -> None:
    """Read every result in ``inputs`` (tfedge.paths.report_inputs, staged) and write the report."""
    context = collect_context(config, inputs, answers_path)
    html = render_report(template_path, context)
    write_text(output_path, html)
    log.info("report written to %s (%d kB)", output_path, len(html) // 1024)
