"""Decision rules for Monte Carlo checks: k·SE thresholds with a stated false-alarm probability.

Every statistical check of the suite fixes a family-wise false-alarm probability
``FALSE_ALARM = 1e-3`` *per claim*, split over the settings it tries (Bonferroni, valid whatever
the correlation between them): with ``m`` settings, each one-sided comparison uses
``k = Φ⁻¹(1 − FALSE_ALARM / m)`` standard errors, so a true statement is reported ``fails`` with
probability at most 1e-3 (normal approximation; the frequency tests additionally require the exact
binomial tail to be below ``FALSE_ALARM / m``). Where the standard error comes from ``S``
replicates (the datasets of Theorems 3.1/3.2) the quantile is Student's t with ``S − 1`` degrees
of freedom (:func:`t_sigma`), and :func:`excursion_bounds` turns simultaneous intervals for every
cell into confidence bounds on the largest distance of the measured quantity from the stated set.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = [
    "FALSE_ALARM",
    "binomial_se",
    "excursion_bounds",
    "frequency_exceeds",
    "frequency_test",
    "k_sigma",
    "replicate_mean_se",
    "t_sigma",
]

#: Family-wise false-alarm probability of each statistical claim (all its settings together).
FALSE_ALARM = 1e-3


def k_sigma(settings: int, *, false_alarm: float = FALSE_ALARM, two_sided: bool = False) -> float:
    """``k`` such that ``settings`` comparisons at ``k`` SE have total false-alarm <= ``false_alarm``."""
    settings = max(int(settings), 1)
    per = false_alarm / settings
    return float(stats.norm.isf(per / 2 if two_sided else per))


def t_sigma(cells: int, replicates: int, *, false_alarm: float) -> float:
    """Two-sided simultaneous ``k`` for ``cells`` means of ``replicates`` i.i.d. replicates (Student-t, Bonferroni).

    With SE = sample standard deviation / sqrt(S), every |mean − truth| <= k SE holds at once with
    probability >= 1 − ``false_alarm`` (exactly Bonferroni for normal replicates, whatever the correlation).
    """
    cells = max(int(cells), 1)
    return float(stats.t.isf(false_alarm / (2 * cells), df=max(int(replicates) - 1, 1)))


def replicate_mean_se(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over i.i.d. replicates (axis 0) and its SE from their spread: (S, ...) -> (...), (...)."""
    values = np.asarray(values, dtype=np.float64)
    s = values.shape[0]
    return values.mean(axis=0), values.std(axis=0, ddof=1) / math.sqrt(s)


def excursion_bounds(mean: np.ndarray, se: np.ndarray, lo: np.ndarray, hi: np.ndarray, k: float) -> dict:
    """How far the measured quantity lies outside the stated set [lo, hi], cell by cell and at worst.

    mean, se: (..., m) — per cell (last axis; leading axes e.g. bootstrap replicates) the measured mean and
    its SE; lo, hi: (m,) the stated interval (lo = hi for an equality). The excursion of a cell is
    ``dist(mean, [lo, hi])``; with every cell's truth in ``mean ± k se`` (simultaneous), the largest true
    excursion lies in ``[lcb, ucb]`` (distance to an interval is 1-Lipschitz). Returns estimate / lcb / ucb
    of the largest excursion (shape (...)), the cell farthest outside the set (or, all inside, nearest to
    its edge: ``argmax``) and the cell where the lcb is attained.
    """
    signed = np.maximum(lo - mean, mean - hi)  # < 0 inside the set: minus the distance to its nearest end
    excursion = np.maximum(signed, 0.0)
    lower = np.maximum(np.maximum(lo - (mean + k * se), (mean - k * se) - hi), 0.0)
    upper = np.maximum(np.maximum(lo - (mean - k * se), (mean + k * se) - hi), 0.0)
    return {
        "estimate": excursion.max(axis=-1),
        "lcb": lower.max(axis=-1),
        "ucb": upper.max(axis=-1),
        "argmax": np.argmax(signed, axis=-1),
        "argmax_lcb": np.argmax(lower, axis=-1),
        "k": float(k),
    }


def binomial_se(freq: float, n: int) -> float:
    """Plug-in standard error of an empirical frequency from ``n`` independent trials."""
    return float(math.sqrt(max(freq * (1.0 - freq), 0.0) / max(n, 1)))


def frequency_test(count: int, n: int, bound: float, *, k: float, false_alarm_each: float) -> dict:
    """Is the empirical frequency ``count / n`` above ``bound`` beyond Monte Carlo error?

    Exceeds when ``freq > bound + k · sqrt(bound (1 − bound) / n)`` (the SE under the hypothesis
    that the true probability equals the bound) *and* the exact binomial tail
    ``P[Binomial(n, bound) >= count] < false_alarm_each``. Bounds >= 1 are never exceeded.
    """
    freq = count / n
    b = float(min(max(bound, 0.0), 1.0))
    se_null = math.sqrt(b * (1.0 - b) / n)
    p_value = float(stats.binom.sf(count - 1, n, b)) if count > 0 else 1.0
    exceeds = bool(bound < 1.0 and freq > b + k * se_null and p_value < false_alarm_each)
    return {
        "count": int(count),
        "trials": int(n),
        "frequency": freq,
        "se": binomial_se(freq, n),
        "bound": float(bound),
        "se_at_bound": se_null,
        "k": k,
        "binomial_p_value": p_value,
        "exceeds": exceeds,
    }


def frequency_exceeds(
    counts: np.ndarray, trials: np.ndarray, bounds: np.ndarray, *, k: float, false_alarm_each: float
) -> np.ndarray:
    """:func:`frequency_test`'s ``exceeds`` for arrays of settings (vectorised; any leading replicate axes)."""
    counts = np.asarray(counts, dtype=np.float64)
    trials = np.asarray(trials, dtype=np.float64)
    b = np.clip(np.asarray(bounds, dtype=np.float64), 0.0, 1.0)
    freq = counts / trials
    se_null = np.sqrt(b * (1.0 - b) / trials)
    p_value = np.where(counts > 0, stats.binom.sf(counts - 1, trials, b), 1.0)
    return (np.asarray(bounds) < 1.0) & (freq > b + k * se_null) & (p_value < false_alarm_each)
