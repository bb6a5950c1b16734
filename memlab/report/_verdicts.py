"""The verification section: one row per claim of the ``memlab verify --json`` report.

Reads the JSON schema of ``memlab.verification`` (``claims`` / ``summary`` / ``config``) without importing
it, and tolerates what it does not know: a missing key reads as a dash, an unknown verdict is shown as it
is, optional fields (a claim's ``power``, the ``error`` verdict) are rendered when present.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memlab.report._format import MISSING, compact, format_number, format_seconds, format_with_se
from memlab.report._sources import JsonSource, lookup

__all__ = [
    "VERDICT_ORDER",
    "ClaimRow",
    "Verification",
    "default_verify_json",
    "read_verification",
    "section_of",
    "verify_command",
]

#: Verdicts in display order (``error``: the check crashed); anything else is shown as it comes.
VERDICT_ORDER = ("holds", "fails", "inconclusive", "error")

#: Where ``make verify`` writes the JSON report, relative to the figures folder.
VERIFY_JSON_IN_FIGURES = Path("verify") / "verify.json"


def default_verify_json(figures_dir: str | os.PathLike) -> Path:
    """The verify JSON report that goes with a figures folder: ``<figures>/verify/verify.json``."""
    return Path(figures_dir) / VERIFY_JSON_IN_FIGURES


def verify_command(verify_json: str | os.PathLike) -> str:
    """The command that writes the verify JSON report at ``verify_json``."""
    return f"memlab verify --quick --json {shlex.quote(str(verify_json))}"


_APPENDIX = re.compile(r"\b(?:Theorem|Thm\.|Lemma|Proposition|Prop\.|Corollary|Definition|App\.|Appendix)\s*([A-Z])\b")
_SECTION = re.compile(r"\b(?:Theorem|Thm\.|Lemma|Proposition|Prop\.|Corollary|Definition|Section)\s*(\d+)")
_EQUATION = re.compile(r"\beqs?\.\s*\d")


def section_of(paper_ref: str) -> tuple[int, str]:
    """``(rank, label)`` of the part of the paper a reference points to, for grouping and sorting.

    ``Lemma 2.1`` -> Section 2; ``Theorem C.1, eq. 17`` and ``App. H.4`` -> Appendix C / H; a bare
    equation (``eq. 13``) -> "Equations (main text)"; anything else -> "Other".
    """
    section = _SECTION.search(paper_ref)
    appendix = _APPENDIX.search(paper_ref)
    first = min((m for m in (section, appendix) if m is not None), key=lambda m: m.start(), default=None)
    if first is section and section is not None:
        number = int(section.group(1))
        return number, f"Section {number}"
    if first is appendix and appendix is not None:
        letter = appendix.group(1)
        return 100 + ord(letter) - ord("A"), f"Appendix {letter}"
    if _EQUATION.search(paper_ref):
        return 50, "Equations (main text)"
    return 1000, "Other"


@dataclass(frozen=True)
class ClaimRow:
    """One claim as the page shows it (every text already formatted)."""

    id: str
    paper_ref: str
    section: str
    section_rank: int
    statement: str
    kind: str
    verdict: str
    verdict_class: str
    measured: str
    measured_what: str
    expected: str
    expected_what: str
    tolerance: str
    tolerance_why: str
    power: str
    power_method: str
    power_value: float | None
    settings: str
    counterexample: tuple[tuple[str, str], ...] | None
    notes: tuple[str, ...]
    crash: str | None
    elapsed_s: float | None
    elapsed: str
    order: int


@dataclass(frozen=True)
class Verification:
    """The verification report as read: rows, verdict counts, the run's configuration, or why it is unreadable."""

    source: JsonSource
    rows: tuple[ClaimRow, ...] = ()
    counts: tuple[tuple[str, int], ...] = ()
    run: tuple[tuple[str, str], ...] = ()
    claims_by_id: dict[str, dict] = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    problem: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        return self.source.path

    @property
    def present(self) -> bool:
        """Read as a verification report (its rows may still be empty)."""
        return self.source.present and self.problem is None


def _quantity(q: Any) -> tuple[str, str]:
    """A measured / expected quantity ``{"value", "se", "what", ...}`` -> (value ± SE, description)."""
    if not isinstance(q, dict):
        return (compact(q) if q is not None else MISSING), ""
    return format_with_se(q.get("value"), q.get("se")), str(q.get("what") or "")


def _tolerance(t: Any) -> tuple[str, str]:
    if not isinstance(t, dict):
        return (compact(t) if t is not None else MISSING), ""
    return compact(t.get("value")), str(t.get("why") or "")


