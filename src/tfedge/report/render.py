"""Jinja rendering with autoescaping on: every value from results or config is escaped."""

from __future__ import annotations

import math
from pathlib import Path

import jinja2
from markupsafe import Markup


def percent(value: float | None, digits: int = 2) -> str:
    """0.98765 → '98.77'; missing or NaN → '—'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * value:.{digits}f}"


def p_value(value: float | None) -> str:
    """Three significant digits, with very small values in scientific notation."""
    if value is None:
        return "—"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.3f}"


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def environment(template_dir: str | Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(percent=percent, p_value=p_value, seconds=seconds)
    return env


def render_report(template_path: str | Path, title: str, provenance: dict, sections: list) -> str:
    """The page: each section rendered from its own template and numbers, then laid out in order.

    ``sections`` are tfedge.report.sections.Section; their templates lie in ``sections/`` beside
    the page's.
    """
    template_path = Path(template_path)
    env = environment(template_path.parent)
    rendered = [
        {
            "id": section.id,
            "title": section.title,
            "html": Markup(env.get_template(section.template).render(**section.context)),
        }
        for section in sections
    ]
    page = env.get_template(template_path.name)
    return page.render(title=title, provenance=provenance, sections=rendered)
