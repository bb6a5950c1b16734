"""Time averages E_t[f(t)]: over the discrete grid (exact) or over a continuous uniform t (eq. 5).

- Discrete: ``E_t[f] = (1/(L+1)) sum_l f(t_l)`` over the exact grid ``t_l = 999/1000 - 998/1000 l/L``
  (:func:`memlab.theory.timestep_grid`); rational f and rational parameters give an exact Rational.
- Continuous: ``E_t[f] = (1/(t_max - t_min)) int_{t_min}^{t_max} f(t) dt``. SymPy's ``integrate`` is
  used only where it is known to finish quickly and exactly: f a *rational function of t* with
  rational coefficients (partial fractions -> logs/atans; this covers every built-in schedule and
  weighting, whose psi_t is rational in t). SymPy writes some of these antiderivatives with
  complex logarithms whose imaginary parts cancel; since f is real on the interval the real part
  is taken (and the imaginary part is checked to vanish numerically). Any other f (square roots,
  float coefficients, free parameters) is integrated numerically by :func:`quad_log_t`, with no
  symbolic attempt and so no risk of a slow integral.
- :func:`quad_log_t`: adaptive Gauss–Kronrod (``scipy.integrate.quad``) in ``u = log t``:
  ``int f(t) dt = int f(e^u) e^u du``. psi_t ~ 1/t^2 near 0, so eps-type integrands ~ 1/t^2 become
  ~ e^{-u}, smooth on the whole interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

from memlab._errors import InvalidInputError
from memlab.theory._schedules import DEFAULT_STEPS, T, timestep_grid
from memlab.theory._weightings import exact_number

__all__ = [
    "DEFAULT_T_MAX",
    "DEFAULT_T_MIN",
    "TimeAverage",
    "continuous_average",
    "grid_average",
    "quad_log_t",
    "validate_time_range",
]

#: Endpoints of the discrete grid, also the default continuous range.
DEFAULT_T_MIN = sp.Rational(1, 1000)
DEFAULT_T_MAX = sp.Rational(999, 1000)

#: Relative tolerance asked of the quadrature (its own error estimate is reported and checked).
QUAD_EPSREL = 1e-12


@dataclass(frozen=True)
class TimeAverage:
    """A time average: ``value`` (SymPy), whether it is ``exact``, ``method`` and quadrature ``abserr``."""

    value: sp.Expr
    exact: bool
    method: str  # "grid", "integrate" or "quadrature"
    abserr: float = 0.0

    def __float__(self) -> float:
        return float(self.value)


def validate_time_range(t_min, t_max) -> tuple[float, float]:
    """Check ``0 < t_min < t_max <= 1`` (finite numbers, numeric strings allowed); return them as floats."""
    lo = float(exact_number(t_min, what="t_min"))
    hi = float(exact_number(t_max, what="t_max"))
    if not (0.0 < lo <= 1.0 and 0.0 < hi <= 1.0):
        raise InvalidInputError(f"t_min and t_max must lie in (0, 1], got t_min={t_min}, t_max={t_max}")
    if lo >= hi:
        raise InvalidInputError(f"t_min must be smaller than t_max, got t_min={t_min}, t_max={t_max}")
    return lo, hi


def grid_average(expr, steps: int = DEFAULT_STEPS, *, weights=None) -> TimeAverage:
    """``(1/(L+1)) sum_l w_l f(t_l)`` on the exact grid (``w_l = 1`` unless ``weights`` is given).

    ``expr`` is a SymPy expression in :data:`T` (other symbols stay symbolic); ``weights`` a
    sequence of ``steps + 1`` SymPy numbers (e.g. :attr:`GridWeights.values`).
    """
    grid = timestep_grid(steps)
    expr = sp.sympify(expr)
    if weights is not None and len(weights) != len(grid):
        raise InvalidInputError(f"weights must have {len(grid)} values for L={steps}, got {len(weights)}")
    w = weights if weights is not None else (sp.Integer(1),) * len(grid)
    total = sp.Add(*[wl * expr.subs(T, tl) for wl, tl in zip(w, grid) if wl != 0])
    value = total / len(grid)
    return TimeAverage(value=value, exact=not value.has(sp.Float), method="grid")


def quad_log_t(f, t_min: float, t_max: float, *, epsrel: float = QUAD_EPSREL) -> tuple[float, float]:
    """``(int_{t_min}^{t_max} f(t) dt, abserr)`` by adaptive quadrature in ``u = log t``.

    ``f`` is a float -> float callable. Raises ``RuntimeError`` if the quadrature's own error
    estimate exceeds ``1e3 * epsrel`` relative to the value.
    """
    lo, hi = validate_time_range(t_min, t_max)

    def integrand(u: float) -> float:
        t = math.exp(u)
        return float(f(t)) * t

    # Lazy: scipy.integrate costs ~0.5 s at import and only this function needs it; memlab.theory stays
    # cheap to import for the figure and crossover commands.
    from scipy import integrate

    value, abserr = integrate.quad(integrand, math.log(lo), math.log(hi), epsabs=0.0, epsrel=epsrel, limit=500)
    if not np.isfinite(value) or abserr > 1e3 * epsrel * max(abs(value), np.finfo(float).tiny):
        raise RuntimeError(f"quadrature did not converge: value={value}, abserr={abserr}")
    return float(value), float(abserr)


def _integrates_exactly(expr: sp.Expr) -> bool:
    """Known fast exact case: a rational function of t alone with rational (not float) coefficients."""
    return expr.free_symbols <= {T} and not expr.has(sp.Float) and expr.is_rational_function(T)


def continuous_average(expr, t_min=DEFAULT_T_MIN, t_max=DEFAULT_T_MAX) -> TimeAverage:
    """``(1/(t_max - t_min)) int f(t) dt``: exact where known to be fast (see module doc), else quadrature.

    Exact endpoints: pass Rationals (or ints/strings); floats are read as their shortest decimal.
    ``expr`` must have no free symbol other than :data:`T` (substitute parameters first).
    """
    validate_time_range(t_min, t_max)
    lo, hi = exact_number(t_min, what="t_min"), exact_number(t_max, what="t_max")
    expr = sp.sympify(expr)
    extra = expr.free_symbols - {T}
    if extra:
        raise InvalidInputError(f"substitute the parameters {sorted(map(str, extra))} before time-averaging")
    width = hi - lo
    if _integrates_exactly(expr):
        raw = sp.integrate(sp.cancel(expr), (T, lo, hi))
        if not raw.has(sp.Integral):
            real = sp.re(raw)
            imag = complex(sp.N(raw, 30)).imag
            scale = abs(float(sp.N(real, 30))) or 1.0
            if abs(imag) <= 1e-20 * scale:
                return TimeAverage(value=real / width, exact=True, method="integrate")
    f = sp.lambdify(T, expr, "math")
    value, abserr = quad_log_t(f, float(lo), float(hi))
    width_f = float(width)
    return TimeAverage(value=sp.Float(value / width_f, 17), exact=False, method="quadrature", abserr=abserr / width_f)
