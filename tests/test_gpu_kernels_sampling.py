"""DDIM (App. H.2): against the float64 loop, an exact closed form, the moments of pi_*, and memorization."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from memlab import gpu_kernels, numerics

GRID_T = numerics.timestep_grid()
ALPHAS, SIGMAS, _ = numerics.schedule_coefficients(GRID_T)


@pytest.mark.parametrize("final_denoise", [False, True])
def test_matches_float64_reference_loop(final_denoise):
    ds = numerics.make_gmm_dataset(d=6, k=3, n=15, seed=20)
    params = gpu_kernels.gmm_params(ds.means, 0.6)
    x_init = np.random.default_rng(0).standard_normal((16, 6))
    got = gpu_kernels.ddim_sample_model(
        gpu_kernels.gmm_apply, params, jnp.asarray(x_init), alphas=ALPHAS, sigmas=SIGMAS, final_denoise=final_denoise
    )

    def denoise(x, a, s):
        return numerics.isotropic_gmm_denoiser(x, alpha=a, sigma=s, means=ds.means, variance=0.6)

    ref = numerics.ddim_sample_reference(denoise, x_init, alphas=ALPHAS, sigmas=SIGMAS, final_denoise=final_denoise)
    np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-10, atol=1e-10)


def test_standard_gaussian_closed_form():
    # Target N(0, I) under VP (alpha = cos th, sigma = sin th): x_hat = alpha x, and one DDIM step multiplies x by
    # sin th' sin th + cos th' cos th = cos(th' - th). So the sample is x_init * prod_l cos(th_{l+1} - th_l).
    x_init = np.random.default_rng(1).standard_normal((8, 5))
    params = gpu_kernels.gmm_params(np.zeros((1, 5)), 1.0)
    got = gpu_kernels.ddim_sample_model(
        gpu_kernels.gmm_apply, params, jnp.asarray(x_init), alphas=ALPHAS, sigmas=SIGMAS
    )
    theta = np.arcsin(GRID_T)
    np.testing.assert_allclose(np.asarray(got), x_init * np.prod(np.cos(np.diff(theta))), rtol=1e-12)


def test_plain_denoiser_entry_point_and_no_retrace():
    ds = numerics.make_gmm_dataset(d=6, k=3, n=15, seed=21)
    x_init = jnp.asarray(np.random.default_rng(2).standard_normal((16, 6)))
    train = jnp.asarray(ds.x_train)

    def denoise(x, a, s):
        return gpu_kernels.memorizing_denoiser(x, alpha=a, sigma=s, train=train)

    plain = gpu_kernels.ddim_sample(denoise, x_init, alphas=ALPHAS, sigmas=SIGMAS)
    model = gpu_kernels.ddim_sample_model(
        gpu_kernels.gmm_apply, gpu_kernels.gmm_params(ds.x_train, 0.0), x_init, alphas=ALPHAS, sigmas=SIGMAS
    )
    np.testing.assert_allclose(np.asarray(plain), np.asarray(model), rtol=1e-12, atol=1e-12)
    before = gpu_kernels.trace_counts()["ddim"]
    gpu_kernels.ddim_sample(denoise, x_init + 1.0, alphas=ALPHAS, sigmas=SIGMAS)
    gpu_kernels.ddim_sample_model(
        gpu_kernels.gmm_apply, gpu_kernels.gmm_params(ds.x_train + 1.0, 0.5), x_init, alphas=ALPHAS, sigmas=SIGMAS
    )
    assert gpu_kernels.trace_counts()["ddim"] == before


def test_exact_generalizing_denoiser_samples_match_target_moments():
    # pi_* with K = 4 well-separated means (|mu_k - mu_l| ~ sqrt(2 d) = 10 >> sigma_* = 1), n = 2000 samples.
    # The paper's 25-step grid is coarse: for a unit Gaussian DDIM shrinks the variance by prod cos^2(dth) = 0.8725
    # (closed form above), so the moments are checked on a fine grid uniform in th (1000 steps), whose shrinkage
    # 1 - prod cos^2(dth) = 0.0023 is the discretization allowance. Each check has failure probability <= 1e-4
    # under the null, so the test fails by chance with probability < 4e-4.
    d, k, n = 50, 4, 2000
    ds = numerics.make_gmm_dataset(d=d, k=k, n=10, seed=22)
    theta = np.linspace(np.arcsin(0.999), np.arcsin(0.001), 1001)
    shrink = np.prod(np.cos(np.diff(theta)) ** 2)
    x_init = jax.random.normal(jax.random.key(23), (n, d), jnp.float64)
    samples = np.asarray(
        gpu_kernels.ddim_sample_model(
            gpu_kernels.gmm_apply,
            gpu_kernels.gmm_params(ds.means, 1.0),
            x_init,
            alphas=np.cos(theta),
            sigmas=np.sin(theta),
        )
    )
    labels = numerics.nearest_labels(samples, ds.means)
    counts = np.bincount(labels, minlength=k)
    # 1. mode proportions 1/K: chi-square goodness of fit
    assert stats.chisquare(counts).pvalue > 1e-4
    residual = samples - ds.means[labels]
    # 2. each mode's mean: n_k |mean residual|^2 ~ chi2(d) under pi_*; Bonferroni over K modes
    for j in range(k):
        statistic = counts[j] * np.sum(residual[labels == j].mean(axis=0) ** 2) / shrink
        assert stats.chi2.sf(statistic, d) > 1e-4 / k
    # 3. within-mode variance: sum |residual|^2 ~ chi2(n d) (mean n d, sd sqrt(2 n d)); 3.9 sd is p = 1e-4
    variance_ratio = np.sum(residual**2) / (n * d)
    assert abs(variance_ratio - 1) < 3.9 * np.sqrt(2 / (n * d)) + (1 - shrink)


def test_memorizing_denoiser_samples_are_memorized():
    ds = numerics.make_gmm_dataset(d=10, k=3, n=20, seed=24)
    x_init = jax.random.normal(jax.random.key(25), (50, 10), jnp.float64)
    samples = gpu_kernels.ddim_sample_model(
        gpu_kernels.gmm_apply, gpu_kernels.gmm_params(ds.x_train, 0.0), x_init, alphas=ALPHAS, sigmas=SIGMAS
    )
    result = numerics.memorization_ratio(np.asarray(samples), ds.x_train)
    assert result.ratio == 1.0
    # x_{t_L} sits within O(sigma_{t_L}) = 1e-3 (times sqrt(d)) of a training point
    assert np.max(np.min(np.linalg.norm(np.asarray(samples)[:, None] - ds.x_train[None], axis=-1), axis=1)) < 0.01


def test_float32_is_finite_on_the_grid():
    ds = numerics.make_gmm_dataset(d=50, k=12, n=200, seed=26)
    x_init = jax.random.normal(jax.random.key(27), (20, 50), jnp.float32)
    for means, variance in ((ds.x_train, 0.0), (ds.x_train, 1e-6), (ds.means, 1.0)):
        params = gpu_kernels.gmm_params(means, variance, dtype=jnp.float32)
        samples = gpu_kernels.ddim_sample_model(gpu_kernels.gmm_apply, params, x_init, alphas=ALPHAS, sigmas=SIGMAS)
        assert samples.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(samples)))
