"""Noise schedules as symbolic objects (Section 2): X_t = alpha_t X_0 + sigma_t Z, psi_t = alpha_t^2 / sigma_t^2."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

from memlab._errors import InvalidInputError

__all__ = ["DEFAULT_STEPS", "REPRESENTATIVE_T_INDEX", "SCHEDULES", "Schedule", "T", "get_schedule", "timestep_grid"]

#: The diffusion time symbol, t in (0, 1].
T = sp.Symbol("t", positive=True)

#: Default number of steps L of the discrete grid (App. H.1-H.2): 26 timesteps t_0..t_L.
DEFAULT_STEPS = 25
#: Index of the "representative" timestep of Figures 1, 2 and 5: t_16 = 0.36028 (psi ~ 6.704).
REPRESENTATIVE_T_INDEX = 16


@dataclass(frozen=True)
class Schedule:
    """A noise schedule: symbolic ``alpha(t)`` and ``sigma(t)`` in the symbol :data:`T`."""

    name: str
    alpha: sp.Expr
    sigma: sp.Expr
    description: str = ""

    @functools.cached_property
    def psi(self) -> sp.Expr:
        """Signal-to-noise ratio psi_t = alpha_t^2 / sigma_t^2, as a reduced fraction in factored form.

        The one definition of psi_t: the crossover's time averages, the ELBO weighting and the float64
        coefficients of :func:`memlab.numerics.schedule_coefficients` all use it. Factored, because its
        float64 evaluation is then accurate near t = 1: ``(t - 1)**2 / t**2`` is correct to 2e-15 at
        t = 0.999 where the expanded ``(t**2 - 2*t + 1) / t**2`` loses five digits.
        """
        return sp.factor(self.alpha**2 / self.sigma**2)

    def at(self, t_value) -> tuple[sp.Expr, sp.Expr]:
        """Exact ``(alpha_t, sigma_t)`` at a given (e.g. rational) time."""
        return self.alpha.subs(T, t_value), self.sigma.subs(T, t_value)


SCHEDULES: dict[str, Schedule] = {
    "vp": Schedule("vp", sp.sqrt(1 - T**2), T, "variance preserving: alpha=sqrt(1-t^2), sigma=t (default)"),
    "ve": Schedule("ve", sp.Integer(1), T, "variance exploding: alpha=1, sigma=t"),
    "linear": Schedule("linear", 1 - T, T, "linear interpolation: alpha=1-t, sigma=t"),
}


def get_schedule(name: str | Schedule) -> Schedule:
    """Look a schedule up by name (``vp``, ``ve``, ``linear``), or pass a :class:`Schedule` through."""
    if isinstance(name, Schedule):
        return name
    try:
        return SCHEDULES[name]
    except KeyError:
        raise InvalidInputError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}") from None


@functools.lru_cache(maxsize=32)
def timestep_grid(steps: int = DEFAULT_STEPS) -> tuple[sp.Rational, ...]:
    """The exact discrete grid t_l = 999/1000 - (998/1000) l / L, l = 0..L (decreasing; L+1 values)."""
    if int(steps) != steps or steps < 1:
        raise InvalidInputError(f"steps must be an integer >= 1, got {steps}")
    steps = int(steps)
    return tuple(sp.Rational(999, 1000) - sp.Rational(998, 1000) * sp.Rational(ell, steps) for ell in range(steps + 1))
