"""The verification report: the JSON document (issue 4's schema), a Markdown report and the printed table."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from memlab._io import to_jsonable, write_json, write_text
from memlab.verification._claim import VERDICTS
from memlab.verification._runner import ClaimRecord, VerificationRun

__all__ = [
    "CLAIM_FIELDS",
    "record_to_dict",
    "run_to_dict",
    "summarize",
    "write_json_report",
    "write_markdown_report",
    "table_header",
    "table_row",
    "format_table",
]

#: The keys of each entry of ``claims`` in the JSON report, in order.
CLAIM_FIELDS = ("id", "paper_ref", "statement", "kind", "verdict", "measured", "expected", "tolerance",
                "settings", "counterexample", "details")

_COLUMNS = (("claim", 26), ("reference", 16), ("verdict", 12), ("measured vs expected", 58), ("settings", 40))


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
        "crashed_ids": [r.claim.id for r in run.crashed],
        "elapsed_s": round(run.elapsed_s, 3),
    }


def run_to_dict(run: VerificationRun) -> dict:
    """``{"claims": [...], "summary": {...}, "config": {...}}`` — JSON-ready (NaN/Inf become null)."""
    return to_jsonable({
        "claims": [record_to_dict(r) for r in run.records],
        "summary": summarize(run),
        "config": run.config,
    })


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
    verdict = record.result.verdict + (" (crash)" if record.crashed else "")
    cells = (record.claim.id, record.claim.paper_ref, verdict, record.result.summary, _settings_text(record))
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
    out = f"{text}" + (f" ± {json.dumps(to_jsonable(se))} (SE)" if se is not None and not isinstance(se, (list, dict)) else "")
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
        f"{summary['holds']} hold, {summary['fails']} fail, {summary['inconclusive']} inconclusive"
        f" ({summary['crashed']} crashed).",
        "",
        "| claim | reference | kind | verdict | measured vs expected | settings |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in run.records:
        verdict = r.result.verdict + (" (crash)" if r.crashed else "")
        lines.append(f"| `{r.claim.id}` | {_md_escape(r.claim.paper_ref)} | {r.claim.kind} | **{verdict}** | "
                     f"{_md_escape(r.result.summary)} | {_md_escape(_settings_text(r))} |")
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
