"""The paper's headline numbers beside memlab's: Theorem 3.1's ratio, Theorem 3.2's constant, the crossover M*,
the phase transition M_pt/N ≈ 0.8 and the image model's transition, each with its error bar.

Measured values come from the figures' JSON / CSV files and the verify report; the paper's side of the
crossover is evaluated here with :func:`memlab.numerics.crossover` (eq. 14, float64, cheap). A row whose
source has not been computed carries the command that computes it.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memlab._errors import InvalidInputError
from memlab.numerics import DEFAULT_STEPS, crossover, timestep_grid
from memlab.report._figures import FigureEntry, figure_command
from memlab.report._format import MISSING, compact, format_interval, format_number, format_with_se
from memlab.report._sources import Missing, lookup
from memlab.report._verdicts import VERDICT_ORDER, Verification, verify_command

__all__ = ["PAPER_M_PT_OVER_N", "HeadlineRow", "headline_rows"]

#: Section 4.1: "the recovered M_pt is always a linear function of N, namely (4/5) N".
PAPER_M_PT_OVER_N = 0.8
_PAPER_M_PT = "≈ 0.8: M_pt = (4/5) N (Section 4.1, Figure 3)"


@dataclass(frozen=True)
class HeadlineRow:
    """One headline number: the paper's value, memlab's value with its error bar, where it comes from."""

    quantity: str
    reference: str
    paper: str
    measured: str
    error_bar: str
    setting: str
    source: str
    missing: Missing | None = None
    verdict: str | None = None
    verdict_class: str | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _not_computed(quantity: str, reference: str, paper: str, missing: Missing) -> HeadlineRow:
    return HeadlineRow(quantity, reference, paper, MISSING, MISSING, "", missing.what, missing=missing)


def _claim(verification: Verification, claim_id: str, paper_ref: str) -> dict | None:
    claim = verification.claims_by_id.get(claim_id)
    if claim is None:
        claim = next((c for c in verification.claims_by_id.values() if c.get("paper_ref") == paper_ref), None)
    return claim


def _verdict(claim: dict) -> tuple[str, str]:
    verdict = str(claim.get("verdict") or "unknown")
    crashed = bool(lookup(claim, "details", "crashed"))
    return verdict, "error" if crashed else (verdict if verdict in VERDICT_ORDER else "unknown")


def _by_d(mapping: Any, render: Callable[[Any], str]) -> str:
    if not isinstance(mapping, Mapping) or not mapping:
        return ""
    return "; ".join(f"d = {d}: {render(v)}" for d, v in mapping.items())


def _pair_se(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2:
        return format_with_se(value[0], value[1], digits=3)
    return compact(value)


def _pair_range(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2:
        return format_interval(value[0], value[1])
    return compact(value)


class _Unusable(Exception):
    """A figure's JSON is there but lacks what a headline number needs (the message says what)."""


@dataclass(frozen=True)
class _Reading:
    """What a headline number reads from one figure: memlab's value, its error bar, the setting (and, where the
    paper's side depends on the setting, the paper's value)."""

    measured: str
    error_bar: str
    setting: str
    paper: str | None = None


def _figure_row(
    entry: FigureEntry | None,
    missing: Missing,
    *,
    quantity: str,
    reference: str,
    paper: str,
    read: Callable[[FigureEntry], _Reading],
) -> HeadlineRow:
    """A headline number from one figure: not computed (with its command), unusable (why), or ``read(entry)``."""
    if entry is None or entry.data is None or entry.source is None:
        return _not_computed(quantity, reference, paper, missing)
    try:
        reading = read(entry)
    except _Unusable as why:
        return HeadlineRow(quantity, reference, paper, MISSING, MISSING, str(why), str(entry.source.path))
    return HeadlineRow(
        quantity,
        reference,
        reading.paper or paper,
        reading.measured,
        reading.error_bar,
        reading.setting,
        str(entry.source.path),
    )


# ----------------------------------------------------------------------------------------------------
# Theorem 3.1 and 3.2
# ----------------------------------------------------------------------------------------------------


