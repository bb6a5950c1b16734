"""Assemble the page's content from the result files: what :func:`render_report` puts into the template."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from memlab.report._environment import EnvironmentRow, environment_rows, page_environment
from memlab.report._figures import FigureEntry, scan_figures
from memlab.report._headline import HeadlineRow, headline_rows
from memlab.report._sources import Missing, load_json_source
from memlab.report._verdicts import Verification, read_verification, verify_command

__all__ = ["ReportPage", "collect_report"]


@dataclass(frozen=True)
class ReportPage:
    """Everything the page shows, already read and formatted."""

    figures_dir: Path
    verify_json: Path
    generated: datetime.datetime
    verification: Verification
    figures: tuple[FigureEntry, ...]
    headline: tuple[HeadlineRow, ...]
    environment: tuple[EnvironmentRow, ...]
    missing: tuple[Missing, ...]
    problems: tuple[str, ...]

    @property
    def verify_command(self) -> str:
        """The command that writes the verify report this page reads."""
        return verify_command(self.verify_json)


def collect_report(
    figures_dir: str | os.PathLike, verify_json: str | os.PathLike, *, link_from: str | os.PathLike
) -> ReportPage:
    """Read the verify report ``verify_json`` and every figure under ``figures_dir``.

    ``link_from``: the folder the page will be written to (its links to CSV / PDF files are relative to it).
    Nothing here raises for absent or broken result files: they become ``missing`` entries (with the
    command that makes them) or ``problems`` (unreadable files, with the reason).
    """
    figures_dir, verify_json = Path(figures_dir), Path(verify_json)
    generated = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    verification = read_verification(load_json_source(verify_json))
    figures, missing_figures = scan_figures(figures_dir, link_from=Path(link_from))
    by_number = {entry.number: entry for entry in figures if entry.number is not None}
    missing: list[Missing] = []
    problems: list[str] = []
    if verification.problem:
        problems.append(verification.problem)
    problems.extend(verification.warnings)
    if not verification.present:
        missing.append(
            Missing(
                "Verification of the paper's claims",
                verify_command(verify_json),
                "about 2 minutes; included in `memlab report --compute quick` (`make verify`)",
            )
        )
    missing.extend(missing_figures)
    for entry in figures:
        if entry.source is not None and entry.source.error:
            problems.append(entry.source.error)
        problems.extend(f"{entry.key}: {panel.problem}" for panel in entry.panels if panel.problem)
    return ReportPage(
        figures_dir=figures_dir,
        verify_json=verify_json,
        generated=generated,
        verification=verification,
        figures=tuple(figures),
        headline=tuple(headline_rows(verification, by_number, figures_dir=figures_dir, verify_json=verify_json)),
        environment=(*environment_rows(verification, figures), page_environment(generated)),
        missing=tuple(missing),
        problems=tuple(problems),
    )
