"""The verification report: the JSON document (issue 4's schema), a Markdown report and the printed table.

Every claim carries its two sides (``sides``: the statement as a user gets it, the independent
measurement) and its power (``power``: the smallest relative error of the statement detected with
probability >= 0.95); the run's ``config.decision_rules`` states the false-alarm rule and the power method.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from memlab._io import to_jsonable, write_json, write_text
from memlab.verification._claim import VERDICTS
from memlab.verification._common import fmt
from memlab.verification._power import DETECTION_PROBABILITY
from memlab.verification._runner import ClaimRecord, VerificationRun
from memlab.verification._stats import FALSE_ALARM

__all__ = [
    "CLAIM_FIELDS",
    "DECISION_RULES",
    "format_table",
    "power_text",
    "record_to_dict",
    "run_to_dict",
    "summarize",
    "table_header",
    "table_row",
    "write_json_report",
    "write_markdown_report",
]

#: The keys of each entry of ``claims`` in the JSON report, in order.
CLAIM_FIELDS = (
    "id",
    "paper_ref",
    "statement",
    "kind",
    "verdict",
    "measured",
    "expected",
    "tolerance",
    "sides",
    "power",
    "settings",
    "counterexample",
    "details",
)

#: The rules every verdict follows (written into the report's ``config``).
DECISION_RULES = {
    "false_alarm_per_claim": FALSE_ALARM,
    "false_alarm_rule": (
        f"a true statement is reported 'fails' with probability at most {FALSE_ALARM:g} per claim: "
        "every Monte Carlo comparison of a claim shares that probability (Bonferroni over all the "
        "cells it looks at, valid under any correlation between them; Student-t quantiles where the "
        "standard error comes from replicates); exact and symbolic comparisons have no false alarms "
        "beyond their stated rounding tolerance"
    ),
    "power_probability": DETECTION_PROBABILITY,
    "power_rule": (
        "detectable_relative_error: the smallest r such that the statement multiplied by (1 ± r) is "
        f"reported 'fails' with probability >= {DETECTION_PROBABILITY:g} by the same decision rule on the "
        "same budget (bootstrap of the Monte Carlo measurement; exactly for deterministic comparisons); "
        "null when no r tried is detected (a loose bound)"
    ),
    "verdicts": {
        "holds": "no comparison rejected the statement and the check has power",
        "fails": "a comparison rejected the statement (see counterexample)",
        "inconclusive": "nothing rejected, but the measurement cannot resolve the statement",
        "error": "the check crashed or its measurement failed its own cross-check (exit code 1)",
    },
}

_COLUMNS = (
    ("claim", 26),
    ("reference", 16),
    ("verdict", 12),
    ("measured vs expected", 56),
    ("power", 12),
    ("settings", 36),
)


def power_text(power: dict | None) -> str:
    """The detectable relative error in a few characters: "1.7%", "2e-12", "loose", "fails as is"."""
    if not power:
        return "-"
    value = power.get("detectable_relative_error")
    if value is None:
        return "loose"
    if value == 0.0 and not power.get("perturbations"):
        return "fails as is"
    if 0.99 <= value < 1.0:
        return f"1−{fmt(1.0 - value, 2)}"
    if value >= 1e-3:
        return f"{100 * value:.3g}%"
    return fmt(value, 2)


def record_to_dict(record: ClaimRecord) -> dict:
    result = record.result
    details = dict(result.details)
    details.setdefault("summary", result.summary)
    details["elapsed_s"] = round(record.elapsed_s, 3)
    details["crashed"] = record.crashed
    claim = record.claim
    return {
        "id": claim.id,
        "paper_ref": claim.paper_ref,
        "statement": claim.statement,
        "kind": claim.kind,
        "verdict": result.verdict,
        "measured": result.measured,
        "expected": result.expected,
        "tolerance": result.tolerance,
        "sides": result.sides,
        "power": result.power,
        "settings": result.settings,
        "counterexample": result.counterexample,
        "details": details,
    }


def summarize(run: VerificationRun) -> dict:
    counts = {v: 0 for v in VERDICTS}
    for record in run.records:
        counts[record.result.verdict] += 1
    return {
        "total": len(run.records),
        **counts,
        "crashed": len(run.crashed),
        "failing_ids": [r.claim.id for r in run.failing],
        "error_ids": [r.claim.id for r in run.errors],
        "crashed_ids": [r.claim.id for r in run.crashed],
        "elapsed_s": round(run.elapsed_s, 3),
    }


def run_to_dict(run: VerificationRun) -> dict:
    """``{"claims": [...], "summary": {...}, "config": {...}}`` — JSON-ready (NaN/Inf become null)."""
    return to_jsonable(
        {
            "claims": [record_to_dict(r) for r in run.records],
            "summary": summarize(run),
            "config": {**run.config, "decision_rules": DECISION_RULES},
        }
    )


def write_json_report(path: str | os.PathLike, run: VerificationRun) -> Path:
    """Write the JSON report atomically."""
    return write_json(path, run_to_dict(run))


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _settings_text(record: ClaimRecord) -> str:
    settings = record.result.settings or {}
    return str(settings.get("summary") or f"{settings.get('tried', '?')} settings")


def table_header() -> str:
    head = "  ".join(name.ljust(width) for name, width in _COLUMNS)
    return head.rstrip() + "\n" + "  ".join("-" * width for _, width in _COLUMNS)


def table_row(record: ClaimRecord) -> str:
    verdict = record.result.verdict + ("/crash" if record.crashed else "")
    cells = (
        record.claim.id,
        record.claim.paper_ref,
        verdict,
        record.result.summary,
        power_text(record.result.power),
        _settings_text(record),
    )
    return "  ".join(_clip(cell, width).ljust(width) for cell, (_, width) in zip(cells, _COLUMNS)).rstrip()


def format_table(records: Sequence[ClaimRecord]) -> str:
    return "\n".join([table_header(), *(table_row(r) for r in records)])


def _md_escape(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _md_quantity(q) -> str:
    if not isinstance(q, dict):
        return f"`{json.dumps(to_jsonable(q))}`"
    value = to_jsonable(q.get("value"))
    text = json.dumps(value) if not isinstance(value, str) else value
    if len(text) > 300:
        text = text[:297] + "..."
    se = q.get("se")
    out = f"{text}" + (
        f" ± {json.dumps(to_jsonable(se))} (SE)" if se is not None and not isinstance(se, (list, dict)) else ""
    )
    if q.get("what"):
        out += f" — {q['what']}"
    return out


def write_markdown_report(path: str | os.PathLike, run: VerificationRun) -> Path:
    """A human-readable Markdown report: the table, then one section per claim."""
    summary = summarize(run)
    lines = [
        "# memlab verification report",
        "",
        f"Budget `{run.config.get('budget')}`, seed `{run.config.get('seed')}`, "
        f"{summary['total']} claims in {summary['elapsed_s']:.1f} s: "
        f"{summary['holds']} hold, {summary['fails']} fail, {summary['inconclusive']} inconclusive, "
        f"{summary['error']} error ({summary['crashed']} crashed).",
        "",
        f"*False alarms.* {DECISION_RULES['false_alarm_rule']}.",
        "",
        f"*Power.* {DECISION_RULES['power_rule']}.",
        "",
        "| claim | reference | kind | verdict | measured vs expected | detectable rel. error | settings |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in run.records:
        verdict = r.result.verdict + ("/crash" if r.crashed else "")
        lines.append(
            f"| `{r.claim.id}` | {_md_escape(r.claim.paper_ref)} | {r.claim.kind} | **{verdict}** | "
            f"{_md_escape(r.result.summary)} | {power_text(r.result.power)} | "
            f"{_md_escape(_settings_text(r))} |"
        )
    for r in run.records:
        res = r.result
        lines += [
            "",
            f"## `{r.claim.id}` — {r.claim.paper_ref}: **{res.verdict}**",
            "",
            f"*Statement.* {r.claim.statement}",
            "",
            f"- measured: {_md_quantity(res.measured)}",
            f"- expected: {_md_quantity(res.expected)}",
            f"- tolerance: {json.dumps(to_jsonable((res.tolerance or {}).get('value')))} — "
            f"{(res.tolerance or {}).get('why', '')}",
            f"- settings: {_md_escape(_settings_text(r))}",
        ]
        for side in ("statement", "measurement"):
            if (res.sides or {}).get(side):
                lines.append(f"- {side} side: {_md_escape(res.sides[side])}")
        if res.power:
            lines.append(
                f"- power: detectable relative error {power_text(res.power)} — {_md_escape(res.power['method'])}"
            )
            for entry in res.power.get("perturbations", []):
                entry_power = {"detectable_relative_error": entry["detectable_relative_error"], "perturbations": [1]}
                lines.append(
                    f"  - {_md_escape(entry['label'])}{'' if entry['primary'] else ' (secondary)'}: "
                    f"{power_text(entry_power)}"
                )
            for note in res.power.get("notes", []):
                lines.append(f"  - {_md_escape(note)}")
        if res.counterexample is not None:
            lines.append(f"- counterexample: `{json.dumps(to_jsonable(res.counterexample))}`")
        notes = res.details.get("notes") if isinstance(res.details, dict) else None
        if notes:
            for note in notes if isinstance(notes, list) else [notes]:
                lines.append(f"- note: {_md_escape(note)}")
        if r.crashed:
            lines.append(f"- crash: `{res.details.get('crash')}`")
        lines.append(f"- time: {r.elapsed_s:.2f} s")
    return write_text(path, "\n".join(lines) + "\n")
