"""The all-M Monte Carlo kernel against the float64 NumPy reference, a per-M loop, and its invariances.

Shapes are shared between tests so the jitted kernel compiles a handful of times only.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memlab import gpu_kernels, numerics

N, D, K, R = 11, 4, 3, 6
BLOCK = 4  # N = 11 is not a multiple: exercises the padding
T_VALUES = np.array([0.999, 0.5, 0.36028, 0.05, 0.001])
EPS32 = float(np.finfo(np.float32).eps)


def _fresh_seed() -> int:
    return int(np.random.SeedSequence().entropy % 2**31)


def _case(seed):
    ds = numerics.make_gmm_dataset(d=D, k=K, n=N, seed=seed)
    alphas, sigmas, _ = numerics.schedule_coefficients(T_VALUES)
    return ds, alphas, sigmas, jax.random.key(seed)


def _run(ds, alphas, sigmas, key, **kwargs):
    kwargs.setdefault("dtype", jnp.float64)
    kwargs.setdefault("block_size", BLOCK)
    return gpu_kernels.mc_excess_losses(ds.x_train, ds.means, ds.sigma2, alphas=alphas, sigmas=sigmas, draws=R,
                                        key=key, **kwargs)


def _noise(key, dtype):
    return np.asarray(gpu_kernels.noise_draws(key, jnp.arange(N), jnp.arange(R), d=D, dtype=dtype), np.float64)


def _scale(ds) -> float:
    """Largest squared distance between training points and means: the magnitude of every loss here."""
    pts = np.concatenate([ds.x_train, ds.means])
    return float(np.max(np.sum((pts[:, None] - pts[None]) ** 2, axis=-1)))


def _reference(ds, alphas, sigmas, noise):
    """float64 numerics: per-M pmem excess, x_* excess and x_mem loss (mean, se) per t."""
    out = {name: ([], []) for name in ("pmem", "gen", "mem")}
    for alpha, sigma in zip(alphas, sigmas):
        pmem = numerics.excess_losses_pmem(ds.x_train, alpha=alpha, sigma=sigma, noise=noise)
        gen = numerics.excess_loss(
            lambda x: numerics.isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=ds.means, variance=ds.sigma2),
            ds.x_train, alpha=alpha, sigma=sigma, noise=noise)
        mem = numerics.per_time_loss(lambda x: numerics.memorizing_denoiser(x, alpha=alpha, sigma=sigma,
                                                                             train=ds.x_train),
                                     ds.x_train, alpha=alpha, sigma=sigma, noise=noise)
        for name, ests in (("pmem", pmem), ("gen", [gen]), ("mem", [mem])):
            out[name][0].append([e.mean for e in ests])
            out[name][1].append([e.se for e in ests])
    return {name: (np.squeeze(np.array(m), -1) if name != "pmem" else np.array(m),
                   np.squeeze(np.array(s), -1) if name != "pmem" else np.array(s)) for name, (m, s) in out.items()}


def _assert_matches_reference(got, ref, atol, seed, t_index=slice(None)):
    pairs = [("excess_pmem", "pmem", 0), ("excess_pmem_se", "pmem", 1), ("excess_gen", "gen", 0),
             ("excess_gen_se", "gen", 1), ("loss_mem", "mem", 0), ("loss_mem_se", "mem", 1)]
    for name, ref_name, which in pairs:
        value, expected = getattr(got, name)[t_index], ref[ref_name][which]
        assert value.shape == expected.shape
        np.testing.assert_allclose(value, expected, rtol=0, atol=atol, err_msg=f"{name}, seed={seed}")


def test_float64_kernel_matches_numerics_reference():
    seed = _fresh_seed()
    ds, alphas, sigmas, key = _case(seed)
    got = _run(ds, alphas, sigmas, key)
    _assert_matches_reference(got, _reference(ds, alphas, sigmas, _noise(key, jnp.float64)), 1e-9 * _scale(ds), seed)


def test_all_m_kernel_matches_per_m_loop():
    seed = _fresh_seed()
    ds, alphas, sigmas, key = _case(seed)
    got = _run(ds, alphas, sigmas, key)
    noise = jnp.asarray(_noise(key, jnp.float64))
    x = jnp.asarray(ds.x_train)
    for ti, (alpha, sigma) in enumerate(zip(alphas, sigmas)):
        for m in range(1, N + 1):
            mean, se = gpu_kernels.excess_pmem_single_m(x, noise, m, alpha, sigma)
            scale = _scale(ds)
            assert abs(got.excess_pmem[ti, m - 1] - float(mean)) <= 1e-9 * scale, (seed, ti, m)
            assert abs(got.excess_pmem_se[ti, m - 1] - float(se)) <= 1e-9 * scale, (seed, ti, m)


def test_float32_is_finite_on_the_whole_grid_and_matches_reference_at_paper_scale():
    # d = 50, means on the sphere of radius sqrt(50): the logits reach |x|^2 / sigma^2 ~ 1e8 at t = 0.001.
    seed = _fresh_seed()
    n, d, draws = 24, 50, 3
    ds = numerics.make_gmm_dataset(d=d, k=12, n=n, seed=seed)
    alphas, sigmas, _ = numerics.schedule_coefficients(numerics.timestep_grid())
    key = jax.random.key(seed)
    got = gpu_kernels.mc_excess_losses(ds.x_train, ds.means, ds.sigma2, alphas=alphas, sigmas=sigmas, draws=draws,
                                       key=key, dtype=jnp.float32)
    for name in ("loss_mem", "loss_mem_se", "excess_pmem", "excess_pmem_se", "excess_gen", "excess_gen_se"):
        value = getattr(got, name)
        assert np.all(np.isfinite(value)), name
        assert np.all(value >= 0), name
    # Against the float64 reference (same float32 noise) at t_0 = 0.999, t_16 and t_25 = 0.001.
    # Tolerance: a float32 rounding bound c (N + d) eps |x|^2 with c = 8 for the accumulated sums.
    noise = np.asarray(gpu_kernels.noise_draws(key, jnp.arange(n), jnp.arange(draws), d=d, dtype=jnp.float32),
                       np.float64)
    picked = [0, numerics.REPRESENTATIVE_T_INDEX, 25]
    ref = _reference(ds, alphas[picked], sigmas[picked], noise)
    _assert_matches_reference(got, ref, 8 * (n + d) * EPS32 * _scale(ds), seed, t_index=picked)


def test_chunk_size_does_not_change_the_numbers():
    ds, alphas, sigmas, key = _case(_fresh_seed())
    whole = _run(ds, alphas, sigmas, key)
    tol = 1e-12 * _scale(ds)
    # chunk_size 4 < R: tiles of 2 samples (one per device) x 4 draws, the second draw tile half padding,
    # merged on the host.
    for chunk_size in (4,):
        tiled = _run(ds, alphas, sigmas, key, chunk_size=chunk_size)
        for name in ("excess_pmem", "excess_pmem_se", "excess_gen", "excess_gen_se", "loss_mem", "loss_mem_se"):
            np.testing.assert_allclose(getattr(tiled, name), getattr(whole, name), rtol=0, atol=tol, err_msg=name)


def test_two_devices_give_the_numbers_of_one():
    devices = jax.devices()
    if len(devices) < 2:
        pytest.skip("needs the 2 CPU devices set up in conftest")
    ds, alphas, sigmas, key = _case(_fresh_seed())
    sharded = _run(ds, alphas, sigmas, key)
    single = _run(ds, alphas, sigmas, key, devices=devices[:1])
    tol = 1e-12 * _scale(ds)
    for name in ("excess_pmem", "excess_pmem_se", "excess_gen", "loss_mem"):
        np.testing.assert_allclose(getattr(sharded, name), getattr(single, name), rtol=0, atol=tol, err_msg=name)


def test_same_key_same_numbers_and_no_retracing():
    ds, alphas, sigmas, key = _case(_fresh_seed())
    first = _run(ds, alphas, sigmas, key)
    traces = gpu_kernels.trace_counts()["mc_excess_losses"]
    second = _run(ds, alphas, sigmas, key)
    other_data = numerics.make_gmm_dataset(d=D, k=K, n=N, seed=_fresh_seed() + 1)
    _run(other_data, alphas[::-1], sigmas[::-1], jax.random.key(123))
    assert gpu_kernels.trace_counts()["mc_excess_losses"] == traces  # same shapes, new values: no new trace
    for leaf_a, leaf_b in zip(jax.tree_util.tree_leaves(first), jax.tree_util.tree_leaves(second)):
        assert np.array_equal(leaf_a, leaf_b)
    other_key = _run(ds, alphas, sigmas, jax.random.key(99))
    assert not np.array_equal(other_key.excess_pmem, first.excess_pmem)


def test_result_shapes_and_metadata():
    ds, alphas, sigmas, key = _case(3)
    got = _run(ds, alphas, sigmas, key)
    t_count = len(T_VALUES)
    assert got.excess_pmem.shape == got.excess_pmem_se.shape == (t_count, N)
    assert got.loss_mem.shape == got.excess_gen.shape == got.excess_gen_se.shape == (t_count,)
    assert got.draws == R and got.dtype == "float64"
    np.testing.assert_allclose(got.excess_pmem[:, -1], 0.0, atol=1e-9 * _scale(ds))  # M = N is x_mem itself


def test_bad_arguments_raise():
    ds, alphas, sigmas, key = _case(4)
    with pytest.raises(ValueError):
        gpu_kernels.mc_excess_losses(ds.x_train, ds.means[:, :2], 1.0, alphas=alphas, sigmas=sigmas, draws=2, key=key)
    with pytest.raises(ValueError):
        gpu_kernels.mc_excess_losses(ds.x_train, ds.means, 1.0, alphas=alphas, sigmas=sigmas[:2], draws=2, key=key)
    with pytest.raises(ValueError):
        gpu_kernels.mc_excess_losses(ds.x_train, ds.means, 1.0, alphas=alphas, sigmas=sigmas, draws=0, key=key)
    with pytest.raises(ValueError):
        gpu_kernels.mc_excess_losses(ds.x_train, ds.means, 1.0, alphas=alphas, sigmas=sigmas, draws=2, key=key,
                                     dtype=jnp.float16)
