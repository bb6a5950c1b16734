"""The all-M Monte Carlo kernel against the float64 NumPy reference, a per-M loop, and its invariances.

Both engines are checked: the native CPU kernel (``native=True``, C++ through the XLA FFI; skipped where it
cannot be built) and the portable XLA path (``native=False``, what GPUs run). Shapes are shared between tests
so the jitted kernels compile a handful of times only.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from seeds import fresh_seed

from memlab import gpu_kernels, numerics
from memlab._errors import InvalidInputError
from memlab.gpu_kernels import _losses
from memlab.gpu_kernels._native import native_kernel, native_kernel_status

N, D, K, R = 11, 4, 3, 6
BLOCK = 4  # N = 11 is not a multiple: exercises the padding
T_VALUES = np.array([0.999, 0.5, 0.36028, 0.05, 0.001])
EPS32 = float(np.finfo(np.float32).eps)


ENGINES = [pytest.param(True, id="native"), pytest.param(False, id="xla")]


@pytest.fixture(params=ENGINES)
def native(request):
    """Which engine a test runs; the native one is skipped (with the reason) where it cannot be built."""
    if request.param and native_kernel("float64") is None:
        pytest.skip(f"native CPU kernel unavailable: {native_kernel_status()}")
    return request.param


def _case(seed):
    ds = numerics.make_gmm_dataset(d=D, k=K, n=N, seed=seed)
    alphas, sigmas, _ = numerics.schedule_coefficients(T_VALUES)
    return ds, alphas, sigmas, jax.random.key(seed)


def _run(ds, alphas, sigmas, key, **kwargs):
    kwargs.setdefault("dtype", jnp.float64)
    kwargs.setdefault("block_size", BLOCK)
    result = gpu_kernels.mc_excess_losses(
        ds.x_train, ds.means, ds.sigma2, alphas=alphas, sigmas=sigmas, draws=R, key=key, **kwargs
    )
    assert result.engine == ("native" if kwargs.get("native", True) else "xla")  # the engine under test ran
    return result


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

        def star(x, alpha=alpha, sigma=sigma):
            return numerics.isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=ds.means, variance=ds.sigma2)

        def mem_denoiser(x, alpha=alpha, sigma=sigma):
            return numerics.memorizing_denoiser(x, alpha=alpha, sigma=sigma, train=ds.x_train)

        gen = numerics.excess_loss(star, ds.x_train, alpha=alpha, sigma=sigma, noise=noise)
        mem = numerics.per_time_loss(mem_denoiser, ds.x_train, alpha=alpha, sigma=sigma, noise=noise)
        for name, ests in (("pmem", pmem), ("gen", [gen]), ("mem", [mem])):
            out[name][0].append([e.mean for e in ests])
            out[name][1].append([e.se for e in ests])
    return {
        name: (
            np.squeeze(np.array(m), -1) if name != "pmem" else np.array(m),
            np.squeeze(np.array(s), -1) if name != "pmem" else np.array(s),
        )
        for name, (m, s) in out.items()
    }


def _assert_matches_reference(got, ref, atol, seed, t_index=slice(None)):
    pairs = [
        ("excess_pmem", "pmem", 0),
        ("excess_pmem_se", "pmem", 1),
        ("excess_gen", "gen", 0),
        ("excess_gen_se", "gen", 1),
        ("loss_mem", "mem", 0),
        ("loss_mem_se", "mem", 1),
    ]
    for name, ref_name, which in pairs:
        value, expected = getattr(got, name)[t_index], ref[ref_name][which]
        assert value.shape == expected.shape
        np.testing.assert_allclose(value, expected, rtol=0, atol=atol, err_msg=f"{name}, seed={seed}")


def test_float64_kernel_matches_numerics_reference(native):
    seed = fresh_seed()
    ds, alphas, sigmas, key = _case(seed)
    got = _run(ds, alphas, sigmas, key, native=native)
    _assert_matches_reference(got, _reference(ds, alphas, sigmas, _noise(key, jnp.float64)), 1e-9 * _scale(ds), seed)


def test_all_m_kernel_matches_per_m_loop(native):
    seed = fresh_seed()
    ds, alphas, sigmas, key = _case(seed)
    got = _run(ds, alphas, sigmas, key, native=native)
    noise = jnp.asarray(_noise(key, jnp.float64))
    x = jnp.asarray(ds.x_train)
    for ti, (alpha, sigma) in enumerate(zip(alphas, sigmas)):
        for m in range(1, N + 1):
            mean, se = gpu_kernels.excess_pmem_single_m(x, noise, m, alpha, sigma)
            scale = _scale(ds)
            assert abs(got.excess_pmem[ti, m - 1] - float(mean)) <= 1e-9 * scale, (seed, ti, m)
            assert abs(got.excess_pmem_se[ti, m - 1] - float(se)) <= 1e-9 * scale, (seed, ti, m)


def test_float32_is_finite_on_the_whole_grid_and_matches_reference_at_paper_scale(native):
    # d = 50, means on the sphere of radius sqrt(50): the logits reach |x|^2 / sigma^2 ~ 1e8 at t = 0.001.
    seed = fresh_seed()
    n, d, draws = 24, 50, 3
    ds = numerics.make_gmm_dataset(d=d, k=12, n=n, seed=seed)
    alphas, sigmas, _ = numerics.schedule_coefficients(numerics.timestep_grid())
    key = jax.random.key(seed)
    got = gpu_kernels.mc_excess_losses(
        ds.x_train,
        ds.means,
        ds.sigma2,
        alphas=alphas,
        sigmas=sigmas,
        draws=draws,
        key=key,
        dtype=jnp.float32,
        native=native,
    )
    assert got.engine == ("native" if native else "xla")
    for name in ("loss_mem", "loss_mem_se", "excess_pmem", "excess_pmem_se", "excess_gen", "excess_gen_se"):
        value = getattr(got, name)
        assert np.all(np.isfinite(value)), name
        assert np.all(value >= 0), name
    # Against the float64 reference (same float32 noise) at t_0 = 0.999, t_16 and t_25 = 0.001.
    # Tolerance: a float32 rounding bound c (N + d) eps |x|^2 with c = 8 for the accumulated sums.
    noise = np.asarray(
        gpu_kernels.noise_draws(key, jnp.arange(n), jnp.arange(draws), d=d, dtype=jnp.float32), np.float64
    )
    picked = [0, numerics.REPRESENTATIVE_T_INDEX, 25]
    ref = _reference(ds, alphas[picked], sigmas[picked], noise)
    _assert_matches_reference(got, ref, 8 * (n + d) * EPS32 * _scale(ds), seed, t_index=picked)


def test_chunk_size_does_not_change_the_numbers(native):
    ds, alphas, sigmas, key = _case(fresh_seed())
    whole = _run(ds, alphas, sigmas, key, native=native)
    tol = 1e-12 * _scale(ds)
    # chunk_size 4 < R: tiles of 2 samples (one per device) x 4 draws, the second draw tile half padding,
    # merged on the host.
    for chunk_size in (4,):
        tiled = _run(ds, alphas, sigmas, key, chunk_size=chunk_size, native=native)
        for name in ("excess_pmem", "excess_pmem_se", "excess_gen", "excess_gen_se", "loss_mem", "loss_mem_se"):
            np.testing.assert_allclose(getattr(tiled, name), getattr(whole, name), rtol=0, atol=tol, err_msg=name)


def test_two_devices_give_the_numbers_of_one(native):
    devices = jax.devices()
    if len(devices) < 2:
        pytest.skip("needs the 2 CPU devices set up in conftest")
    ds, alphas, sigmas, key = _case(fresh_seed())
    sharded = _run(ds, alphas, sigmas, key, native=native)
    single = _run(ds, alphas, sigmas, key, devices=devices[:1], native=native)
    tol = 1e-12 * _scale(ds)
    for name in ("excess_pmem", "excess_pmem_se", "excess_gen", "loss_mem"):
        np.testing.assert_allclose(getattr(sharded, name), getattr(single, name), rtol=0, atol=tol, err_msg=name)


def test_same_key_same_numbers_and_no_retracing(native):
    ds, alphas, sigmas, key = _case(fresh_seed())
    first = _run(ds, alphas, sigmas, key, native=native)
    traces = gpu_kernels.trace_counts()["mc_excess_losses"]
    second = _run(ds, alphas, sigmas, key, native=native)
    other_data = numerics.make_gmm_dataset(d=D, k=K, n=N, seed=fresh_seed() + 1)
    _run(other_data, alphas[::-1], sigmas[::-1], jax.random.key(123), native=native)
    assert gpu_kernels.trace_counts()["mc_excess_losses"] == traces  # same shapes, new values: no new trace
    for leaf_a, leaf_b in zip(jax.tree_util.tree_leaves(first), jax.tree_util.tree_leaves(second)):
        assert np.array_equal(leaf_a, leaf_b)
    other_key = _run(ds, alphas, sigmas, jax.random.key(99), native=native)
    assert not np.array_equal(other_key.excess_pmem, first.excess_pmem)


def test_result_shapes_and_metadata(native):
    ds, alphas, sigmas, key = _case(3)
    got = _run(ds, alphas, sigmas, key, native=native)
    t_count = len(T_VALUES)
    assert got.excess_pmem.shape == got.excess_pmem_se.shape == (t_count, N)
    assert got.loss_mem.shape == got.excess_gen.shape == got.excess_gen_se.shape == (t_count,)
    assert got.draws == R and got.dtype == "float64" and got.chunk_size == gpu_kernels.DEFAULT_CHUNK_SIZE
    np.testing.assert_allclose(got.excess_pmem[:, -1], 0.0, atol=1e-9 * _scale(ds))  # M = N is x_mem itself
    if native:  # the native recursion reproduces u_N bit for bit in its second pass
        assert np.all(got.excess_pmem[:, -1] == 0.0)


def test_bad_arguments_raise():
    ds, alphas, sigmas, key = _case(4)
    with pytest.raises(ValueError):
        gpu_kernels.mc_excess_losses(ds.x_train, ds.means[:, :2], 1.0, alphas=alphas, sigmas=sigmas, draws=2, key=key)
    with pytest.raises(ValueError):
        gpu_kernels.mc_excess_losses(ds.x_train, ds.means, 1.0, alphas=alphas, sigmas=sigmas[:2], draws=2, key=key)
    with pytest.raises(ValueError):
        gpu_kernels.mc_excess_losses(ds.x_train, ds.means, 1.0, alphas=alphas, sigmas=sigmas, draws=0, key=key)
    with pytest.raises(ValueError):
        gpu_kernels.mc_excess_losses(
            ds.x_train, ds.means, 1.0, alphas=alphas, sigmas=sigmas, draws=2, key=key, dtype=jnp.float16
        )


def test_native_and_xla_engines_agree(native):
    if not native:
        pytest.skip("compares the native engine with the XLA one")
    seed = fresh_seed()
    ds, alphas, sigmas, key = _case(seed)
    native_result = _run(ds, alphas, sigmas, key, native=True)
    xla_result = _run(ds, alphas, sigmas, key, native=False)
    for name in ("excess_pmem", "excess_pmem_se", "excess_gen", "excess_gen_se", "loss_mem", "loss_mem_se"):
        np.testing.assert_allclose(
            getattr(native_result, name),
            getattr(xla_result, name),
            rtol=0,
            atol=1e-10 * _scale(ds),
            err_msg=f"{name}, seed={seed}",
        )


def test_native_numbers_do_not_depend_on_the_thread_count(native, monkeypatch):
    if not native:
        pytest.skip("native kernel only")
    ds, alphas, sigmas, key = _case(fresh_seed())
    monkeypatch.setenv("MEMLAB_NATIVE_THREADS", "1")
    one = _run(ds, alphas, sigmas, key, devices=jax.devices()[:1])
    monkeypatch.setenv("MEMLAB_NATIVE_THREADS", "3")
    three = _run(ds, alphas, sigmas, key, devices=jax.devices()[:1])
    for leaf_a, leaf_b in zip(jax.tree_util.tree_leaves(one), jax.tree_util.tree_leaves(three)):
        assert np.array_equal(leaf_a, leaf_b)


# ----------------------------------------------------------------------------------------------------------
# Memory: the stated bound, the refusal before allocating, the default chunk that shrinks to fit
# ----------------------------------------------------------------------------------------------------------


def _buffer_bytes(n, d, k, times, draws, chunk, native_engine, dtype=jnp.float32):
    """What XLA's buffer assignment reserves for one tile call (temporaries + arguments + outputs), plus the
    native kernel's own per-thread scratch (outside XLA's view, counted from its definition in mc_tile.cc)."""
    device = jax.devices()[:1]
    layout = gpu_kernels.tile_layout(n, draws, chunk_size=chunk, devices=1, block_size=gpu_kernels.DEFAULT_BLOCK_SIZE)
    _, tile_fn, is_native = _losses._tile_function(tuple(device), layout, jnp.dtype(dtype).name, native_engine, 1)
    assert is_native == native_engine
    spec = lambda *shape: jax.ShapeDtypeStruct(shape, dtype)
    index = lambda size: jax.ShapeDtypeStruct((size,), jnp.int32)
    args = (
        spec(n, d),
        spec(k, d),
        spec(),
        spec(times),
        spec(times),
        index(layout.samples),
        spec(layout.samples),
        index(layout.draws),
        spec(layout.draws),
        jax.random.key(0),
    )
    analysis = tile_fn.lower(*args).compile().memory_analysis()
    total = analysis.temp_size_in_bytes + analysis.argument_size_in_bytes + analysis.output_size_in_bytes
    if native_engine:  # mc_tile.cc: the padded points (shared) and one thread's Scratch
        d_pad, lanes = -(-d // 8) * 8, 8
        group_samples = -(-layout.samples // min(layout.samples, 8))
        total += jnp.dtype(dtype).itemsize * (
            layout.n_pad * d_pad
            + 5 * lanes * layout.n_pad
            + lanes * d_pad
            + d
            + k
            + group_samples * layout.draws * (layout.n_pad + 2)
            + 2 * layout.n_pad
            + group_samples * layout.n_pad
        )
    return total


_SHAPES = [  # (n, d, times, draws, chunk)
    (200, 50, 26, 100, 1024),  # Figure 1
    (200, 50, 3, 1, 256),  # one draw: a tile of 256 samples
    (300, 120, 2, 7, 100),  # draws do not divide the chunk
    (64, 8, 3, 500, 64),  # a sample's draws span tiles
    (500, 300, 1, 2, 512),
]


@pytest.mark.parametrize(
    "native_engine, shape",
    [(True, shape) for shape in _SHAPES]
    + [
        (False, shape) if i in (0, 1) else pytest.param(False, shape, marks=pytest.mark.slow)  # XLA compiles slowly
        for i, shape in enumerate(_SHAPES)
    ],
)
def test_memory_estimate_bounds_what_xla_reserves(native_engine, shape):
    if native_engine and native_kernel("float32") is None:
        pytest.skip(f"native CPU kernel unavailable: {native_kernel_status()}")
    n, d, times, draws, chunk = shape
    bound = gpu_kernels.mc_memory_estimate(
        n, d, 12, draws=draws, chunk_size=chunk, native=native_engine, threads=1, times=times
    )
    reserved = _buffer_bytes(n, d, 12, times, draws, chunk, native_engine)
    assert reserved <= bound <= 4 * reserved + 2**20, (reserved, bound)


def test_memory_estimate_grows_with_the_chunk_not_with_draws():
    # N = d = 2000 (the example): the default chunk needs far below 4 GB for any number of draws.
    sizes = {
        draws: gpu_kernels.mc_memory_estimate(2000, 2000, 12, draws=draws, threads=2, native=native_engine)
        for draws in (1, 2, 7, 100, 10**6)
        for native_engine in (True, False)
    }
    assert max(sizes.values()) < 2**30, sizes
    small = gpu_kernels.mc_memory_estimate(2000, 2000, 12, draws=1, chunk_size=512, native=False)
    large = gpu_kernels.mc_memory_estimate(2000, 2000, 12, draws=1, chunk_size=1024, native=False)
    assert 1.8 < large / small < 2.0  # linear in the chunk size, plus the inputs


def test_a_request_that_cannot_fit_is_refused_before_anything_runs(native):
    ds, alphas, sigmas, key = _case(5)
    before = gpu_kernels.trace_counts().get("mc_excess_losses", 0)
    limit = gpu_kernels.mc_memory_estimate(
        N,
        D,
        K,
        draws=R,
        chunk_size=64,
        dtype=jnp.float64,
        devices=1,
        native=native,
        threads=1,
        block_size=BLOCK,
        times=len(T_VALUES),
    )
    with pytest.raises(InvalidInputError, match="MiB per device"):
        _run(ds, alphas, sigmas, key, native=native, chunk_size=4096, memory_limit=limit, devices=jax.devices()[:1])
    assert gpu_kernels.trace_counts().get("mc_excess_losses", 0) == before  # nothing was traced or run


def test_the_default_chunk_shrinks_to_fit_a_memory_limit(native, monkeypatch):
    if not native:
        pytest.skip("the shrinking loop does not depend on the engine; the native one compiles fast")
    monkeypatch.setenv("MEMLAB_NATIVE_THREADS", "1")
    ds, alphas, sigmas, key = _case(fresh_seed())
    whole = _run(ds, alphas, sigmas, key, native=native, devices=jax.devices()[:1])
    limit = gpu_kernels.mc_memory_estimate(
        N,
        D,
        K,
        draws=R,
        chunk_size=8,
        dtype=jnp.float64,
        devices=1,
        native=native,
        threads=1,
        block_size=BLOCK,
        times=len(T_VALUES),
    )
    fitted = _run(ds, alphas, sigmas, key, native=native, devices=jax.devices()[:1], memory_limit=limit)
    assert fitted.chunk_size <= 8
    np.testing.assert_allclose(fitted.excess_pmem, whole.excess_pmem, rtol=0, atol=1e-12 * _scale(ds))
