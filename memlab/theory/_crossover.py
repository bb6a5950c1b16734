"""Exact evaluation of M*/N for a setting (schedule, weighting, sigma_*^2, C, time averaging).

``crossover_exact`` substitutes the setting into the symbolic M* of :mod:`._closed_forms`:
the two time averages ``E_t[lambda_t]`` and ``E_t[lambda_t / (psi_t sigma_*^2 + 1)]`` are computed
with psi_t and lambda_t replaced by the schedule's expressions in t, on the exact grid or by
exact integration where that is known to be fast (else quadrature, and the result says so).
Inputs given as ints / Fractions / decimal strings / floats stay exact rationals (floats are read
as the shortest decimal that round-trips, e.g. 0.3 -> 3/10), so the discrete-grid M*/N of every
built-in schedule and weighting is an exact Rational.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

from memlab._errors import InvalidInputError
from memlab.theory._closed_forms import (
    MEAN_WEIGHT,
    MEAN_WEIGHT_GENERALIZING,
    PSI,
    SIGMA2,
    C,
    generalizing_factor,
    m_star_over_n,
)
from memlab.theory._schedules import DEFAULT_STEPS, Schedule, T, get_schedule
from memlab.theory._time_average import (
    DEFAULT_T_MAX,
    DEFAULT_T_MIN,
    continuous_average,
    grid_average,
    validate_time_range,
)
from memlab.theory._weightings import exact_number, grid_weights, weighting

__all__ = ["ExactCrossover", "crossover_exact", "crossover_integrands", "validate_positive"]


def validate_positive(value, what: str) -> sp.Expr:
    """An exact positive number, else :class:`InvalidInputError`."""
    number = exact_number(value, what=what)
    if not number.is_positive:
        raise InvalidInputError(f"{what} must be positive, got {value}")
    return number


@functools.lru_cache(maxsize=128)
def crossover_integrands(weighting_name: str | None, schedule: Schedule) -> tuple[sp.Expr, sp.Expr]:
    """``(lambda(t), lambda(t) / (psi_t sigma_*^2 + 1))`` in ``t`` and ``SIGMA2`` for a schedule.

    ``weighting_name=None`` gives the factor ``1/(psi_t sigma_*^2 + 1)`` alone in the second slot
    (``lambda = 1`` placeholder), used with user grid weights.
    """
    lam = sp.Integer(1) if weighting_name is None else weighting(weighting_name, schedule)
    factor = generalizing_factor().subs(PSI, schedule.psi)
    weighted = lam * factor
    if weighted.is_rational_function(T):
        weighted = sp.cancel(weighted)
    return lam, weighted


@dataclass(frozen=True)
class ExactCrossover:
    """Exact (where possible) time averages and M*/N for one setting.

    ``mean_weight = E_t[lambda]``, ``mean_weight_generalizing = E_t[lambda/(psi sigma_*^2 + 1)]``,
    ``m_star_over_n = 1 - mean_weight_generalizing / (C mean_weight)``; ``exact`` is False when a
    continuous average needed quadrature (values are then SymPy Floats).
    """

    mean_weight: sp.Expr
    mean_weight_generalizing: sp.Expr
    m_star_over_n: sp.Expr
    exact: bool
    method: str


def crossover_exact(
    *,
    c=2,
    sigma2=1,
    weighting: str = "x0",
    schedule: str | Schedule = "vp",
    steps: int = DEFAULT_STEPS,
    continuous: bool = False,
    t_min=DEFAULT_T_MIN,
    t_max=DEFAULT_T_MAX,
    weights=None,
) -> ExactCrossover:
    """M*/N (SymPy) for the setting; see :func:`memlab.numerics.crossover` for the float64 version.

    ``weights`` (a sequence of ``steps + 1`` non-negative numbers) replaces ``weighting`` and is
    only defined on the discrete grid.
    """
    c_exact = validate_positive(c, "c")
    sigma2_exact = validate_positive(sigma2, "sigma2")
    sched = get_schedule(schedule)
    if weights is not None and continuous:
        raise InvalidInputError("user weights are given on the discrete grid; they cannot be used with continuous t")
    if continuous:
        validate_time_range(t_min, t_max)
        lam, weighted = crossover_integrands(weighting, sched)
        first = continuous_average(lam, t_min, t_max)
        second = continuous_average(weighted.subs(SIGMA2, sigma2_exact), t_min, t_max)
        method = "integrate" if (first.exact and second.exact) else "quadrature"
    elif weights is not None:
        user = grid_weights(weights, steps)
        _, factor = crossover_integrands(None, sched)
        first = grid_average(sp.Integer(1), steps, weights=user.values)
        second = grid_average(factor.subs(SIGMA2, sigma2_exact), steps, weights=user.values)
        method = "grid"
    else:
        lam, weighted = crossover_integrands(weighting, sched)
        first = grid_average(lam, steps)
        second = grid_average(weighted.subs(SIGMA2, sigma2_exact), steps)
        method = "grid"
    ratio = m_star_over_n().subs({MEAN_WEIGHT: first.value, MEAN_WEIGHT_GENERALIZING: second.value, C: c_exact})
    exact = first.exact and second.exact
    return ExactCrossover(
        mean_weight=first.value, mean_weight_generalizing=second.value, m_star_over_n=ratio, exact=exact, method=method
    )
