"""Helpers shared by the check modules: exact-probability-vs-bound verdicts and short number formatting."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from memlab.verification._claim import CheckResult, quantity

__all__ = ["fmt", "exact_bound_result", "smallest"]

#: Relative tolerance for comparing an exactly computed probability (SciPy special functions,
#: accurate to ~1e-13 relative) with a closed-form bound: a violation must exceed it.
SPECIAL_FUNCTION_RTOL = 1e-9


def fmt(x: Any, digits: int = 4) -> str:
    """Short number formatting for tables (``None``/NaN -> "n/a")."""
    if x is None:
        return "n/a"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e5:
        return f"{x:.{digits}g}"
    return f"{x:.{max(digits - 1, 1)}e}"


def smallest(rows: Sequence[dict], key: Callable[[dict], Any]) -> dict | None:
    """The row with the smallest ``key`` (the "smallest counterexample"), or None."""
    return min(rows, key=key) if rows else None


def exact_bound_result(rows: list[dict], *, size_key: Callable[[dict], Any], what: str, bound_what: str,
                       settings: dict, notes: list[str] | None = None, rtol: float = SPECIAL_FUNCTION_RTOL,
                       extra_details: dict | None = None, describe: Callable[[dict], str] | None = None) -> CheckResult:
    """Verdict for "P <= bound" with P computed exactly (no Monte Carlo error) on every row.

    Rows carry ``log_probability`` and ``log_bound`` (natural logs, so that tiny probabilities are
    compared too). A row fails when ``log P - log bound > rtol * max(1, |log bound|)`` (rtol covers
    the special functions' relative rounding). ``measured`` is the largest ratio P / bound.
    """
    decided = []
    undecided = 0
    for row in rows:
        lp, lb = float(row["log_probability"]), float(row["log_bound"])
        if math.isnan(lp) or math.isnan(lb):
            undecided += 1
            row["violated"] = None
            continue
        row["log_ratio"] = lp - lb if not (lp == -math.inf and lb == -math.inf) else -math.inf
        row["ratio"] = math.exp(min(row["log_ratio"], 700.0))
        row["probability"] = math.exp(lp)
        row["bound"] = math.exp(min(lb, 700.0))
        row["violated"] = bool(row["log_ratio"] > rtol * max(1.0, abs(lb)))
        decided.append(row)
    violations = [r for r in decided if r["violated"]]
    # The informative maximum is over settings where the bound is below 1 (P <= 1 holds trivially otherwise).
    nontrivial = [r for r in decided if r["log_bound"] < 0] or decided
    worst = max(nontrivial, key=lambda r: r["log_ratio"])
    counterexample = smallest(violations, size_key)
    verdict = "fails" if violations else ("holds" if decided else "inconclusive")
    if counterexample is not None:
        where = describe(counterexample) if describe else ""
        summary = (f"{len(violations)}/{len(decided)} violate; smallest{(' ' + where) if where else ''}: "
                   f"P={fmt(counterexample['probability'])} > bound {fmt(counterexample['bound'])}")
    else:
        summary = f"max P/bound = {fmt(worst['ratio'])} (<= 1 expected)"
    details: dict = {"worst_setting": worst, "violations": len(violations), "undecided_settings": undecided,
                     "trivial_settings": len(decided) - len([r for r in decided if r["log_bound"] < 0]),
                     "notes": notes or []}
    if counterexample is not None:
        details["largest_violation"] = max(violations, key=lambda r: r["log_ratio"])
    if extra_details:
        details.update(extra_details)
    return CheckResult(
        verdict=verdict,
        measured=quantity(worst["ratio"], se=0.0, what=f"max over settings with bound < 1 of {what} / bound (exact, no Monte Carlo)"),
        expected=quantity(1.0, what=f"ratio <= 1, bound = {bound_what}"),
        tolerance={"value": rtol, "why": "compared in log space, relative to max(1, |log bound|): covers the "
                   "relative rounding of the special functions (~1e-13); the probability is exact, so any larger "
                   "excess is a violation"},
        settings=settings,
        counterexample=counterexample,
        details=details,
        summary=summary,
    )
