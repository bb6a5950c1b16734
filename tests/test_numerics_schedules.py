import numpy as np
import pytest
import sympy as sp

from memlab import InvalidInputError, numerics, theory


def test_grid_matches_spec():
    grid = numerics.timestep_grid()
    assert grid.shape == (26,) and grid[0] == 0.999 and abs(grid[-1] - 0.001) < 1e-15
    assert abs(grid[16] - 0.36028) < 1e-12
    _, _, psi = numerics.schedule_coefficients(grid[16])
    assert abs(psi - 6.704) < 1e-3
    assert theory.timestep_grid(25)[16] == sp.Rational(36028, 100000)


@pytest.mark.parametrize("name", ["vp", "ve", "linear"])
def test_coefficients_match_symbolic(name):
    sched = theory.get_schedule(name)
    t = np.array([0.1, 0.5, 0.9])
    alpha, sigma, psi = numerics.schedule_coefficients(t, name)
    for i, tv in enumerate(t):
        assert alpha[i] == pytest.approx(float(sched.alpha.subs(theory.T, tv)))
        assert sigma[i] == pytest.approx(float(sched.sigma.subs(theory.T, tv)))
        assert psi[i] == pytest.approx(float(sched.psi.subs(theory.T, tv)))


def test_bad_schedule_and_steps():
    with pytest.raises(InvalidInputError):
        theory.get_schedule("cosine-typo")
    with pytest.raises(InvalidInputError):
        theory.timestep_grid(0)


@pytest.mark.parametrize("steps", [1, 2, 3, 7, 25, 100, 999, 4321])
def test_fast_grid_is_the_correctly_rounded_exact_grid(steps):
    exact = np.array([float(v) for v in theory.timestep_grid(steps)])
    assert np.array_equal(numerics.timestep_grid(steps), exact)


def test_bad_float_grid_steps():
    for steps in (0, -1, 2.5, True):
        with pytest.raises(InvalidInputError):
            numerics.timestep_grid(steps)


@pytest.mark.parametrize("name", ["vp", "ve", "linear"])
def test_psi_is_accurate_to_float64_rounding_on_the_whole_grid(name):
    """psi_t against its exact value at the same (binary) grid times, t_0 = 0.999 included, where psi is ~1e-6
    for the linear schedule: a few ulps, not the digits an expanded numerator would lose."""
    t = numerics.timestep_grid()
    _, _, psi = numerics.schedule_coefficients(t, name)
    schedule = theory.get_schedule(name)
    ratio = schedule.alpha**2 / schedule.sigma**2
    exact = np.array([float(sp.N(ratio.subs(theory.T, sp.Rational(float(tv))), 30)) for tv in t])
    assert np.max(np.abs(psi / exact - 1)) <= 1e-14