def _theorem31_ratio(fig1: FigureEntry) -> _Reading:
    data = fig1.data
    excess, se, approx = (
        _number(lookup(data, "summary", k)) for k in ("excess_gen", "excess_gen_se", "excess_gen_approx")
    )
    if excess is None or not approx:
        raise _Unusable(f"{fig1.key}.json has no summary of x̂_*'s excess loss")
    error_bar = MISSING if se is None else f"± {format_number(se / abs(approx), 2)} (1 SE, Monte Carlo)"
    setting = (
        f"Figure 1: d = {compact(lookup(data, 'config', 'd'))}, K = {compact(lookup(data, 'config', 'k'))}, "
        f"N = {compact(lookup(data, 'config', 'n'))}, t = {format_number(lookup(data, 'summary', 't'), 5)} "
        f"(ψ_t = {format_number(lookup(data, 'summary', 'psi'))}), "
        f"{compact(lookup(data, 'config', 'draws'))} noise draws per sample"
    )
    return _Reading(format_number(excess / approx, 5), error_bar, setting)


def _claim_row(
    verification: Verification,
    missing: Missing,
    *,
    claim_id: str,
    paper_ref: str,
    quantity: str,
    paper: str,
    per_d_key: str,
    per_d: Callable[[Any], str],
    error_bar: Callable[[dict], str],
) -> HeadlineRow:
    if not verification.present:
        return _not_computed(quantity, paper_ref, paper, missing)
    claim = _claim(verification, claim_id, paper_ref)
    if claim is None:
        return HeadlineRow(
            quantity,
            paper_ref,
            paper,
            MISSING,
            MISSING,
            f"the verify report has no claim {claim_id}",
            str(verification.path),
        )
    measured: dict = claim["measured"] if isinstance(claim.get("measured"), dict) else {}
    verdict, verdict_class = _verdict(claim)
    by_d = _by_d(measured.get(per_d_key), per_d)
    value = by_d or format_with_se(measured.get("value"), measured.get("se"))
    setting = f"memlab verify, claim {claim.get('id')}: {measured.get('what') or ''}".rstrip(": ")
    settings = lookup(claim, "settings", "summary")
    if settings:
        setting += f" ({settings})"
    return HeadlineRow(
        quantity,
        paper_ref,
        paper,
        value,
        error_bar(measured),
        setting,
        str(verification.path),
        verdict=verdict,
        verdict_class=verdict_class,
    )


def _worst_cell(measured: dict) -> str:
    if measured.get("value") is None:
        return "ranges of C over (M, t) per d"
    return f"ranges of C over (M, t) per d; worst cell C = {format_with_se(measured['value'], measured.get('se'))}"


# ----------------------------------------------------------------------------------------------------
# Crossover M* at Figure 1's t, against the Monte Carlo crossing
# ----------------------------------------------------------------------------------------------------

_CROSSOVER_FORMULA = "M* = N (1 − 1/(C (ψ_tσ*² + 1))), C ∈ [1, 2]"


def _grid_index(t: float, steps: int = DEFAULT_STEPS) -> int | None:
    grid = timestep_grid(steps)
    hits = np.nonzero(np.isclose(grid, t, rtol=0, atol=1e-9))[0]
    return int(hits[0]) if hits.size else None


def _m_star_at(index: int, *, n: float, sigma2: float, schedule: str, c: float) -> float:
    """eq. 14 with λ concentrated on grid time ``index``: M* = N (1 − 1/(C (ψ_t σ*² + 1)))."""
    weights = [0] * (DEFAULT_STEPS + 1)
    weights[index] = 1
    return float(crossover(n, c=c, sigma2=sigma2, schedule=schedule, weights=weights).m_star)


