"""Locating the memorization phase transition from memorization ratios (SPEC §5, App. H.1).

For one (N, d, K) tuple, trained models of sizes ``ms`` each give ``n_eval`` generated samples and a
flag per sample (memorized or not, Definition 2.2). The memorization ratio of a model is the mean of
its flags. Following SPEC §5:

- the transition *starts* at the first M with ratio > 1/10 and *ends* at the first M with ratio > 9/10;
- ``M_pt`` is the first M memorizing on average, ratio >= 1/2 (NaN when no model reaches it: the
  transition lies beyond the largest M tried).

The grid of model sizes (App. H.1, as SPEC §5 resolves its inconsistency) is ``j floor(N/10)``,
j = 1..20; then ``count`` (10) more sizes equally spaced over the transition. If the transition
falls between two grid points (start == end) the paper's interval [start, end] is empty, so the
refinement spans ``[last M before the start, end]`` instead (see :func:`refinement_ms`).

Confidence interval for ``M_pt``: a parametric bootstrap of the memorization ratios. The flags of
one model are i.i.d. given the model, so resampling them with replacement is drawing
``Binomial(n_eval, ratio) / n_eval``; each replicate draws every model's ratio independently and
recomputes ``M_pt``; the interval is the replicates' percentile interval. Replicates that never reach
1/2 count as +inf (so an interval may be open above).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memlab._errors import UserInputError

__all__ = [
    "END_RATIO",
    "MEMORIZING_RATIO",
    "START_RATIO",
    "MPtEstimate",
    "estimate_m_pt",
    "m_grid",
    "m_pt_from_ratios",
    "refinement_ms",
    "transition_bounds",
]

START_RATIO = 0.1
MEMORIZING_RATIO = 0.5
END_RATIO = 0.9


def m_grid(n: int, *, multiples: int = 20, step_divisor: int = 10) -> np.ndarray:
    """``j * max(1, floor(N / step_divisor))`` for j = 1..multiples, shape ``(multiples,)`` (App. H.1)."""
    if int(n) != n or n < 1 or int(multiples) != multiples or multiples < 1 or step_divisor < 1:
        raise UserInputError(f"n, multiples and step_divisor must be integers >= 1, got {n}, {multiples}, {step_divisor}")
    step = max(1, int(n) // int(step_divisor))
    return step * np.arange(1, int(multiples) + 1, dtype=np.int64)


def _sorted_ratios(ms, ratios) -> tuple[np.ndarray, np.ndarray]:
    ms = np.asarray(ms)
    ratios = np.asarray(ratios, dtype=np.float64)
    if ms.ndim != 1 or ms.shape != ratios.shape[-1:] or ms.size == 0:
        raise UserInputError("ms and ratios must be non-empty with matching last axes")
    if np.unique(ms).size != ms.size:
        raise UserInputError("ms must be distinct")
    order = np.argsort(ms, kind="stable")
    return ms[order], ratios[..., order]


def _first_above(ms: np.ndarray, ratios: np.ndarray, threshold: float, strict: bool) -> np.ndarray:
    """First M (ms sorted) whose ratio passes the threshold along the last axis; NaN where none does."""
    hit = ratios > threshold if strict else ratios >= threshold
    any_hit = hit.any(axis=-1)
    first = np.argmax(hit, axis=-1)
    return np.where(any_hit, ms[first].astype(np.float64), np.nan)


def m_pt_from_ratios(ms, ratios, *, threshold: float = MEMORIZING_RATIO) -> float | np.ndarray:
    """First M with ratio >= ``threshold`` (ratios ``(..., len(ms))``); NaN where none; ms in any order."""
    ms, ratios = _sorted_ratios(ms, ratios)
    out = _first_above(ms, ratios, threshold, strict=False)
    return float(out) if out.ndim == 0 else out


def transition_bounds(ms, ratios) -> tuple[float, float]:
    """``(start, end)``: first M with ratio > 1/10 and first M with ratio > 9/10 (NaN where none)."""
    ms, ratios = _sorted_ratios(ms, ratios)
    if ratios.ndim != 1:
        raise UserInputError("ratios must be 1-D here")
    return (float(_first_above(ms, ratios, START_RATIO, strict=True)),
            float(_first_above(ms, ratios, END_RATIO, strict=True)))


def refinement_ms(ms, ratios, *, count: int = 10) -> np.ndarray:
    """Up to ``count`` new integer model sizes equally spaced over the transition, sorted, not in ``ms``.

    The span is ``[lo, hi]`` with ``lo`` the largest tried M below the start (ratio > 1/10; the
    start itself if it is the smallest M) and ``hi`` the end (ratio > 9/10; the largest tried M if
    no model reaches 9/10); the ``count`` points strictly inside are rounded to integers and
    deduplicated. Empty when no model passes 1/10 or the span has no untried integer.
    """
    ms, ratios = _sorted_ratios(ms, ratios)
    if int(count) != count or count < 0:
        raise UserInputError(f"count must be an integer >= 0, got {count}")
    start, end = transition_bounds(ms, ratios)
    if np.isnan(start) or count == 0:
        return np.zeros(0, dtype=np.int64)
    before = ms[ms < start]
    lo = float(before.max()) if before.size else start
    hi = float(ms.max()) if np.isnan(end) else end
    inner = np.linspace(lo, hi, int(count) + 2)[1:-1]
    new = np.unique(np.round(inner).astype(np.int64))
    return new[~np.isin(new, ms) & (new > lo) & (new < hi)]


@dataclass(frozen=True)
class MPtEstimate:
    """``M_pt`` of one tuple with its bootstrap percentile interval.

    m_pt: first M with ratio >= 1/2 (NaN: not reached); ci_low, ci_high: the ``level`` percentile
    interval over ``replicates`` bootstrap replicates (inf: more than (1-level)/2 of the replicates
    never reach 1/2); start, end: the transition bounds (NaN where not reached); reached_fraction:
    fraction of replicates that reach 1/2.
    """

    m_pt: float
    ci_low: float
    ci_high: float
    level: float
    replicates: int
    start: float
    end: float
    reached_fraction: float


def estimate_m_pt(ms, memorized_counts, n_eval, *, replicates: int = 2000, level: float = 0.95,
                  seed: int = 0) -> MPtEstimate:
    """``M_pt`` and its bootstrap interval from, per model size, the number of memorized samples.

    ms: ``(P,)`` distinct model sizes; memorized_counts: ``(P,)`` integers in [0, n_eval];
    n_eval: samples per model (an int, or ``(P,)``). See the module doc for the bootstrap.
    """
    ms = np.asarray(ms)
    counts = np.asarray(memorized_counts)
    n_eval = np.broadcast_to(np.asarray(n_eval), counts.shape)
    if counts.shape != ms.shape or np.any(counts != np.round(counts)) or np.any(n_eval < 1) \
            or np.any(counts < 0) or np.any(counts > n_eval):
        raise UserInputError("memorized_counts must be integers in [0, n_eval], one per model size")
    if not (0 < level < 1) or int(replicates) != replicates or replicates < 1:
        raise UserInputError("level must lie in (0, 1) and replicates be an integer >= 1")
    ratios = counts / n_eval
    ms_sorted, ratios_sorted = _sorted_ratios(ms, ratios)
    m_pt = m_pt_from_ratios(ms_sorted, ratios_sorted)
    start, end = transition_bounds(ms_sorted, ratios_sorted)
    order = np.argsort(ms, kind="stable")
    rng = np.random.default_rng(seed)
    boot = rng.binomial(n_eval[order].astype(np.int64), ratios_sorted, size=(int(replicates), ms.size))
    boot_m_pt = _first_above(ms_sorted, boot / n_eval[order], MEMORIZING_RATIO, strict=False)
    reached = ~np.isnan(boot_m_pt)
    boot_m_pt = np.where(reached, boot_m_pt, np.inf)
    alpha = (1 - level) / 2
    low, high = np.quantile(boot_m_pt, [alpha, 1 - alpha], method="inverted_cdf")
    return MPtEstimate(m_pt=float(m_pt), ci_low=float(low), ci_high=float(high), level=float(level),
                       replicates=int(replicates), start=start, end=end, reached_fraction=float(reached.mean()))
