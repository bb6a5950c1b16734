"""Render the page: one self-contained HTML file (inline CSS and script, images as ``data:`` URIs).

The template ``report.html.j2`` is package data beside this module. Autoescaping is on for everything
the result files bring in; the page's Content-Security-Policy allows no network source at all.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import jinja2

from memlab._io import write_text
from memlab.report._figures import PAPER_FIGURES
from memlab.report._page import ReportPage, collect_report
from memlab.report._verdicts import VERDICT_ORDER

__all__ = ["TEMPLATE", "render_report", "write_report"]

#: The template's file name inside the ``memlab.report`` package.
TEMPLATE = "report.html.j2"


def _template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    text = resources.files("memlab.report").joinpath(TEMPLATE).read_text(encoding="utf-8")
    return env.from_string(text)


def render_report(page: ReportPage) -> str:
    """The page as HTML text."""
    return _template().render(page=page, verdict_order=VERDICT_ORDER, paper_figure_count=len(PAPER_FIGURES))


def write_report(
    out: str | os.PathLike, *, figures_dir: str | os.PathLike, verify_json: str | os.PathLike
) -> tuple[Path, ReportPage]:
    """Collect, render and write the page to ``out`` atomically; returns the path and what the page shows."""
    out = Path(out)
    page = collect_report(figures_dir, verify_json, link_from=out.parent)
    return write_text(out, render_report(page)), page
