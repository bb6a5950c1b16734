"""The crossover model size M* in float64 (eq. 14 solved for M), evaluated through the theory layer.

    M* = N (1 - E_t[lambda / (psi_t sigma_*^2 + 1)] / (C E_t[lambda]))

Every formula here is a lambdified SymPy expression from :mod:`memlab.theory` (the weighting
lambda(t), the factor 1/(psi_t sigma_*^2 + 1), M* from ``sympy.solve`` of eq. 14, the Theorem
3.1/3.2 excess losses); this module only averages over t (grid mean, or quadrature in log t for
a continuous uniform t) and evaluates them, vectorised over N.

Meaning of the numbers. ``M*/N`` does not depend on N, d or K at this order. Because
E_t[lambda/(psi sigma^2+1)] / E_t[lambda] is a lambda-weighted mean of 1/(psi sigma^2 + 1) in (0, 1],
``1 - 1/C <= M*/N < 1``: with C >= 1 (Theorem 3.2's range) M* >= 0 always. For C < 1 M* can be
negative: then the approximate weighted loss of x_pmem,M is below that of x_* for every M in
[0, N], i.e. the approximation predicts memorization at any capacity. M* is reported as computed;
``m_star_clipped`` = max(M*, 0) is offered beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memlab._errors import InvalidInputError, require_finite
from memlab.numerics._schedules import timestep_grid
from memlab.theory import (
    DEFAULT_STEPS,
    LAMBDA,
    MEAN_WEIGHT,
    MEAN_WEIGHT_GENERALIZING,
    MEAN_WEIGHT_GENERALIZING_SYMBOL,
    MEAN_WEIGHT_SYMBOL,
    SIGMA2,
    WEIGHTING_NAMES,
    C,
    D,
    M,
    N,
    Schedule,
    T,
    crossover_integrands,
    excess_generalizing,
    excess_pmem,
    get_schedule,
    grid_weights,
    m_star_in_means,
    numeric_function,
    quad_log_t,
    time_average_linear,
    validate_time_range,
)

__all__ = ["CrossoverResult", "crossover", "time_averages"]

_OVERFLOW_HINT = "d * sigma2 * C (times the mean weight) exceeds float64's range; use smaller values"
_DEFAULT_T_MIN = 0.001
_DEFAULT_T_MAX = 0.999


def _positive_float(value, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{what} must be a number, got {value!r}") from None
    except OverflowError:  # an int beyond float64
        raise InvalidInputError(f"{what} is too large for float64 (at most about 1.8e308)") from None
    if not math.isfinite(number) or number <= 0:
        raise InvalidInputError(f"{what} must be a finite positive number, got {value!r}")
    return number


def _positive_array(value, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{what} must be numbers, got {value!r}") from None
    except OverflowError:  # an int beyond float64
        raise InvalidInputError(f"{what} is too large for float64 (at most about 1.8e308)") from None
    if arr.size == 0:
        raise InvalidInputError(f"{what} is empty")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise InvalidInputError(f"{what} must be finite and positive, got {value!r}")
    return arr


def _on_shape(fn, t: np.ndarray, *args) -> np.ndarray:
    return np.broadcast_to(np.asarray(fn(t, *args), dtype=np.float64), t.shape)


def time_averages(
    *,
    sigma2: float = 1.0,
    weighting: str = "x0",
    schedule: str | Schedule = "vp",
    steps: int = DEFAULT_STEPS,
    continuous: bool = False,
    t_min: float = _DEFAULT_T_MIN,
    t_max: float = _DEFAULT_T_MAX,
    weights=None,
) -> tuple[float, float, float]:
    """``(E_t[lambda], E_t[lambda / (psi_t sigma2 + 1)], relative error estimate)`` in float64.

    Discrete: the mean over the ``steps + 1`` grid points (error estimate 0); continuous:
    ``1/(t_max - t_min)`` times the integral, by adaptive quadrature in ``log t`` (asked for relative
    tolerance 1e-12; the larger of the two quadratures' own relative error estimates is returned).
    ``weights`` (one non-negative value per grid point)
    replaces ``weighting``.
    """
    sched = get_schedule(schedule)
    if weights is not None:
        if continuous:
            raise InvalidInputError(
                "user weights are given on the discrete grid; they cannot be used with continuous t"
            )
        w = np.array(grid_weights(weights, steps).as_floats(), dtype=np.float64)
        _, factor_expr = crossover_integrands(None, sched)
        factor = numeric_function(factor_expr, (T, SIGMA2))
        t = timestep_grid(steps)
        return float(np.mean(w)), float(np.mean(w * _on_shape(factor, t, sigma2))), 0.0
    if weighting not in WEIGHTING_NAMES:
        raise InvalidInputError(f"unknown weighting {weighting!r}; choose one of {', '.join(WEIGHTING_NAMES)}")
    lam_expr, weighted_expr = crossover_integrands(weighting, sched)
    lam = numeric_function(lam_expr, (T,))
    weighted = numeric_function(weighted_expr, (T, SIGMA2))
    if not continuous:
        t = timestep_grid(steps)
        return float(np.mean(_on_shape(lam, t))), float(np.mean(_on_shape(weighted, t, sigma2))), 0.0
    lo, hi = validate_time_range(t_min, t_max)
    lam_scalar = numeric_function(lam_expr, (T,), "math")
    weighted_scalar = numeric_function(weighted_expr, (T, SIGMA2), "math")
    first, err_first = quad_log_t(lam_scalar, lo, hi)
    second, err_second = quad_log_t(lambda t: weighted_scalar(t, sigma2), lo, hi)
    width = hi - lo
    return first / width, second / width, max(err_first / abs(first), err_second / abs(second))


@dataclass(frozen=True)
class CrossoverResult:
    """M* for one setting, vectorised over ``n`` (arrays with ``n``'s shape; floats for a scalar ``n``).

    ``mean_weight`` = E_t[lambda], ``mean_weight_generalizing`` = E_t[lambda/(psi_t sigma2 + 1)];
    ``m_star`` may be <= 0 only for c < 1 (see module doc); ``m_star_clipped = max(m_star, 0)``.
    ``quad_relerr``: the quadrature's relative error estimate of the two averages (0 on a grid); the
    absolute error of ``m_star_over_n`` is then about at most ``2 quad_relerr (1 - m_star_over_n)``.
    Losses (leading order, excess over x_mem, weighted and time-averaged): see the methods.
    """

    n: np.ndarray | float
    m_star: np.ndarray | float
    m_star_over_n: float
    m_star_clipped: np.ndarray | float
    mean_weight: float
    mean_weight_generalizing: float
    c: float
    sigma2: float
    weighting: str
    schedule: str
    steps: int | None
    continuous: bool
    t_min: float
    t_max: float
    d: float | None = None
    weights: tuple[float, ...] | None = None
    quad_relerr: float = 0.0

    def _d(self, d) -> float:
        d = self.d if d is None else d
        if d is None:
            raise InvalidInputError("the approximate losses need the dimension d (pass d=...)")
        return _positive_float(d, "d")

    def _out(self, value, what: str = "the approximate excess loss"):
        with np.errstate(over="ignore", invalid="ignore"):
            value = np.asarray(value, dtype=np.float64)
        require_finite(value, what, _OVERFLOW_HINT)
        return float(value) if value.ndim == 0 else value

    def excess_loss_generalizing(self, d=None) -> float:
        """Theorem 3.1, weighted and averaged: ``d sigma2 E_t[lambda/(psi sigma2 + 1)]`` (independent of N, M)."""
        fn = numeric_function(_generalizing_averaged(), (D, SIGMA2, MEAN_WEIGHT_GENERALIZING_SYMBOL))
        with np.errstate(over="ignore", invalid="ignore"):
            value = fn(self._d(d), self.sigma2, self.mean_weight_generalizing)
        return float(self._out(value, "the approximate excess loss of x_*"))

    def excess_loss_pmem(self, m, d=None):
        """Theorem 3.2, weighted and averaged: ``C (1 - M/N) d sigma2 E_t[lambda]``; ``m`` broadcasts against ``n``.

        ``0 <= m <= n`` is required (x_pmem,M keeps M of the N training points).
        """
        m = np.asarray(m, dtype=np.float64)
        n = np.asarray(self.n, dtype=np.float64)
        if not np.all(np.isfinite(m)) or np.any(m < 0) or np.any(m > n):
            raise InvalidInputError(f"m must lie in [0, n], got {m.tolist()}")
        fn = numeric_function(_pmem_averaged(), (C, M, N, D, SIGMA2, MEAN_WEIGHT_SYMBOL))
        with np.errstate(over="ignore", invalid="ignore"):
            value = fn(self.c, m, n, self._d(d), self.sigma2, self.mean_weight)
        return self._out(
            np.broadcast_to(value, np.broadcast_shapes(m.shape, n.shape)), "the approximate excess loss of x_pmem,M"
        )

    def loss_gap(self, m, d=None):
        """eq. 14: ``excess_loss_pmem(m) - excess_loss_generalizing()``; < 0 where x_pmem,M has the lower loss."""
        with np.errstate(over="ignore", invalid="ignore"):
            gap = np.asarray(self.excess_loss_pmem(m, d)) - self.excess_loss_generalizing(d)
        return self._out(gap, "the loss gap")


def _generalizing_averaged():
    """E_t[lambda_t * Theorem 3.1 excess] by linearity, with the time average as a plain symbol."""
    return time_average_linear(LAMBDA * excess_generalizing()).subs(
        MEAN_WEIGHT_GENERALIZING, MEAN_WEIGHT_GENERALIZING_SYMBOL
    )


def _pmem_averaged():
    """E_t[lambda_t * Theorem 3.2 excess] by linearity, with the time average as a plain symbol."""
    return time_average_linear(LAMBDA * excess_pmem()).subs(MEAN_WEIGHT, MEAN_WEIGHT_SYMBOL)


def crossover(
    n,
    *,
    c: float = 2,
    sigma2: float = 1,
    weighting: str = "x0",
    schedule: str | Schedule = "vp",
    steps: int = DEFAULT_STEPS,
    continuous: bool = False,
    t_min: float = _DEFAULT_T_MIN,
    t_max: float = _DEFAULT_T_MAX,
    weights=None,
    d=None,
) -> CrossoverResult:
    """The crossover model size M* = N (1 - E_t[lambda/(psi sigma2 + 1)] / (c E_t[lambda])), float64.

    Args:
        n: number of training points N, scalar or array of any shape (all > 0).
        c: Theorem 3.2's leading coefficient C (> 0; the theorem has C in [1, 2]; Figure 1 uses 2).
        sigma2: the target's per-coordinate variance sigma_*^2 (> 0).
        weighting: ``x0``, ``eps``, ``v``, ``score`` or ``elbo`` (see :mod:`memlab.theory`).
        schedule: ``vp`` (default), ``ve``, ``linear``, or a :class:`memlab.theory.Schedule`.
        steps: L of the discrete grid t_l = 0.999 - 0.998 l/L (L + 1 timesteps); ignored when continuous.
        continuous: average over t uniform on ``[t_min, t_max]`` (0 < t_min < t_max <= 1) instead.
        weights: user weighting, ``steps + 1`` non-negative values on the grid (replaces ``weighting``;
            reported as ``weighting="user"``).
        d: dimension, only needed for the loss methods (M* does not depend on d or K).

    Returns:
        :class:`CrossoverResult`; ``m_star`` has ``n``'s shape (a float for scalar ``n``).
    """
    n_arr = _positive_array(n, "n")
    c = _positive_float(c, "c")
    sigma2 = _positive_float(sigma2, "sigma2")
    if d is not None:
        d = _positive_float(d, "d")
    if continuous:
        t_min, t_max = validate_time_range(t_min, t_max)
    else:
        if isinstance(steps, bool) or int(steps) != steps or steps < 1:
            raise InvalidInputError(f"steps must be an integer >= 1, got {steps}")
        steps = int(steps)
        grid = timestep_grid(steps)
        t_min, t_max = float(grid[-1]), float(grid[0])
    sched = get_schedule(schedule)
    mean_weight, mean_weight_generalizing, relerr = time_averages(
        sigma2=sigma2,
        weighting=weighting,
        schedule=sched,
        steps=steps,
        continuous=continuous,
        t_min=t_min,
        t_max=t_max,
        weights=weights,
    )
    m_star_fn = numeric_function(m_star_in_means(), (N, C, MEAN_WEIGHT_SYMBOL, MEAN_WEIGHT_GENERALIZING_SYMBOL))
    m_star = np.broadcast_to(
        np.asarray(m_star_fn(n_arr, c, mean_weight, mean_weight_generalizing), dtype=np.float64), n_arr.shape
    )
    m_star_over_n = float(m_star_fn(1.0, c, mean_weight, mean_weight_generalizing))
    require_finite(
        [mean_weight, mean_weight_generalizing, m_star_over_n, m_star],
        "M*",
        "the weighting's time average exceeds float64's range",
    )
    scalar = n_arr.ndim == 0

    def out(x):
        return float(x) if scalar else np.array(x)

    return CrossoverResult(
        n=out(n_arr),
        m_star=out(m_star),
        m_star_over_n=m_star_over_n,
        m_star_clipped=out(np.maximum(m_star, 0.0)),
        mean_weight=mean_weight,
        mean_weight_generalizing=mean_weight_generalizing,
        c=c,
        sigma2=sigma2,
        weighting="user" if weights is not None else weighting,
        schedule=sched.name,
        steps=None if continuous else steps,
        continuous=bool(continuous),
        t_min=float(t_min),
        t_max=float(t_max),
        d=d,
        weights=None if weights is None else grid_weights(weights, steps).as_floats(),
        quad_relerr=relerr,
    )
