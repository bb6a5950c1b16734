"""Helpers shared by the check modules: exact-probability-vs-bound verdicts, Monte Carlo cross-checks of an
exact measurement, and short number formatting."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from memlab.verification._claim import CheckResult, Perturbation, Rescore, quantity
from memlab.verification._stats import FALSE_ALARM

__all__ = [
    "BOUND_TIGHTENED",
    "AllowedShifts",
    "binomial_cross_check",
    "exact_bound_result",
    "fmt",
    "loose_note",
    "mark_error",
    "smallest",
]

#: The perturbation of a bound claim: the bound tightened (an error making a bound larger cannot be detected).
BOUND_TIGHTENED = Perturbation("bound × (1 − r)", -1)

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


def binomial_cross_check(count: int, trials: int, exact: float, *, false_alarm_each: float, **where: Any) -> dict:
    """Does a simulated frequency agree with an exactly computed probability? (two-sided exact binomial test)

    ``consistent`` is False when the two-sided binomial p-value of ``count`` out of ``trials`` under
    probability ``exact`` is below ``false_alarm_each`` (the share of the claim's false-alarm probability).
    """
    frequency = count / trials
    p = float(min(max(exact, 0.0), 1.0))
    p_value = (
        float(stats.binomtest(int(count), int(trials), p).pvalue)
        if 0.0 < p < 1.0
        else (1.0 if (p == 0.0 and count == 0) or (p == 1.0 and count == trials) else 0.0)
    )
    se = math.sqrt(max(p * (1.0 - p), 1e-300) / trials)
    return {
        **where,
        "frequency": frequency,
        "exact": exact,
        "trials": int(trials),
        "z": (frequency - p) / se,
        "p_value": p_value,
        "threshold": false_alarm_each,
        "consistent": bool(p_value >= false_alarm_each),
    }


class AllowedShifts:
    """The set of statement perturbations x = scale − 1 that a deterministic comparison lets pass: an interval.

    Identity checks compare, point by point, a quantity that depends on the statement linearly: the
    residual at scale 1 + x is ``e + x c`` (``add_linear``: passes iff ``|e + x c| <= tol``) or the
    vector ``u − x v`` (``add_norm``: passes iff ``‖u − x v‖ <= tol``). Each point passes on an interval
    of x; the check passes on their intersection, kept as ``[low, high]`` (empty when low > high).
    So the comparison can be re-run at any scale without keeping the arrays.
    """

    def __init__(self) -> None:
        self.low, self.high = -math.inf, math.inf

    def _intersect(self, low, high) -> None:
        low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        if low.size:
            self.low = max(self.low, float(np.max(low)))
            self.high = min(self.high, float(np.min(high)))

    def add_linear(self, e, c, tol) -> None:
        e, c, tol = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64).ravel() for v in (e, c, tol)))
        zero = c == 0
        if np.any(zero & (np.abs(e) > tol)):
            self.low, self.high = math.inf, -math.inf
        c_nz, e_nz, t_nz = c[~zero], e[~zero], tol[~zero]
        a, b = (-t_nz - e_nz) / c_nz, (t_nz - e_nz) / c_nz
        self._intersect(np.minimum(a, b), np.maximum(a, b))

    def add_norm(self, u, v, tol) -> None:
        """Rows of u, v (B, d): ‖u − x v‖ <= tol ⟺ |x − x₀|² ‖v‖² <= tol² − ‖u − x₀v‖², x₀ = u·v/‖v‖².

        The residual at the least-squares x₀ is formed as a vector (no cancellation of large squares), so the
        interval is accurate even when the statement at hand is far from the reference (a perturbed run).
        """
        u, v = np.atleast_2d(np.asarray(u, dtype=np.float64)), np.atleast_2d(np.asarray(v, dtype=np.float64))
        tol = np.broadcast_to(np.asarray(tol, dtype=np.float64), (u.shape[0],))
        vv = np.sum(v * v, axis=1)
        zero = vv == 0
        if np.any(zero & (np.sum(u * u, axis=1) > tol * tol)):
            self.low, self.high = math.inf, -math.inf
        u, v, vv, t = u[~zero], v[~zero], vv[~zero], tol[~zero]
        x0 = np.sum(u * v, axis=1) / vv
        w = u - x0[:, None] * v
        room = t * t - np.sum(w * w, axis=1)
        if np.any(room < 0):
            self.low, self.high = math.inf, -math.inf
            return
        half = np.sqrt(room / vv)
        self._intersect(x0 - half, x0 + half)

    def passes(self, x: float) -> bool:
        return self.low <= x <= self.high


def mark_error(result: CheckResult, message: str, **evidence: Any) -> CheckResult:
    """Turn a result into the verdict ``error``: the check's own cross-check failed, so no verdict can be trusted."""
    result.verdict = "error"
    result.summary = f"measurement inconsistent: {message}"
    result.details.setdefault("notes", []).append(f"ERROR: {message}")
    result.details["inconsistency"] = {"message": message, **evidence}
    result.counterexample = None
    return result


def loose_note(max_ratio: float, what: str = "P/bound") -> str | None:
    """A plain statement that a bound is loose everywhere (None when it is within a factor 2 somewhere)."""
    if max_ratio >= 0.5:
        return None
    factor = math.inf if max_ratio <= 0 else 1.0 / max_ratio
    return (
        f"loose at every setting tried: the largest {what} is {fmt(max_ratio, 3)}, so the bound could be "
        f"{'infinitely' if math.isinf(factor) else f'{fmt(factor, 3)} times'} smaller and still hold here"
    )


def exact_bound_result(
    rows: list[dict],
    *,
    size_key: Callable[[dict], Any],
    what: str,
    bound_what: str,
    settings: dict,
    sides: dict,
    notes: list[str] | None = None,
    rtol: float = SPECIAL_FUNCTION_RTOL,
    extra_details: dict | None = None,
    describe: Callable[[dict], str] | None = None,
    statement_scale: float = 1.0,
    cross_checks: list[dict] | None = None,
) -> CheckResult:
    """Verdict for "P <= bound" with P computed exactly (no Monte Carlo error) on every row.

    Rows carry ``log_probability`` and ``log_bound`` (natural logs, so that tiny probabilities are
    compared too). The bound under test is ``statement_scale`` times the stated one. A row fails when
    ``log P - log bound > rtol * max(1, |log bound|)`` (rtol covers the special functions' relative
    rounding). ``measured`` is the largest ratio P / bound.

    ``cross_checks``: Monte Carlo checks of the exact probability (:func:`binomial_cross_check`); if one
    is inconsistent the measurement is wrong and the verdict is ``error`` whatever the rows say.
    """
    log_scale = math.log(statement_scale)
    decided = []
    undecided = 0
    for row in rows:
        lp, lb = float(row["log_probability"]), float(row["log_bound"]) + log_scale
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
    cross_checks = cross_checks or []
    inconsistent = [c for c in cross_checks if not c["consistent"]]
    if inconsistent:
        verdict = "error"
    else:
        verdict = "fails" if violations else ("holds" if decided else "inconclusive")
    if inconsistent:
        bad = max(inconsistent, key=lambda c: abs(c["z"]))
        summary = (
            f"measurement inconsistent: exact P = {fmt(bad['exact'])} vs simulated {fmt(bad['frequency'])} "
            f"(z = {bad['z']:.3g}) — {len(inconsistent)}/{len(cross_checks)} cross-checks fail"
        )
    elif counterexample is not None:
        where = describe(counterexample) if describe else ""
        summary = (
            f"{len(violations)}/{len(decided)} violate; smallest{(' ' + where) if where else ''}: "
            f"P={fmt(counterexample['probability'])} > bound {fmt(counterexample['bound'])}"
        )
    else:
        summary = f"max P/bound = {fmt(worst['ratio'])} (<= 1 expected)"
    all_notes = list(notes or [])
    note = loose_note(worst["ratio"]) if not violations else None
    if note:
        all_notes.append(note)
    details: dict = {
        "worst_setting": worst,
        "violations": len(violations),
        "undecided_settings": undecided,
        "trivial_settings": len(decided) - len([r for r in decided if r["log_bound"] < 0]),
        "notes": all_notes,
    }
    if cross_checks:
        details["monte_carlo_cross_check"] = cross_checks
        all_notes.append(
            "Monte Carlo cross-check of the exact probability (two-sided exact binomial test, family-wise "
            f"{FALSE_ALARM:g}): "
            + ", ".join(f"z={c['z']:.2f}" for c in cross_checks)
            + ("" if not inconsistent else " — INCONSISTENT: the verdict is 'error'")
        )
    if counterexample is not None:
        details["largest_violation"] = max(violations, key=lambda r: r["log_ratio"])
    if extra_details:
        details.update(extra_details)
    # Power is measured where the bound says something (< 1): tightening a bound of 1 where P ≈ 1 is detected at
    # any r and would say nothing about the formula.
    informative = [r for r in decided if r["log_bound"] < 0]
    log_p = np.array([float(r["log_probability"]) for r in informative])
    log_b = np.array([float(r["log_bound"]) for r in informative])

    def fails(scale: float, _rng) -> bool:
        if inconsistent:
            return False  # an inconsistent measurement decides nothing
        lb = log_b + math.log(scale)
        with np.errstate(invalid="ignore"):
            ratio = np.where((log_p == -np.inf) & (lb == -np.inf), -np.inf, log_p - lb)
        return bool(np.any(ratio > rtol * np.maximum(1.0, np.abs(lb))))

    return CheckResult(
        verdict=verdict,
        measured=quantity(
            worst["ratio"], se=0.0, what=f"max over settings with bound < 1 of {what} / bound (exact, no Monte Carlo)"
        ),
        expected=quantity(
            1.0,
            what=f"ratio <= 1, bound = {bound_what}"
            + (f" (× {statement_scale:g}: perturbed statement)" if statement_scale != 1 else ""),
        ),
        tolerance={
            "value": rtol,
            "why": "compared in log space, relative to max(1, |log bound|): covers the "
            "relative rounding of the special functions (~1e-13); the probability is exact, so any larger "
            "excess is a violation"
            + (
                f"; the exact probability must pass its Monte Carlo cross-check "
                f"(family-wise false alarm {FALSE_ALARM:g}) or the verdict is 'error'"
                if cross_checks
                else ""
            ),
            "false_alarm": FALSE_ALARM if cross_checks else 0.0,
        },
        sides=sides,
        settings=settings,
        counterexample=counterexample if not inconsistent else {"inconsistent_cross_checks": inconsistent},
        details=details,
        summary=summary,
        rescore=Rescore(
            fails=fails,
            perturbations=(BOUND_TIGHTENED,),
            method="exact probabilities against the bound times (1 − r), at the settings where the stated bound is < 1",
        ),
    )
