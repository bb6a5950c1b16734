from fractions import Fraction

import mpmath
import pytest
import sympy as sp

from memlab import InvalidInputError, theory

T = theory.T


def _grid(steps):
    return [Fraction(999, 1000) - Fraction(998, 1000) * Fraction(ell, steps) for ell in range(steps + 1)]


def test_grid_average_exact():
    got = theory.grid_average(T**2 + 1 / T, 25)
    expected = sum(t * t + 1 / t for t in _grid(25)) / 26
    assert got.exact and got.value == sp.Rational(expected.numerator, expected.denominator)
    w = [0] * 25 + [2]
    got_w = theory.grid_average(T, 25, weights=[sp.Integer(v) for v in w])
    assert got_w.value == sp.Rational(2, 1000) / 26


def test_continuous_rational_is_exact():
    got = theory.continuous_average(T**2, "1/1000", "999/1000")
    a, b = sp.Rational(1, 1000), sp.Rational(999, 1000)
    assert got.exact and got.method == "integrate" and got.value == (b**3 - a**3) / (3 * (b - a))


@pytest.mark.parametrize("sigma2", [sp.Rational(3, 10), sp.Integer(1), sp.Integer(2)])
def test_continuous_complex_log_antiderivative_is_real(sigma2):
    # VP x0: 1/(psi sigma^2 + 1) = t^2 / (sigma^2 (1 - t^2) + t^2); sigma^2 = 2 gives complex logs in SymPy
    f = T**2 / (sigma2 * (1 - T**2) + T**2)
    got = theory.continuous_average(f, sp.Rational(1, 1000), sp.Rational(999, 1000))
    s = float(sigma2)
    with mpmath.workdps(30):
        ref = mpmath.quad(lambda t: t**2 / (s * (1 - t**2) + t**2), [0.001, 0.1, 0.999]) / mpmath.mpf(0.998)
    assert got.exact and got.value.is_real
    assert float(got.value) == pytest.approx(float(ref), rel=1e-14)


def test_non_rational_uses_quadrature():
    f = sp.sqrt(1 - T**2) / T**2  # not rational in t: no symbolic attempt
    got = theory.continuous_average(f, 0.001, 0.999)
    with mpmath.workdps(30):
        ref = mpmath.quad(lambda t: mpmath.sqrt(1 - t**2) / t**2, [0.001, 0.01, 0.1, 0.999]) / mpmath.mpf(0.998)
    assert not got.exact and got.method == "quadrature"
    # requested relative tolerance 1e-12 (its own estimate is checked inside); allow 10x
    assert float(got.value) == pytest.approx(float(ref), rel=1e-11)


def test_quad_log_t_on_one_over_t_squared():
    value, abserr = theory.quad_log_t(lambda t: 1 / t**2, 1e-3, 1.0)
    assert value == pytest.approx(999.0, rel=1e-12) and abserr < 1e-8


@pytest.mark.parametrize(
    "lo, hi", [(0.5, 0.5), (0.6, 0.5), (0.0, 0.5), (-0.1, 0.5), (0.1, 1.5), (float("nan"), 0.5), ("x", 0.5)]
)
def test_bad_time_range(lo, hi):
    with pytest.raises(InvalidInputError):
        theory.validate_time_range(lo, hi)


def test_free_parameters_rejected():
    with pytest.raises(InvalidInputError):
        theory.continuous_average(theory.SIGMA2 * T, 0.1, 0.9)