def _power(claim: dict) -> tuple[str, str, float | None]:
    """The smallest relative error the check detects (issue 10's ``power`` field), where the report has it."""
    power = claim.get("power")
    if not isinstance(power, dict):
        power = lookup(claim, "details", "power")
    if not isinstance(power, dict) or "detectable_relative_error" not in power:
        return MISSING, "", None
    value = power.get("detectable_relative_error")
    method = str(power.get("method") or "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{format_number(100 * float(value), 2)} %", method, float(value)
    return compact(value), method, None


def _notes(details: Any) -> tuple[str, ...]:
    notes = lookup(details, "notes")
    if notes is None:
        return ()
    if isinstance(notes, list):
        return tuple(compact(n, limit=2000) for n in notes if n not in (None, ""))
    return (compact(notes, limit=2000),)


def _settings(settings: Any) -> str:
    if isinstance(settings, dict):
        if settings.get("summary"):
            return str(settings["summary"])
        if "tried" in settings:
            return f"{compact(settings['tried'])} settings"
    return compact(settings) if settings is not None else MISSING


def _row(claim: dict, order: int) -> ClaimRow:
    details: dict = claim["details"] if isinstance(claim.get("details"), dict) else {}
    paper_ref = str(claim.get("paper_ref") or MISSING)
    rank, section = section_of(paper_ref)
    verdict = str(claim.get("verdict") or "unknown")
    crashed = bool(details.get("crashed"))
    verdict_class = "error" if crashed else (verdict if verdict in VERDICT_ORDER else "unknown")
    measured, measured_what = _quantity(claim.get("measured"))
    expected, expected_what = _quantity(claim.get("expected"))
    tolerance, tolerance_why = _tolerance(claim.get("tolerance"))
    power, power_method, power_value = _power(claim)
    found = claim.get("counterexample")
    counterexample = None
    if found is not None:
        items = found.items() if isinstance(found, dict) else [("value", found)]
        counterexample = tuple((str(k), compact(v, limit=300)) for k, v in items)
    seconds = details.get("elapsed_s")
    elapsed = float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else None
    return ClaimRow(
        id=str(claim.get("id") or f"claim {order + 1}"),
        paper_ref=paper_ref,
        section=section,
        section_rank=rank,
        statement=str(claim.get("statement") or ""),
        kind=str(claim.get("kind") or ""),
        verdict=verdict + (" (crashed)" if crashed and verdict != "error" else ""),
        verdict_class=verdict_class,
        measured=measured,
        measured_what=measured_what,
        expected=expected,
        expected_what=expected_what,
        tolerance=tolerance,
        tolerance_why=tolerance_why,
        power=power,
        power_method=power_method,
        power_value=power_value,
        settings=_settings(claim.get("settings")),
        counterexample=counterexample,
        notes=_notes(details),
        crash=str(details["crash"]) if crashed and details.get("crash") else None,
        elapsed_s=elapsed,
        elapsed=format_seconds(elapsed),
        order=order,
    )


def read_verification(source: JsonSource) -> Verification:
    """The verification section from the verify JSON report (absent / unreadable: no rows, ``problem`` says why)."""
    if not source.present:
        return Verification(source, problem=source.error)
    claims = lookup(source.data, "claims")
    if not isinstance(claims, list):
        return Verification(source, problem=f"{source.path} is not a `memlab verify --json` report (no 'claims' list)")
    dicts = [c for c in claims if isinstance(c, dict)]
    rows = tuple(_row(claim, i) for i, claim in enumerate(dicts))
    counts: dict[str, int] = {v: 0 for v in VERDICT_ORDER}
    for row in rows:
        counts[row.verdict_class] = counts.get(row.verdict_class, 0) + 1
    config = lookup(source.data, "config", default={})
    config = config if isinstance(config, dict) else {}
    run = [
        ("budget", compact(config.get("budget"))),
        ("seed", compact(config.get("seed"))),
        ("started (UTC)", compact(config.get("started_utc"))),
        ("run time", format_seconds(config.get("elapsed_s", lookup(source.data, "summary", "elapsed_s")))),
    ]
    if config.get("only"):
        run.append(("only", compact(config.get("only"))))
    skipped = len(claims) - len(dicts)
    warnings = (f"{skipped} entries of 'claims' are not objects and are left out",) if skipped else ()
    return Verification(
        source,
        rows=rows,
        counts=tuple(counts.items()),
        run=tuple(run),
        claims_by_id={str(c.get("id")): c for c in dicts},
        config=config,
        warnings=warnings,
    )
