"""The HTML report: collect results, draw plots, render one self-contained file with Jinja."""

from __future__ import annotations

import logging
from pathlib import Path

from tfedge.report.collect import collect_context
from tfedge.report.render import render_report

log = logging.getLogger(__name__)


def build_report(config: dict, template_path: str, answers_path: str, output_path: str) -> None:
    """Read every run's results (paths from tfedge.paths) and write the report atomically."""
    context = collect_context(config, answers_path)
    html = render_report(template_path, context)
    partial = Path(output_path).with_name(Path(output_path).name + ".partial")
    partial.write_text(html, encoding="utf-8")
    partial.replace(output_path)
    log.info("report written to %s (%d kB)", output_path, len(html) // 1024)