def crossing_window(csv_path: Path, t: float) -> tuple[int, int] | None:
    """M where Figure 1's Monte Carlo x̂_pmem,M and x̂_* excess losses differ by less than 2 SE at time ``t``.

    The two SEs are combined as if independent; the estimates share their noise (common random numbers),
    so the SE of the difference is smaller and the window conservative. ``None`` when the CSV is unusable.
    """
    try:
        with open(csv_path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if abs(float(r["t"]) - t) <= 1e-9]
        points = [
            (
                int(r["M"]),
                float(r["excess_pmem"]) - float(r["excess_gen"]),
                math.hypot(float(r["excess_pmem_se"]), float(r["excess_gen_se"])),
            )
            for r in rows
        ]
    except (OSError, KeyError, ValueError, TypeError):
        return None
    close = [m for m, diff, se in points if abs(diff) <= 2 * se]
    below = [m for m, diff, _ in points if diff < 0]
    candidates = close + below[:1]
    return (min(candidates), max(candidates)) if candidates else None


def _crossover_at_t(fig1: FigureEntry) -> _Reading:
    data = fig1.data
    t, n = _number(lookup(data, "summary", "t")), _number(lookup(data, "config", "n"))
    if t is None or n is None:
        raise _Unusable(f"{fig1.key}.json has no t or N")
    sigma2 = _number(lookup(data, "config", "sigma2")) or 1.0
    index = _grid_index(t)
    paper = None
    if index is not None:
        try:
            schedule = str(lookup(data, "config", "schedule", default="vp"))
            values = {c: _m_star_at(index, n=n, sigma2=sigma2, schedule=schedule, c=c) for c in (2.0, 1.0)}
            paper = (
                f"{format_number(values[2.0], 5)} for C = 2 (Figure 1's constant), "
                f"{format_number(values[1.0], 5)} for C = 1: {_CROSSOVER_FORMULA}"
            )
        except InvalidInputError:  # a schedule or variance the formula does not take: the formula alone
            pass
    first = lookup(data, "summary", "smallest_m_pmem_below_gen")
    measured = (
        f"{first}: first M with x̂_pmem,M below x̂_* (Monte Carlo)"
        if first is not None
        else "none: x̂_pmem,M stays above x̂_* for every M"
    )
    window = crossing_window(fig1.folder / f"{fig1.key}.csv", t)
    if window is None:
        error_bar = MISSING
    elif window[0] == window[1]:
        error_bar = f"sharp: the curves are more than 2 SE apart at every M but {window[0]}"
    else:
        error_bar = f"M ∈ [{window[0]}, {window[1]}]: the curves are within 2 SE of each other (or cross) there"
    setting = (
        f"Figure 1: N = {format_number(n)}, d = {compact(lookup(data, 'config', 'd'))}, "
        f"σ*² = {format_number(sigma2)}, t = {format_number(t, 5)}; M* from memlab.numerics.crossover with λ "
        f"on that t alone"
    )
    return _Reading(measured, error_bar, setting, paper)


# ----------------------------------------------------------------------------------------------------
# Phase transition M_pt / N
# ----------------------------------------------------------------------------------------------------


def _time_averaged_m_star(n: float, sigma2: float) -> str:
    """eq. 14 averaged over the 26-step grid, C = 2, for the two weightings Figure 2 shows."""
    try:
        x0 = crossover(n, c=2, sigma2=sigma2, weighting="x0").m_star_over_n
        eps = crossover(n, c=2, sigma2=sigma2, weighting="eps").m_star_over_n
    except InvalidInputError:
        return ""
    return (
        f"; eq. 14 (C = 2, 26-step grid): M*/N = {format_number(x0, 5)} for λ = 1, {format_number(eps, 5)} for λ = ψ_t"
    )


