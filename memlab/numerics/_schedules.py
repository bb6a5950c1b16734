"""Float64 schedule coefficients on the timestep grid, lambdified from :mod:`memlab.theory`."""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from memlab._errors import InvalidInputError
from memlab._limits import check_allocation
from memlab.theory import DEFAULT_STEPS, REPRESENTATIVE_T_INDEX, T, get_schedule
from memlab.theory import timestep_grid as _exact_grid

#: Memory a grid point costs downstream (the grid, schedule coefficients, weights: a few float64 arrays).
_BYTES_PER_GRID_POINT = 64

__all__ = ["DEFAULT_STEPS", "REPRESENTATIVE_T_INDEX", "representative_t", "schedule_coefficients", "timestep_grid"]


def timestep_grid(steps: int = DEFAULT_STEPS) -> np.ndarray:
    """Float64 grid ``t_l = 0.999 - 0.998 l / L``, l = 0..L, shape ``(L+1,)``, decreasing.

    Each value is the correctly rounded float of the exact rational ``(999 L - 998 l) / (1000 L)``
    of :func:`memlab.theory.timestep_grid`: numerator and denominator are integers below 2^53, so
    they convert to float64 exactly and one IEEE division rounds correctly (fast for large L).
    """
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise InvalidInputError(f"steps must be an integer >= 1, got {steps}")
    steps = int(steps)
    check_allocation((steps + 1,), _BYTES_PER_GRID_POINT, f"a grid of L+1 = {steps + 1} timesteps")
    if 1000 * steps >= 2**53:  # pragma: no cover - absurdly fine grids: fall back to exact rationals
        return np.array([float(v) for v in _exact_grid(steps)], dtype=np.float64)
    ell = np.arange(steps + 1, dtype=np.int64)
    return (999 * steps - 998 * ell).astype(np.float64) / np.float64(1000 * steps)


def representative_t(steps: int = DEFAULT_STEPS) -> float:
    """t_16 of the default grid (0.36028), the timestep of Figures 1, 2 and 5."""
    return float(timestep_grid(steps)[REPRESENTATIVE_T_INDEX])


@functools.lru_cache(maxsize=16)
def _coefficient_functions(name: str):
    schedule = get_schedule(name)
    return tuple(sp.lambdify(T, expr, "numpy") for expr in (schedule.alpha, schedule.sigma, schedule.psi))


def schedule_coefficients(t, schedule: str = "vp") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(alpha_t, sigma_t, psi_t)`` as float64 arrays broadcast to ``np.shape(t)`` (each lambdified from
    :class:`memlab.theory.Schedule`; psi_t from its reduced fraction, not from the rounded alpha_t and sigma_t)."""
    t = np.asarray(t, dtype=np.float64)
    functions = _coefficient_functions(get_schedule(schedule).name)
    alpha, sigma, psi = (np.broadcast_to(np.asarray(f(t), dtype=np.float64), t.shape).copy() for f in functions)
    return alpha, sigma, psi
