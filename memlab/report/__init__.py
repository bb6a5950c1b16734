"""The report page: what the paper claims beside what memlab measured, as one self-contained HTML file.

A consumer of the result files the other commands write (the ``memlab verify --json`` report, each
figure folder's ``<name>.json`` / ``.csv`` / ``.png``); it computes nothing expensive itself (only the
crossover M* of eq. 14, through :func:`memlab.numerics.crossover`). ``write_report(out, figures_dir=...,
verify_json=...)`` reads, renders and writes the page; ``collect_report`` + ``render_report`` do the
two halves. Absent results are listed on the page with the command that computes them.
"""

from memlab.report._figures import PAPER_FIGURES, QUICK_FIGURES, figure_command
from memlab.report._page import ReportPage, collect_report
from memlab.report._render import render_report, write_report
from memlab.report._verdicts import VERDICT_ORDER, default_verify_json, section_of, verify_command

__all__ = [
    "PAPER_FIGURES",
    "QUICK_FIGURES",
    "VERDICT_ORDER",
    "ReportPage",
    "collect_report",
    "default_verify_json",
    "figure_command",
    "render_report",
    "section_of",
    "verify_command",
    "write_report",
]