def _transition_ratio(transition: Any, n: float) -> tuple[str, str]:
    m_pt = _number(lookup(transition, "m_pt"))
    ci = lookup(transition, "m_pt_ci")
    if m_pt is None:
        return f"not reached within the sweep (N = {format_number(n)})", MISSING
    measured = f"{format_number(m_pt / n)} (M_pt = {format_number(m_pt)}, N = {format_number(n)})"
    if isinstance(ci, list) and len(ci) == 2:
        lo, hi = (None if (value := _number(v)) is None else value / n for v in ci)
        confidence = _number(lookup(transition, "confidence")) or 0.95
        error_bar = f"{format_number(100 * confidence, 3)} % bootstrap CI {format_interval(lo, hi)}"
        bracket = lookup(transition, "m_pt_grid_bracket")
        if isinstance(bracket, list) and len(bracket) == 2 and bracket[0] is not None:
            error_bar += f"; grid bracket ({format_number(bracket[0])}, {format_number(bracket[1])}]"
        return measured, error_bar
    return measured, MISSING


def _first(data: Any, *paths: tuple[str, ...]) -> Any:
    """The value at the first of ``paths`` that the JSON has (layouts differ between versions and figures)."""
    return next((value for path in paths if (value := lookup(data, *path)) is not None), None)


def _training_setting(figure: str, settings: Any) -> str:
    parts = [
        f"{name} = {compact(value)}"
        for name, keys in (
            ("N", ("n", "ns")),
            ("d", ("d", "ds")),
            ("K", ("k", "ks")),
            ("epochs", ("epochs",)),
            ("preset", ("preset",)),
            ("seeds", ("seeds", "seed")),
        )
        if (value := _first(settings, *((key,) for key in keys), *(("recipe", key) for key in keys))) is not None
    ]
    return f"{figure}: " + ", ".join(parts)


def _transition(entry: FigureEntry, n_keys: tuple[str, ...], transition_key: str) -> tuple[float, dict]:
    n = _number(lookup(entry.data, *n_keys))
    transition = lookup(entry.data, transition_key)
    if not n or not isinstance(transition, dict):
        raise _Unusable(f"{entry.key}.json has no N or no {transition_key}")
    return n, transition


def _m_pt_figure2(fig2: FigureEntry) -> _Reading:
    n, transition = _transition(fig2, ("settings", "n"), "transition")
    sigma2 = _number(lookup(fig2.data, "settings", "sigma2")) or 1.0
    setting = _training_setting("Figure 2", lookup(fig2.data, "settings")) + _time_averaged_m_star(n, sigma2)
    return _Reading(*_transition_ratio(transition, n), setting)


def _m_pt_figure3(fig3: FigureEntry) -> _Reading:
    data = fig3.data
    tuples = [t for t in lookup(data, "tuples", default=[]) if isinstance(t, dict)]
    ratios = [
        _number(t.get("m_pt")) / t["n"] for t in tuples if _number(t.get("m_pt")) is not None and _number(t.get("n"))
    ]
    if not ratios:
        raise _Unusable(f"no tuple reached M_pt ({len(tuples)} tuples)")
    measured = (
        f"{format_number(float(np.mean(ratios)))} (mean of {len(ratios)} tuples; range "
        f"{format_interval(min(ratios), max(ratios))})"
    )
    error_bar = (
        f"± {format_number(float(np.std(ratios, ddof=1)) / math.sqrt(len(ratios)), 2)} (1 SE over tuples)"
        if len(ratios) > 1
        else MISSING
    )
    fitted = [
        f"{name}: {format_number(value)}"
        for name in ("fitted_approx", "fitted_exact")
        if (value := _number(lookup(data, "methods", name, "m_star_over_n"))) is not None
    ]
    setting = _training_setting("Figure 3", lookup(data, "settings"))
    if len(tuples) > len(ratios):
        setting += f"; {len(tuples) - len(ratios)} of {len(tuples)} tuples did not reach M_pt"
    if fitted:
        setting += "; M*/N with the fitted λ — " + ", ".join(fitted)
    return _Reading(measured, error_bar, setting)


def _m_pt_figure7(fig7: FigureEntry) -> _Reading:
    n = _number(lookup(fig7.data, "settings", "n"))
    transitions = [t for t in lookup(fig7.data, "transition", default=[]) if isinstance(t, dict)]
    if not n or not transitions:
        raise _Unusable(f"{fig7.key}.json has no N or no transitions")
    values = [(t.get("seed"), _number(t.get("m_pt"))) for t in transitions]
    reached = [v / n for _, v in values if v is not None]
    measured = "; ".join(f"seed {s}: {format_number(v / n) if v is not None else 'not reached'}" for s, v in values)
    error_bar = f"min–max over seeds {format_interval(min(reached), max(reached))}" if reached else MISSING
    return _Reading(measured, error_bar, _training_setting("Figure 7", lookup(fig7.data, "settings")))


