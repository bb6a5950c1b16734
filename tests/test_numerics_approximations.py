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
