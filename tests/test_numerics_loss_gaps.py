"""numerics._loss_gaps against the Theorem 3.1/3.2 formulas written out here (Theorems 3.1/3.2; VP: 1/(psi+1) = t^2)."""

import numpy as np
import pytest

from memlab import InvalidInputError, numerics


def grid(steps=25):
    return 0.999 - 0.998 * np.arange(steps + 1) / steps


@pytest.mark.parametrize("n,d", [(50, 30), (200, 60)])
def test_approx_gaps_per_dim_vp(n, d):
    gaps = numerics.approx_loss_gaps(n, d=d, k=3)
    m = np.arange(1, n + 1)
    t = grid()
    expected = 2 * (1 - m[None, :] / n) - t[:, None] ** 2  # C = 2, sigma2 = 1, VP: 1/(psi+1) = sigma_t^2 = t^2
    assert gaps.gaps.shape == (26, n)
    np.testing.assert_allclose(gaps.gaps, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(gaps.m_values, m)
    assert gaps.scale == d and gaps.source == "approx" and gaps.gaps_se is None


def test_approx_gaps_raw_scale_and_sigma2():
    n, d, s2, c = 40, 20, 2.5, 1.5
    gaps = numerics.approx_loss_gaps(n, d=d, sigma2=s2, c=c, normalize="none", m_values=[4, 10, 40])
    t = grid()
    psi = (1 - t**2) / t**2
    m = np.array([4, 10, 40])
    expected = c * (1 - m[None, :] / n) * d * s2 - d * s2 / (psi[:, None] * s2 + 1)
    np.testing.assert_allclose(gaps.gaps, expected, rtol=1e-12)
    assert gaps.scale == 1.0


def test_exact_gaps_from_excess_losses():
    rng = np.random.default_rng(0)
    n, d, steps = 6, 4, 3
    pmem = rng.uniform(0, 5, (steps + 1, n))
    gen = rng.uniform(0, 5, steps + 1)
    se_p, se_g = rng.uniform(0, 0.1, pmem.shape), rng.uniform(0, 0.1, gen.shape)
    gaps = numerics.exact_loss_gaps(
        pmem, gen, n=n, d=d, sigma2=2.0, excess_pmem_se=se_p, excess_gen_se=se_g, m_values=[2, 5]
    )
    np.testing.assert_allclose(gaps.gaps, (pmem[:, [1, 4]] - gen[:, None]) / 8.0)
    np.testing.assert_allclose(gaps.gaps_se, np.sqrt(se_p[:, [1, 4]] ** 2 + se_g[:, None] ** 2) / 8.0)
    assert gaps.steps == steps and gaps.source == "exact"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"normalize": "bogus"},
        {"m_values": [0, 3]},
        {"m_values": [3, 2]},
        {"m_values": [61]},
        {"sigma2": -1.0},
        {"c": 0.0},
        {"m_values": [1.5]},
    ],
)
def test_approx_gaps_bad_input(kwargs):
    with pytest.raises(InvalidInputError):
        numerics.approx_loss_gaps(60, d=10, **kwargs)


def test_exact_gaps_bad_shapes():
    with pytest.raises(InvalidInputError):
        numerics.exact_loss_gaps(np.zeros((3, 5)), np.zeros(3), n=4, d=2)
    with pytest.raises(InvalidInputError):
        numerics.exact_loss_gaps(np.full((3, 4), np.nan), np.zeros(3), n=4, d=2)