def _image_transition(fig5: FigureEntry) -> _Reading:
    n, transition = _transition(fig5, ("data", "n"), "phase_transition")
    data = fig5.data
    end = lookup(transition, "m_end")
    setting = (
        f"Figure 5: N = {format_number(n)}, K = {compact(lookup(data, 'data', 'k'))}, "
        f"c = {compact(lookup(data, 'data', 'channels'))}, {compact(lookup(data, 'data', 'side'))}² "
        f"templates, preset {compact(_first(data, ('settings', 'preset'), ('options', 'preset')))}; "
        f"transition from M = "
        f"{compact(lookup(transition, 'm_start'))} to {compact(end) if end is not None else 'beyond the sweep'}"
    )
    return _Reading(*_transition_ratio(transition, n), setting)


def headline_rows(
    verification: Verification, figures: Mapping[int, FigureEntry], *, figures_dir: Path, verify_json: Path
) -> list[HeadlineRow]:
    """Every headline number, in the paper's order; absent sources give rows with their command."""
    verify_missing = Missing("the verify report", verify_command(verify_json))

    def from_figure(
        number: int, quantity: str, reference: str, paper: str, read: Callable[[FigureEntry], _Reading]
    ) -> HeadlineRow:
        return _figure_row(
            figures.get(number),
            Missing(f"Figure {number}", figure_command(number, figures_dir)),
            quantity=quantity,
            reference=reference,
            paper=paper,
            read=read,
        )

    return [
        from_figure(
            1,
            "Theorem 3.1: excess loss of x̂_* over x̂_mem, divided by dσ*²/(ψ_tσ*² + 1)",
            "Theorem 3.1",
            "1 (leading-order coefficient)",
            _theorem31_ratio,
        ),
        _claim_row(
            verification,
            verify_missing,
            claim_id="thm-3.1",
            paper_ref="Theorem 3.1",
            quantity="Theorem 3.1: sup over high-SNR t of |ratio − 1|, as d grows",
            paper="→ 0 as d grows (ratio → 1)",
            per_d_key="by_d",
            per_d=_pair_se,
            error_bar=lambda measured: "± 1 SE, as the verify report gives it",
        ),
        _claim_row(
            verification,
            verify_missing,
            claim_id="thm-3.2",
            paper_ref="Theorem 3.2",
            quantity="Theorem 3.2: constant C of x̂_pmem,M's excess loss C (1 − M/N) dσ*²",
            paper="C ∈ [1, 2]",
            per_d_key="ranges_by_d",
            per_d=_pair_range,
            error_bar=_worst_cell,
        ),
        from_figure(
            1,
            "Crossover M*: x̂_pmem,M's loss drops below x̂_*'s (eq. 14, at Figure 1's t)",
            "eq. 14",
            _CROSSOVER_FORMULA,
            _crossover_at_t,
        ),
        from_figure(
            2,
            "Phase transition M_pt/N (first M memorizing on average, trained GMM denoisers)",
            "Section 4.1, Figure 2",
            _PAPER_M_PT,
            _m_pt_figure2,
        ),
        from_figure(
            3, "Phase transition M_pt/N across (N, d, K) tuples", "Section 4.1, Figure 3", _PAPER_M_PT, _m_pt_figure3
        ),
        from_figure(7, "Phase transition M_pt/N over seeds", "App. H.5, Figure 7", _PAPER_M_PT, _m_pt_figure7),
        from_figure(
            5,
            "Image model: phase transition M_pt/N",
            "Section 4.2, Figure 5",
            "a transition persists, as in Figure 2 (no value stated)",
            _image_transition,
        ),
    ]
