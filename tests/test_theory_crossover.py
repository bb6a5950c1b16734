from fractions import Fraction

import pytest
import sympy as sp

from memlab import InvalidInputError, theory


def _grid(steps=25):
    return [Fraction(999, 1000) - Fraction(998, 1000) * Fraction(ell, steps) for ell in range(steps + 1)]


@pytest.mark.parametrize("c", [1, 2, Fraction(3, 2)])
def test_discrete_vp_exact(c):
    grid = _grid()
    # VP, sigma_*^2 = 1: 1/(psi + 1) = t^2; eps: lambda = 1/t^2 - 1, lambda/(psi+1) = 1 - t^2
    x0 = 1 - sum(t * t for t in grid) / len(grid) / c
    eps = 1 - sum(1 - t * t for t in grid) / (c * sum(1 / (t * t) - 1 for t in grid))
    for weighting, expected in (("x0", x0), ("eps", eps)):
        got = theory.crossover_exact(c=c, weighting=weighting)
        assert got.exact and got.m_star_over_n == sp.Rational(expected.numerator, expected.denominator)


def test_continuous_vp_exact():
    a, b = sp.Rational(1, 1000), sp.Rational(999, 1000)
    int_t2 = (b**3 - a**3) / 3
    x0 = 1 - int_t2 / (b - a) / 2
    eps = 1 - ((b - a) - int_t2) / (2 * (1 / a - 1 / b - (b - a)))
    assert theory.crossover_exact(continuous=True).m_star_over_n == x0
    assert theory.crossover_exact(continuous=True, weighting="eps").m_star_over_n == eps


def test_user_weights_exact_and_errors():
    got = theory.crossover_exact(weights=["0"] * 16 + ["1"] + ["0"] * 9, c=2, sigma2="1/2")
    t = sp.Rational(36028, 100000)
    psi = (1 - t**2) / t**2
    assert got.m_star_over_n == 1 - 1 / (2 * (psi / 2 + 1))
    with pytest.raises(InvalidInputError):
        theory.crossover_exact(weights=[1] * 26, continuous=True)
    for bad in ({"c": 0}, {"sigma2": -1}, {"sigma2": float("nan")}, {"weighting": "nope"}):
        with pytest.raises(InvalidInputError):
            theory.crossover_exact(**bad)
