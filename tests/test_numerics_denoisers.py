"""The float64 reference denoisers against each other and against first principles."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from memlab import numerics


def _random_case(seed, b=5, m=4, d=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((b, d)) * 2, rng.standard_normal((m, d)) * 2, rng


@given(seed=st.integers(0, 2**32 - 1), t=st.floats(0.01, 0.99), variance=st.floats(0.01, 5.0))
def test_isotropic_is_lemma_2_1_with_isotropic_covariances(seed, t, variance):
    x, means, _ = _random_case(seed)
    alpha, sigma = np.sqrt(1 - t * t), t
    covs = np.broadcast_to(variance * np.eye(3), (4, 3, 3))
    iso = numerics.isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=means, variance=variance)
    full = numerics.gmm_denoiser(x, alpha=alpha, sigma=sigma, means=means, covariances=covs)
    np.testing.assert_allclose(iso, full, rtol=1e-9, atol=1e-9)


def test_gmm_denoiser_is_posterior_mean_by_bayes_on_a_single_gaussian():
    # One Gaussian N(mu, S): E[X0 | Xt=x] = mu + S a (a^2 S + s^2 I)^{-1} (x - a mu), computed independently.
    rng = np.random.default_rng(1)
    d = 4
    a_mat = rng.standard_normal((d, d))
    cov = a_mat @ a_mat.T + 0.1 * np.eye(d)
    mu = rng.standard_normal(d)
    x = rng.standard_normal((3, d))
    alpha, sigma = 0.8, 0.6
    expected = mu + (cov @ np.linalg.solve(alpha**2 * cov + sigma**2 * np.eye(d), (x - alpha * mu).T)).T * alpha
    got = numerics.gmm_denoiser(x, alpha=alpha, sigma=sigma, means=mu[None], covariances=cov[None])
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_memorizing_limit_and_partial_prefix():
    x, train, _ = _random_case(2, m=6)
    mem = numerics.memorizing_denoiser(x, alpha=0.9, sigma=0.4, train=train)
    near_mem = numerics.isotropic_gmm_denoiser(x, alpha=0.9, sigma=0.4, means=train, variance=1e-12)
    np.testing.assert_allclose(mem, near_mem, atol=1e-9)
    np.testing.assert_allclose(
        numerics.partial_memorizing_denoiser(x, alpha=0.9, sigma=0.4, train=train, m=3),
        numerics.memorizing_denoiser(x, alpha=0.9, sigma=0.4, train=train[:3]),
    )
    with pytest.raises(ValueError):
        numerics.partial_memorizing_denoiser(x, alpha=0.9, sigma=0.4, train=train, m=7)


def test_memorizing_denoiser_is_stable_at_smallest_t():
    x, train, _ = _random_case(3, m=6, d=50)
    out = numerics.memorizing_denoiser(x * 5, alpha=np.sqrt(1 - 0.001**2), sigma=0.001, train=train)
    assert np.all(np.isfinite(out))
