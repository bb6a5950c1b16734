"""Decision rules for Monte Carlo checks: k·SE thresholds with a stated false-alarm probability.

Every statistical check of the suite fixes a family-wise false-alarm probability
``FALSE_ALARM = 1e-3`` *per claim*, split over the settings it tries (Bonferroni): with ``m``
settings, each one-sided comparison uses ``k = Φ⁻¹(1 − FALSE_ALARM / m)`` standard errors, so a
true statement is reported ``fails`` with probability at most 1e-3 (normal approximation; the
frequency tests additionally require the exact binomial tail to be below ``FALSE_ALARM / m``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["FALSE_ALARM", "k_sigma", "mc_mean_se", "frequency_test", "binomial_se"]

#: Family-wise false-alarm probability of each statistical claim (all its settings together).
FALSE_ALARM = 1e-3


def k_sigma(settings: int, *, false_alarm: float = FALSE_ALARM, two_sided: bool = False) -> float:
    """``k`` such that ``settings`` comparisons at ``k`` SE have total false-alarm <= ``false_alarm``."""
    settings = max(int(settings), 1)
    per = false_alarm / settings
    return float(stats.norm.isf(per / 2 if two_sided else per))


def mc_mean_se(values) -> tuple[float, float]:
    """Mean and standard error of a per-sample Monte Carlo average over noise draws.

    ``values``: (N, R) — R noise draws for each of N fixed training samples. The dataset is
    fixed, so the only randomness is the noise: SE = sqrt(sum_i s_i^2 / R) / N (SPEC §3), with
    s_i^2 the sample variance over the draws of sample i.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[None, :]
    n, r = values.shape
    mean = float(values.mean())
    if r < 2:
        return mean, math.nan
    s2 = values.var(axis=1, ddof=1)
    return mean, float(np.sqrt(s2.sum() / r) / n)


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
    return {"count": int(count), "trials": int(n), "frequency": freq, "se": binomial_se(freq, n),
            "bound": float(bound), "se_at_bound": se_null, "k": k, "binomial_p_value": p_value,
            "exceeds": exceeds}
