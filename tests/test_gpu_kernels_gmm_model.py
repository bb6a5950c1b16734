"""The trainable eq. 11 model against the float64 reference, and the partial-memorization initialisation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memlab import gpu_kernels, numerics
from memlab._errors import InvalidInputError


def test_gmm_apply_matches_reference():
    ds = numerics.make_gmm_dataset(d=6, k=3, n=20, seed=5)
    rng = np.random.default_rng(1)
    params = gpu_kernels.gmm_params(ds.means, 0.8)
    x = rng.standard_normal((11, 6)) * 2
    for alpha, sigma in ((0.9, 0.4), (0.1, 0.995)):
        got = gpu_kernels.gmm_apply(params, jnp.asarray(x), alpha, sigma)
        ref = numerics.isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=ds.means, variance=0.8)
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-12, atol=1e-12)
    assert float(gpu_kernels.gmm_variance(params)) == pytest.approx(0.8, rel=1e-15)


def test_zero_variance_is_the_memorizing_denoiser():
    ds = numerics.make_gmm_dataset(d=4, k=2, n=9, seed=6)
    params = gpu_kernels.gmm_params(ds.x_train, 0.0)
    x = np.random.default_rng(2).standard_normal((5, 4))
    got = gpu_kernels.gmm_apply(params, jnp.asarray(x), 0.8, 0.6)
    np.testing.assert_allclose(
        np.asarray(got), numerics.memorizing_denoiser(x, alpha=0.8, sigma=0.6, train=ds.x_train), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("m", [1, 7, 20])
def test_partial_memorization_init_distinct_samples(m):
    ds = numerics.make_gmm_dataset(d=3, k=2, n=20, seed=7)
    params = gpu_kernels.partial_memorization_init(ds.x_train, m, key=jax.random.key(3))
    means = np.asarray(params["means"])
    assert means.shape == (m, 3)
    # each mean is a training sample, and no sample is used twice
    match = np.all(means[:, None, :] == ds.x_train[None, :, :], axis=-1)  # (M, N)
    assert np.all(match.sum(axis=1) == 1)
    assert np.all(match.sum(axis=0) <= 1)
    assert float(gpu_kernels.gmm_variance(params)) == pytest.approx(1e-6, rel=1e-12)


def test_partial_memorization_init_more_components_than_samples():
    ds = numerics.make_gmm_dataset(d=3, k=2, n=10, seed=8)
    means = np.asarray(gpu_kernels.partial_memorization_init(ds.x_train, 25, key=jax.random.key(4))["means"])
    counts = np.all(means[:, None, :] == ds.x_train[None, :, :], axis=-1).sum(axis=0)  # uses of each sample
    assert counts.sum() == 25 and set(counts.tolist()) <= {2, 3}  # all samples, then repeats
    np.testing.assert_array_equal(means[:10], means[10:20])


def test_partial_memorization_init_is_a_function_of_the_key():
    ds = numerics.make_gmm_dataset(d=3, k=2, n=30, seed=9)
    a = gpu_kernels.partial_memorization_init(ds.x_train, 10, key=jax.random.key(5))
    b = gpu_kernels.partial_memorization_init(ds.x_train, 10, key=jax.random.key(5))
    c = gpu_kernels.partial_memorization_init(ds.x_train, 10, key=jax.random.key(6))
    np.testing.assert_array_equal(a["means"], b["means"])
    assert not np.array_equal(a["means"], c["means"])
    f32 = gpu_kernels.partial_memorization_init(ds.x_train, 10, key=jax.random.key(5), dtype=jnp.float32)
    assert f32["means"].dtype == jnp.float32 and f32["log_variance"].dtype == jnp.float32


def test_init_bad_input():
    with pytest.raises(InvalidInputError):
        gpu_kernels.partial_memorization_init(np.zeros(5), 2, key=jax.random.key(0))
    with pytest.raises(InvalidInputError):
        gpu_kernels.partial_memorization_init(np.zeros((5, 2)), 0, key=jax.random.key(0))


def test_pmem_apply_matches_reference_for_every_m_without_retracing():
    ds = numerics.make_gmm_dataset(d=5, k=2, n=12, seed=10)
    x = np.random.default_rng(4).standard_normal((7, 5))
    fn = jax.jit(gpu_kernels.pmem_apply)
    for m in (1, 5, 12):
        got = fn(gpu_kernels.pmem_params(ds.x_train, m), jnp.asarray(x), 0.8, 0.6)
        ref = numerics.partial_memorizing_denoiser(x, alpha=0.8, sigma=0.6, train=ds.x_train, m=m)
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-12, atol=1e-12)
    assert fn._cache_size() == 1


@pytest.mark.parametrize(
    "alpha, sigma, variance", [(0.9, 0.4, 0.8), (0.2, 0.98, 1e-6), (0.9990, 0.0447, 1e-6), (0.5, 0.87, 3.0)]
)
def test_fused_loss_and_gradient_match_autodiff(alpha, sigma, variance):
    # float64, fresh random inputs: value and gradient of sum_i w_i |D(alpha x0_i + sigma z_i) - x0_i|^2 from the
    # hand-written backward pass against jax.value_and_grad through gmm_apply (zero weights mask points).
    rng = np.random.default_rng(np.random.SeedSequence().entropy)
    n_points, m, d = 41, 13, 6
    params = gpu_kernels.gmm_params(rng.standard_normal((m, d)) * 2, variance)
    x0, noise = jnp.asarray(rng.standard_normal((n_points, d)) * 1.5), jnp.asarray(rng.standard_normal((n_points, d)))
    weights = jnp.asarray(rng.random(n_points) * (rng.random(n_points) > 0.2))

    def plain(p):
        err = gpu_kernels.gmm_apply(p, alpha * x0 + sigma * noise, alpha, sigma) - x0
        return jnp.sum(weights * jnp.sum(err * err, axis=-1))

    want_value, want_grad = jax.value_and_grad(plain)(params)
    value, grad = gpu_kernels.gmm_loss_and_grad(params, x0, noise, alpha, sigma, weights)
    assert float(value) == pytest.approx(float(want_value), rel=1e-13)
    for name in ("means", "log_variance"):
        np.testing.assert_allclose(
            np.asarray(grad[name]),
            np.asarray(want_grad[name]),
            rtol=1e-10,
            atol=1e-12 * float(np.abs(np.asarray(want_grad[name])).max()),
            err_msg=name,
        )
