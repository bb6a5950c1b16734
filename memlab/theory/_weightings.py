"""Loss weightings lambda(t) relative to the x0-prediction MSE (eq. 5).

The weighted loss (eq. 5) is ``L_N(x_hat, lambda) = E_t[lambda(t) * L_{N,t}(x_hat)]`` with the
per-time loss ``L_{N,t}`` written as an x0-MSE. Training with another *parametrisation* of the
network output (predicting eps, v or the score instead of x0) is the same as training with an
x0-MSE multiplied by a time-dependent weighting. These are *derived* here, not typed in:

With ``x = alpha x0 + sigma eps`` fixed, each parametrisation maps an x0-estimate ``y`` to a
target ``target(y)`` that is affine in ``y``:

==========  ==============================================  ==================================
name        target(y)                                       lambda = (d target / d y)^2
==========  ==============================================  ==================================
``x0``      ``y``                                           ``1``
``eps``     ``(x - alpha y) / sigma``                       ``alpha^2/sigma^2 = psi``
``v``       ``alpha * eps(y) - sigma * y``                  ``(alpha^2+sigma^2)^2 / sigma^2``
``score``   ``(alpha y - x) / sigma^2`` (Tweedie)           ``alpha^2 / sigma^4``
==========  ==============================================  ==================================

so ``target(x_hat) - target(x0) = k (x_hat - x0)`` with a scalar ``k`` and the parametrisation's
MSE is ``k^2`` times the x0-MSE. For VP (alpha^2 + sigma^2 = 1) the v-weighting is ``psi + 1``.

``elbo`` is the continuous-time variational bound (Kingma et al., 2021, "Variational diffusion
models"): ``-ELBO = 1/2 E_t[-psi'(t) ||x_hat - x0||^2] + const``, i.e. ``lambda = -psi'(t) / 2``
(evaluated pointwise on a discrete grid, where the exact discrete bound would use SNR differences).

User-given weightings are non-negative values on the discrete grid (one per timestep t_0..t_L).
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from memlab._errors import InvalidInputError
from memlab.theory._schedules import DEFAULT_STEPS, Schedule, T, get_schedule

__all__ = [
    "WEIGHTING_NAMES",
    "GridWeights",
    "derive_weighting_factor",
    "exact_number",
    "grid_weights",
    "weighting",
]

#: Built-in weightings (``memlab crossover --weighting``).
WEIGHTING_NAMES = ("x0", "eps", "v", "score", "elbo")

_ALPHA = sp.Symbol("alpha_t", positive=True)
_SIGMA = sp.Symbol("sigma_t", positive=True)
_X = sp.Symbol("x", real=True)
_Y = sp.Symbol("y", real=True)  # an estimate of x0


def _eps_of(y):
    return (_X - _ALPHA * y) / _SIGMA


#: Each parametrisation's target as a function of an x0-estimate y, with x = alpha x0 + sigma eps.
_TARGETS = {
    "x0": lambda y: y,
    "eps": _eps_of,
    "v": lambda y: _ALPHA * _eps_of(y) - _SIGMA * y,
    "score": lambda y: (_ALPHA * y - _X) / _SIGMA**2,
}


def derive_weighting_factor(name: str) -> sp.Expr:
    """``lambda`` in terms of the symbols ``alpha_t, sigma_t`` for a parametrisation ``x0|eps|v|score``.

    Derived: ``target(y)`` is affine in ``y``, so ``target(x_hat) - target(x0) = k (x_hat - x0)``
    with ``k = d target / d y`` (checked to be free of ``y`` and ``x``); the MSE ratio is ``k^2``.
    """
    if name not in _TARGETS:
        raise InvalidInputError(f"no parametrisation named {name!r}; choose one of {', '.join(_TARGETS)}")
    target = _TARGETS[name](_Y)
    k = sp.diff(target, _Y)
    assert not k.has(_Y) and not k.has(_X), "target must be affine in the estimate"
    return sp.factor(sp.simplify(k**2))


def weighting(name: str, schedule: str | Schedule = "vp") -> sp.Expr:
    """The weighting ``lambda(t)`` (an expression in :data:`T`) for a built-in name and schedule.

    ``name`` is one of :data:`WEIGHTING_NAMES`. The expression is simplified; for the built-in
    schedules it is a rational function of t (so its continuous time average is exact).
    """
    sched = get_schedule(schedule)
    return _weighting_cached(name, sched)


@functools.lru_cache(maxsize=64)
def _weighting_cached(name: str, sched: Schedule) -> sp.Expr:
    if name == "elbo":
        expr = -sp.diff(sched.psi, T) / 2
    elif name in _TARGETS:
        expr = derive_weighting_factor(name).subs({_ALPHA: sched.alpha, _SIGMA: sched.sigma})
    else:
        raise InvalidInputError(f"unknown weighting {name!r}; choose one of {', '.join(WEIGHTING_NAMES)}")
    expr = sp.simplify(expr)
    if expr.is_rational_function(T):
        expr = sp.cancel(expr)
    return expr


def exact_number(value, *, what: str = "value") -> sp.Expr:
    """A finite real number as an exact SymPy number.

    ``int``/``Fraction``/SymPy rationals stay exact; a ``float`` (or NumPy float) becomes the
    shortest decimal that round-trips (``0.3`` -> ``3/10``), i.e. the number the user typed;
    a string is parsed as a decimal or fraction (``"3/10"``, ``"1e-3"``). Anything else, NaN or
    an infinity is a :class:`InvalidInputError`.
    """
    if isinstance(value, bool):
        raise InvalidInputError(f"{what} must be a number, got {value!r}")
    if isinstance(value, sp.Basic):
        number = value
    elif isinstance(value, numbers.Integral):
        number = sp.Integer(int(value))
    elif isinstance(value, Fraction):
        number = sp.Rational(value.numerator, value.denominator)
    elif isinstance(value, numbers.Real):
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            raise InvalidInputError(f"{what} must be a number, got {value!r}") from None
        if not math.isfinite(as_float):
            raise InvalidInputError(f"{what} must be finite, got {as_float}")
        number = sp.Rational(repr(as_float))
    elif isinstance(value, str):
        try:
            fraction = Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise InvalidInputError(f"{what} must be a finite number, got {value!r}") from None
        number = sp.Rational(fraction.numerator, fraction.denominator)
    else:
        raise InvalidInputError(f"{what} must be a number, got {type(value).__name__}")
    if not (number.is_number and number.is_real and number.is_finite):
        raise InvalidInputError(f"{what} must be a finite real number, got {value!r}")
    return number


@dataclass(frozen=True)
class GridWeights:
    """User-given weighting: ``values[l] = lambda(t_l)`` on the grid of ``steps`` (exact SymPy numbers)."""

    values: tuple[sp.Expr, ...]
    steps: int

    def as_floats(self) -> tuple[float, ...]:
        return tuple(float(v) for v in self.values)


def grid_weights(values, steps: int = DEFAULT_STEPS) -> GridWeights:
    """Validate user weights: exactly ``steps + 1`` finite, non-negative numbers, not all zero.

    ``values`` is any sequence (list, tuple, 1-D NumPy array) of numbers or numeric strings;
    they are kept exact (see :func:`exact_number`). Raises :class:`InvalidInputError` otherwise.
    """
    if int(steps) != steps or steps < 1:
        raise InvalidInputError(f"steps must be an integer >= 1, got {steps}")
    steps = int(steps)
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise InvalidInputError("weights must be a sequence of numbers (one per timestep)")
    if hasattr(values, "ndim") and values.ndim != 1:
        raise InvalidInputError(f"weights must be one-dimensional, got shape {values.shape}")
    if len(values) != steps + 1:
        raise InvalidInputError(
            f"weights must have one value per timestep: {steps + 1} for L={steps} steps, got {len(values)}"
        )
    exact = []
    for i, v in enumerate(values):
        number = exact_number(v, what=f"weight {i}")
        if number.is_negative:
            raise InvalidInputError(f"weights must be non-negative; weight {i} is {float(number)}")
        exact.append(number)
    if all(v.is_zero for v in exact):
        raise InvalidInputError("weights are all zero; at least one timestep needs a positive weight")
    return GridWeights(tuple(exact), steps)
