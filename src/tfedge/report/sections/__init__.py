"""The report's sections, in page order: each a module with its id, title, the inputs it
reads (``READS``: kinds of the report rule's inputs) and ``context(results)`` (its numbers,
and a ``heading`` when the title depends on them), and a template
of the same id in report/templates/sections/. A new section is one module, one template and
its place in ``SECTIONS``; ``context`` returns None to leave the section out.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from tfedge.report.results import Results
from tfedge.report.sections import (
    accuracy,
    answers,
    architectures,
    banner,
    baseline,
    confusion,
    conversions,
    curves,
    data,
    deployment,
    environment,
    job_times,
    misclassified,
    summary,
    sweeps,
)

SECTIONS: tuple[ModuleType, ...] = (
    banner,
    summary,
    data,
    accuracy,
    sweeps,
    baseline,
    curves,
    confusion,
    misclassified,
    conversions,
    deployment,
    architectures,
    answers,
    job_times,
    environment,
)


@dataclass(frozen=True)
class Section:
    """One section as the page renders it: its anchor, heading, template and numbers."""

    id: str
    title: str | None
    template: str
    context: dict


def build_sections(results: Results) -> list[Section]:
    """Every section that has something to show, in page order."""
    built = []
    for module in SECTIONS:
        context = module.context(results)
        if context is not None:
            template = f"sections/{module.ID}.html.j2"
            title = context.pop("heading", module.TITLE)  # a section may word its own
            built.append(Section(module.ID, title, template, context))
    return built
