"""The generic trainer: objective vs the float64 reference, gradient vs finite differences, Adam schedule,
noise handling, vmapped + sharded runs, no retracing, and two fixed points of training.

Compilation dominates these tests on a CPU, so most share one problem shape and one config (BASE)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memlab import gpu_kernels, numerics
from memlab._errors import InvalidInputError
from memlab.gpu_kernels import _training

APPLY = gpu_kernels.gmm_apply
# 9 samples x 3 draws = 27 points per t in chunks of 5 (the last chunk padded and masked); 5 epochs in 2 compiled
# blocks of 3 steps (the last step masked). Warm-up 0: the first step already moves.
BASE = dict(epochs=5, draws=3, chunk_size=5, peak_lr=1e-3, warmup_fraction=0.0, block_epochs=3)


def _problem(seed=0, n=9, d=4, m=5, variance=0.7):
    ds = numerics.make_gmm_dataset(d=d, k=3, n=n, seed=seed)
    means = np.random.default_rng(seed + 100).standard_normal((m, d)) * 1.5
    return ds, gpu_kernels.gmm_params(means, variance)


def _reference_loss(params, x_train, noise, config):
    _, alphas, sigmas, weights = config.grid()
    means = np.asarray(params["means"], np.float64)
    variance = float(np.exp(np.float64(params["log_variance"])))

    def denoise(x, a, s):
        return numerics.isotropic_gmm_denoiser(x, alpha=a, sigma=s, means=means, variance=variance)

    return numerics.weighted_training_loss(denoise, x_train, noise, alphas=alphas, sigmas=sigmas, weights=weights)


@pytest.mark.parametrize("weighting", ["eps", "x0", tuple(np.linspace(0.5, 2.0, 26))])
def test_objective_matches_float64_reference(weighting):
    ds, params = _problem()
    # 9 samples x 3 draws = 27 points in chunks of 5: the last chunk is padded (masked).
    config = gpu_kernels.TrainConfig(**{**BASE, "weighting": weighting})
    key = jax.random.key(42)
    noise = gpu_kernels.training_noise(key, n=ds.n, d=ds.d, config=config)
    got = float(gpu_kernels.weighted_loss(APPLY, params, ds.x_train, config=config, key=key))
    assert got == pytest.approx(_reference_loss(params, ds.x_train, noise, config), rel=1e-11)


def test_noise_draws_are_standard_normal_and_fixed_by_the_key():
    config = gpu_kernels.TrainConfig(**BASE)
    noise = gpu_kernels.training_noise(jax.random.key(7), n=9, d=4, config=config)
    assert noise.shape == (26, 9, 3, 4)
    np.testing.assert_array_equal(noise, gpu_kernels.training_noise(jax.random.key(7), n=9, d=4, config=config))
    # stored draws do not depend on the chunking
    unchunked = gpu_kernels.TrainConfig(**{**BASE, "chunk_size": None})
    np.testing.assert_array_equal(noise, gpu_kernels.training_noise(jax.random.key(7), n=9, d=4, config=unchunked))
    assert not np.array_equal(noise, gpu_kernels.training_noise(jax.random.key(8), n=9, d=4, config=config))
    # 2808 independent N(0, 1) draws: mean and variance within 5 standard errors (failure probability < 1e-5)
    assert abs(noise.mean()) < 5 / np.sqrt(noise.size)
    assert abs(noise.var() - 1) < 5 * np.sqrt(2 / noise.size)


def test_gradient_matches_finite_differences():
    ds, params = _problem(seed=1, variance=0.5)
    config = gpu_kernels.TrainConfig(**BASE)
    key = jax.random.key(3)
    noise = gpu_kernels.training_noise(key, n=ds.n, d=ds.d, config=config)
    stored = _training._host_noise(key, _training._layout(config, ds.n), ds.d, np.float64)  # the trainer's array
    _, grad = _training._loss_and_grad(APPLY, config, params, jnp.asarray(ds.x_train), key, jnp.asarray(stored))
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    flat = np.asarray(flat, np.float64)
    numeric = np.empty_like(flat)
    for i in range(flat.size):
        # central differences, relative step: truncation O(h^2 f''') and rounding O(eps f / h) both ~1e-9 relative
        h = 1e-5 * max(1.0, abs(flat[i]))
        up, down = flat.copy(), flat.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (
            _reference_loss(unravel(jnp.asarray(up)), ds.x_train, noise, config)
            - _reference_loss(unravel(jnp.asarray(down)), ds.x_train, noise, config)
        ) / (2 * h)
    analytic = np.asarray(jax.flatten_util.ravel_pytree(grad)[0])
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6 * np.abs(numeric).max())


def test_learning_rate_schedule():
    config = gpu_kernels.TrainConfig(epochs=1000, peak_lr=1e-3, final_lr=1e-6, warmup_fraction=0.1)
    schedule = config.learning_rate_schedule()
    assert config.warmup_epochs == 100
    assert float(schedule(0)) == 0.0
    assert float(schedule(50)) == pytest.approx(5e-4, rel=1e-6)
    assert float(schedule(100)) == pytest.approx(1e-3, rel=1e-6)
    assert float(schedule(550)) == pytest.approx(1e-3 + (1e-6 - 1e-3) * 450 / 900, rel=1e-5)
    assert float(schedule(1000)) == pytest.approx(1e-6, rel=1e-4)


def test_one_step_reduces_the_loss():
    ds, params = _problem(seed=2)
    config = gpu_kernels.TrainConfig(**BASE)
    key = jax.random.key(8)
    result = gpu_kernels.train(APPLY, params, ds.x_train, config=config, key=key, show_progress=False)
    before = float(gpu_kernels.weighted_loss(APPLY, params, ds.x_train, config=config, key=key))
    # history[e] is the loss before update e: a small first Adam step (1e-3 per coordinate) decreases a smooth loss
    assert result.loss_history[0] == pytest.approx(before, rel=1e-12)
    assert result.loss_history[1] < before
    assert float(result.final_loss) == pytest.approx(
        float(gpu_kernels.weighted_loss(APPLY, result.params, ds.x_train, config=config, key=key)), rel=1e-12
    )


@pytest.mark.slow
def test_regenerated_noise_objective_and_training():
    # store_noise=False: each chunk draws its noise on the device every step; the objective must equal the
    # reference on exactly those draws, and training must make progress with them.
    ds, params = _problem(seed=3)
    config = gpu_kernels.TrainConfig(**{**BASE, "store_noise": False})
    key = jax.random.key(9)
    noise = gpu_kernels.training_noise(key, n=ds.n, d=ds.d, config=config)
    got = float(gpu_kernels.weighted_loss(APPLY, params, ds.x_train, config=config, key=key))
    assert got == pytest.approx(_reference_loss(params, ds.x_train, noise, config), rel=1e-11)
    result = gpu_kernels.train(APPLY, params, ds.x_train, config=config, key=key, show_progress=False)
    assert result.loss_history[0] == pytest.approx(got, rel=1e-12)
    assert float(result.final_loss) < got


@pytest.mark.parametrize("runs", [2, pytest.param(3, marks=pytest.mark.slow)])
def test_vmapped_runs_match_single_runs(runs):
    # conftest gives 2 CPU devices: 2 runs shard evenly, 3 runs are padded to 4.
    config = gpu_kernels.TrainConfig(**BASE)
    problems = [_problem(seed=10 + s) for s in range(runs)]
    keys = jax.random.split(jax.random.key(11), runs)
    stacked = jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *[p for _, p in problems])
    x_train = np.stack([ds.x_train for ds, _ in problems])
    together = gpu_kernels.train_runs(APPLY, stacked, x_train, config=config, keys=keys, show_progress=False)
    assert together.loss_history.shape == (runs, 5)
    for s, (ds, params) in enumerate(problems):
        alone = gpu_kernels.train(APPLY, params, ds.x_train, config=config, key=keys[s], show_progress=False)
        np.testing.assert_allclose(together.loss_history[s], alone.loss_history, rtol=1e-10)
        np.testing.assert_allclose(together.params["means"][s], alone.params["means"], rtol=1e-10, atol=1e-12)


def test_repeated_training_never_retraces():
    ds, params = _problem(seed=4)
    config = gpu_kernels.TrainConfig(**BASE)
    gpu_kernels.train(APPLY, params, ds.x_train, config=config, key=jax.random.key(0), show_progress=False)
    before = gpu_kernels.trace_counts()
    _, other = _problem(seed=5)  # new parameter values, same shapes
    result = gpu_kernels.train(APPLY, other, ds.x_train, config=config, key=jax.random.key(1), show_progress=False)
    assert gpu_kernels.trace_counts() == before
    assert result.loss_history.shape == (5,) and list(result.history_epochs) == [0, 1, 2, 3, 4]
    assert list(_training._history_indices(1000, 3)) == [0, 500, 999]


def test_config_validation():
    for bad in (
        dict(epochs=0),
        dict(epochs=5, draws=0),
        dict(epochs=5, warmup_fraction=1.5),
        dict(epochs=5, peak_lr=-1),
        dict(epochs=5, weighting="nope"),
        dict(epochs=5, weighting=(1.0, 2.0)),
        dict(epochs=5, chunk_size=0),
        dict(epochs=5, adam_b2=1.0),
    ):
        with pytest.raises(InvalidInputError):
            gpu_kernels.TrainConfig(**bad)
    assert hash(gpu_kernels.TrainConfig(epochs=3, weighting=[1.0] * 26)) == hash(
        gpu_kernels.TrainConfig(epochs=3, weighting=tuple([1.0] * 26))
    )


@pytest.mark.slow
def test_model_initialised_at_generalizing_denoiser_stays_near_it():
    # d = 10, K = 3, N = 300 (100 per cluster): the loss minimiser over (means, variance) sits within sampling error
    # of the truth, about sqrt(d / (N/K)) = 0.32 per mean. Adam may move every coordinate by up to ~lr per step, so
    # 400 steps at peak 1e-2 could carry a mean ~2 * sqrt(d) = 6 away; "near" = within 1.0 (3x the sampling error),
    # and much nearer to the true means than to any training sample (|x - mu| ~ sqrt(d) = 3.2 for a sample).
    ds = numerics.make_gmm_dataset(d=10, k=3, n=300, seed=12)
    params = gpu_kernels.gmm_params(ds.means, ds.sigma2)
    config = gpu_kernels.TrainConfig(epochs=400, draws=4, peak_lr=1e-2, final_lr=1e-4)
    result = gpu_kernels.train(APPLY, params, ds.x_train, config=config, key=jax.random.key(13), show_progress=False)
    learned = np.asarray(result.params["means"])
    distance_to_truth = np.linalg.norm(learned - ds.means, axis=1)
    assert np.max(distance_to_truth) < 1.0
    # memorizing would pull the means onto training samples; the nearest of ~100 cluster samples to a cluster
    # centre is ~1.5 away in d = 10, so the learned means must stay nearer the truth than any sample
    assert numerics.mean_distance_to_nearest(learned, ds.x_train) > distance_to_truth.mean()
    # variance: sampling error ~ sqrt(2 / (N d)) = 0.026; allow 0.25
    assert abs(float(gpu_kernels.gmm_variance(result.params)) - 1.0) < 0.25


def test_model_initialised_at_memorizing_denoiser_keeps_memorizing():
    ds = numerics.make_gmm_dataset(d=10, k=3, n=20, seed=14)
    params = gpu_kernels.partial_memorization_init(ds.x_train, ds.n, key=jax.random.key(15))  # M = N: x_hat_mem
    # 200 steps at up to 1e-2: enough to move the log-variance by ~1 per 100 steps if the loss wanted it
    config = gpu_kernels.TrainConfig(epochs=200, draws=4, peak_lr=1e-2, block_epochs=200)
    result = gpu_kernels.train(APPLY, params, ds.x_train, config=config, key=jax.random.key(16), show_progress=False)
    assert float(gpu_kernels.gmm_variance(result.params)) < 1e-4
    _, alphas, sigmas, _ = config.grid()
    x_init = jax.random.normal(jax.random.key(17), (50, ds.d), jnp.float64)
    samples = gpu_kernels.ddim_sample_model(APPLY, result.params, x_init, alphas=alphas, sigmas=sigmas)
    assert numerics.memorization_ratio(np.asarray(samples), ds.x_train).ratio == 1.0


def _autodiff_apply(params, x, alpha, sigma):
    """gmm_apply under another name: the trainer differentiates it with autodiff (no fused path)."""
    return gpu_kernels.gmm_apply(params, x, alpha, sigma)


def test_fused_gmm_gradient_is_the_autodiff_gradient(monkeypatch):
    # float64: the trainer's fused value-and-gradient of eq. 11 against jax.value_and_grad through gmm_apply, on the
    # BASE layout (27 points per t in chunks of 5, the last padded) and with passes of 2 points (the last pass
    # of each chunk overlaps the previous one and masks the points already counted).
    ds, params = _problem(seed=3, variance=0.3)
    config = gpu_kernels.TrainConfig(**BASE)
    key = jax.random.key(5)
    noise = jnp.asarray(_training._host_noise(key, _training._layout(config, ds.n), ds.d, np.float64))
    x = jnp.asarray(ds.x_train)
    assert _training._FUSED_LOSS_AND_GRAD.get(APPLY) is gpu_kernels.gmm_loss_and_grad
    reference = _training._loss_and_grad(_autodiff_apply, config, params, x, key, noise)
    for pass_points in (5, 2):
        monkeypatch.setattr(_training, "_CPU_PASS_POINTS", pass_points)
        for apply in (APPLY, _autodiff_apply):
            loss, grad = _training._loss_and_grad(apply, config, params, x, key, noise)
            assert float(loss) == pytest.approx(float(reference[0]), rel=1e-13)
            for got, want in zip(jax.tree_util.tree_leaves(grad), jax.tree_util.tree_leaves(reference[1])):
                np.testing.assert_allclose(
                    np.asarray(got), np.asarray(want), rtol=1e-11, atol=1e-12 * np.abs(np.asarray(want)).max()
                )


@pytest.mark.parametrize("m", [12, 40])
def test_fused_gradient_in_float32_is_as_accurate_as_autodiff(m):
    # The App. H.1 initialisation (means on training points, variance 1e-6): the posterior is one-hot at small t,
    # where rounding residues in dL/dl are amplified by alpha / v ~ 10^3. Against the float64 gradient, the fused
    # float32 gradient must be as accurate as float32 autodiff (both round the same forward pass; a factor 2 and
    # 100 eps of slack for different summation orders).
    ds = numerics.make_gmm_dataset(d=10, k=3, n=40, seed=11)
    config = gpu_kernels.TrainConfig(epochs=1, draws=4, warmup_fraction=0.0)
    key = jax.random.key(9)
    noise = jnp.asarray(_training._host_noise(key, _training._layout(config, ds.n), ds.d, np.float64))
    params = gpu_kernels.partial_memorization_init(ds.x_train, m, key=jax.random.key(4), dtype=jnp.float64)
    _, reference = _training._loss_and_grad(_autodiff_apply, config, params, jnp.asarray(ds.x_train), key, noise)
    as32 = lambda tree: jax.tree_util.tree_map(lambda leaf: leaf.astype(jnp.float32), tree)
    errors = {}
    for name, apply in (("fused", APPLY), ("autodiff", _autodiff_apply)):
        _, grad = _training._loss_and_grad(
            apply, config, as32(params), jnp.asarray(ds.x_train, jnp.float32), key, noise.astype(jnp.float32)
        )
        errors[name] = {
            leaf: float(
                np.linalg.norm(np.asarray(grad[leaf], np.float64) - np.asarray(reference[leaf]))
                / np.linalg.norm(np.asarray(reference[leaf]))
            )
            for leaf in reference
        }
    eps = float(np.finfo(np.float32).eps)
    for leaf in reference:
        assert errors["fused"][leaf] <= 2 * errors["autodiff"][leaf] + 100 * eps, (leaf, errors)
