"""Theorem 3.1/3.2 leading-order approximations (interim float64 versions used by Figure 1)."""

import numpy as np
import pytest

from memlab import numerics


def test_theorem_3_1_limits_and_value():
    # psi -> 0 (pure noise): the generalizing excess is d sigma2; psi -> inf: 0; sigma2 = 1, psi = 1: d/2.
    assert numerics.excess_gen_approx(0.0, d=50, sigma2=2.0) == pytest.approx(100.0)
    assert numerics.excess_gen_approx(1e12, d=50) == pytest.approx(0.0, abs=1e-9)
    assert numerics.excess_gen_approx(1.0, d=50) == pytest.approx(25.0)
    np.testing.assert_allclose(numerics.excess_gen_approx(np.array([0.0, 1.0]), d=4, sigma2=0.5), [2.0, 4 * 0.5 / 1.5])


def test_theorem_3_2_line():
    m = np.array([0, 100, 200])
    np.testing.assert_allclose(numerics.excess_pmem_approx(m, n=200, d=50, c=2.0), [100.0, 50.0, 0.0])
    np.testing.assert_allclose(numerics.excess_pmem_approx(m, n=200, d=50, sigma2=2.0, c=1.0), [100.0, 50.0, 0.0])


def test_agrees_with_the_symbolic_closed_forms():
    from memlab import theory

    psi = np.array([0.0, 0.3, 6.704, 1e6])
    gen = theory.excess_generalizing()
    for p, value in zip(psi, numerics.excess_gen_approx(psi, d=7, sigma2=0.4)):
        assert value == pytest.approx(float(gen.subs({theory.PSI: p, theory.D: 7, theory.SIGMA2: 0.4})), rel=1e-14)
    pmem = theory.excess_pmem()
    expected = float(pmem.subs({theory.C: 1.5, theory.M: 30, theory.N: 200, theory.D: 7, theory.SIGMA2: 0.4}))
    assert numerics.excess_pmem_approx(30, n=200, d=7, sigma2=0.4, c=1.5) == pytest.approx(expected, rel=1e-14)
