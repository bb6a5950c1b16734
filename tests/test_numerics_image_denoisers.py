"""The O(c*D) Woodbury denoiser of the image mixture equals dense Lemma 2.1 (float64, random small cases)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from seeds import fresh_seed

from memlab import numerics


def _case(seed: int, m: int, side: int, channels: int):
    rng = np.random.default_rng(seed)
    templates = rng.random((m, side * side)) + 0.05 * rng.standard_normal((m, side * side))
    color_means = rng.standard_normal((m, channels))
    return rng, templates, color_means


@given(
    seed=st.integers(0, 2**31 - 1),
    m=st.integers(1, 5),
    side=st.integers(1, 4),
    channels=st.integers(1, 3),
    t_index=st.integers(0, 25),
    log_var=st.floats(-6.0, 1.5),
)
def test_woodbury_denoiser_equals_dense_lemma_2_1(seed, m, side, channels, t_index, log_var):
    rng, templates, color_means = _case(seed, m, side, channels)
    color_var = 10.0**log_var
    alpha, sigma, _ = numerics.schedule_coefficients(numerics.timestep_grid()[t_index])
    alpha, sigma = float(alpha), float(sigma)
    # Noisy points near the data (so the posterior is not trivially one-hot) and a few far away.
    labels = rng.integers(0, m, size=6)
    clean = numerics.kron_images(
        color_means[labels] + np.sqrt(color_var) * rng.standard_normal((6, channels)), templates[labels]
    )
    x = alpha * clean + sigma * rng.standard_normal(clean.shape)
    x[-1] *= 3.0
    means = numerics.kron_images(color_means, templates)
    covs = numerics.image_component_covariances(templates, color_var=color_var, channels=channels)
    dense = numerics.gmm_denoiser(x, alpha=alpha, sigma=sigma, means=means, covariances=covs)
    fast = numerics.low_rank_image_denoiser(
        x, alpha=alpha, sigma=sigma, templates=templates, color_means=color_means, color_var=color_var
    )
    scale = 1.0 + np.max(np.abs(dense))
    # Both are float64; the dense one goes through an LU solve of a matrix with condition number up to
    # 1 + alpha^2 s^2 |x|^2 / sigma^2 <= ~1e8 here, so allow ~1e-16 * 1e8 relative.
    np.testing.assert_allclose(fast, dense, rtol=0, atol=1e-7 * scale)


@pytest.mark.parametrize("t_index", [0, 8, 16, 25])
def test_shared_color_mean_and_posterior(t_index):
    rng, templates, _ = _case(3, 4, 3, 3)
    alpha, sigma, _ = numerics.schedule_coefficients(numerics.timestep_grid()[t_index])
    x = rng.standard_normal((5, 27))
    mu = np.array([0.3, -0.2, 1.0])
    shared = numerics.low_rank_image_denoiser(
        x, alpha=float(alpha), sigma=float(sigma), templates=templates, color_means=mu, color_var=0.8
    )
    tiled = numerics.low_rank_image_denoiser(
        x, alpha=float(alpha), sigma=float(sigma), templates=templates, color_means=np.tile(mu, (4, 1)), color_var=0.8
    )
    np.testing.assert_array_equal(shared, tiled)
    post = numerics.low_rank_image_posterior(
        x, alpha=float(alpha), sigma=float(sigma), templates=templates, color_means=mu, color_var=0.8
    )
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("t_index", [0, 16, 25])
def test_zero_color_variance_is_the_memorizing_denoiser(t_index):
    rng, templates, color_means = _case(7, 6, 3, 3)
    alpha, sigma, _ = numerics.schedule_coefficients(numerics.timestep_grid()[t_index])
    points = numerics.kron_images(color_means, templates)
    x = float(alpha) * points[rng.integers(0, 6, 4)] + float(sigma) * rng.standard_normal((4, 27))
    got = numerics.low_rank_image_denoiser(
        x, alpha=float(alpha), sigma=float(sigma), templates=templates, color_means=color_means, color_var=0.0
    )
    ref = numerics.memorizing_denoiser(x, alpha=float(alpha), sigma=float(sigma), train=points)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10 * (1 + np.abs(ref).max()))


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        numerics.low_rank_image_denoiser(
            np.zeros((2, 10)), alpha=0.9, sigma=0.4, templates=np.ones((2, 4)), color_means=np.zeros(3), color_var=1.0
        )
    with pytest.raises(ValueError, match="nonzero"):
        numerics.low_rank_image_denoiser(
            np.zeros((2, 12)), alpha=0.9, sigma=0.4, templates=np.zeros((2, 4)), color_means=np.zeros(3), color_var=1.0
        )


@pytest.mark.parametrize("t_index,color_var", [(16, 1.0), (4, 0.5), (24, 2.0)])
def test_posterior_variance_is_the_one_component_loss(t_index, color_var):
    """K = 1: E|x_*(alpha X_0 + sigma Z) - X_0|^2 = tr Cov[X_0 | X_t] exactly (Monte Carlo, fresh X_0 each draw).

    The loss is a mean of n i.i.d. non-negative terms; |mean - trace| < z * SE with z for a two-sided
    failure probability of 1e-6 (normal approximation, n = 4000).
    """
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    template = rng.random((1, 9))
    mu = np.array([0.3, -0.4, 0.2])
    alpha, sigma, _ = numerics.schedule_coefficients(numerics.timestep_grid()[t_index])
    alpha, sigma = float(alpha), float(sigma)
    n = 4000
    x0 = numerics.kron_images(mu + np.sqrt(color_var) * rng.standard_normal((n, 3)), np.repeat(template, n, 0))
    xt = alpha * x0 + sigma * rng.standard_normal(x0.shape)
    err = np.sum(
        (
            numerics.low_rank_image_denoiser(
                xt, alpha=alpha, sigma=sigma, templates=template, color_means=mu, color_var=color_var
            )
            - x0
        )
        ** 2,
        axis=1,
    )
    trace = numerics.low_rank_posterior_variance(template, alpha=alpha, sigma=sigma, color_var=color_var, channels=3)[0]
    from scipy.stats import norm

    assert abs(err.mean() - trace) < norm.isf(0.5e-6) * err.std(ddof=1) / np.sqrt(n), (seed, err.mean(), trace)
