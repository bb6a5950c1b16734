"""JAX denoisers vs the float64 NumPy reference, in both dtypes, over the whole timestep grid."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from seeds import fresh_seed

from memlab import gpu_kernels, numerics

TOL = {jnp.float64: dict(rtol=1e-9, atol=1e-9), jnp.float32: dict(rtol=2e-3, atol=2e-3)}


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_isotropic_denoiser_matches_reference_on_grid(dtype):
    seed = fresh_seed()
    ds = numerics.make_gmm_dataset(d=10, k=4, n=30, seed=seed)
    rng = np.random.default_rng(seed)
    grid = numerics.timestep_grid()
    alpha, sigma, _ = numerics.schedule_coefficients(grid)
    fn = jax.jit(lambda x, a, s, mu, v: gpu_kernels.isotropic_gmm_denoiser(x, alpha=a, sigma=s, means=mu, variance=v))
    for a, s in zip(alpha, sigma):
        x = a * ds.x_train[:8] + s * rng.standard_normal((8, 10))
        for variance, means in ((1.0, ds.means), (0.0, ds.x_train)):
            ref = numerics.isotropic_gmm_denoiser(x, alpha=a, sigma=s, means=means, variance=variance)
            got = fn(
                jnp.asarray(x, dtype),
                jnp.asarray(a, dtype),
                jnp.asarray(s, dtype),
                jnp.asarray(means, dtype),
                jnp.asarray(variance, dtype),
            )
            assert np.all(np.isfinite(np.asarray(got))), f"seed={seed}"
            # float32 scale: the outputs are O(sqrt(d)) vectors, compare relative to that scale.
            np.testing.assert_allclose(np.asarray(got, np.float64), ref, **TOL[dtype], err_msg=f"seed={seed}")


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_partial_memorizing_denoiser_matches_reference_on_grid(dtype):
    seed = fresh_seed()
    ds = numerics.make_gmm_dataset(d=10, k=4, n=30, seed=seed)
    rng = np.random.default_rng(seed)
    alpha, sigma, _ = numerics.schedule_coefficients(numerics.timestep_grid())
    fn = jax.jit(
        lambda x, a, s, train, m: gpu_kernels.partial_memorizing_denoiser(x, alpha=a, sigma=s, train=train, m=m)
    )
    for a, s in zip(alpha, sigma):
        x = a * ds.x_train[:8] + s * rng.standard_normal((8, 10))
        for m in (1, 7, 30):
            ref = numerics.partial_memorizing_denoiser(x, alpha=a, sigma=s, train=ds.x_train, m=m)
            got = fn(
                jnp.asarray(x, dtype), jnp.asarray(a, dtype), jnp.asarray(s, dtype), jnp.asarray(ds.x_train, dtype), m
            )
            assert np.all(np.isfinite(np.asarray(got)))
            np.testing.assert_allclose(np.asarray(got, np.float64), ref, **TOL[dtype], err_msg=f"seed={seed}")


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_gmm_denoiser_matches_lemma_2_1_reference(dtype):
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    d, m = 4, 3
    factors = rng.standard_normal((m, d, d))
    covariances = factors @ np.swapaxes(factors, 1, 2) / d + 0.1 * np.eye(d)
    means = 2 * rng.standard_normal((m, d))
    weights = rng.dirichlet(np.ones(m))
    fn = jax.jit(
        lambda x, a, s, mu, cov, w: gpu_kernels.gmm_denoiser(x, alpha=a, sigma=s, means=mu, covariances=cov, weights=w)
    )
    alpha, sigma, _ = numerics.schedule_coefficients(numerics.timestep_grid())
    for a, s in zip(alpha, sigma):
        x = a * means[rng.integers(0, m, 6)] + s * rng.standard_normal((6, d))
        ref = numerics.gmm_denoiser(x, alpha=a, sigma=s, means=means, covariances=covariances, weights=weights)
        got = fn(*(jnp.asarray(v, dtype) for v in (x, a, s, means, covariances, weights)))
        assert np.all(np.isfinite(np.asarray(got)))
        tol = TOL[dtype]
        np.testing.assert_allclose(np.asarray(got, np.float64), ref, **tol, err_msg=f"seed={seed}, sigma={s}")
