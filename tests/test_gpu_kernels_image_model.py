"""The trainable image model: partial-memorization initialisation and its apply function."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memlab import gpu_kernels, numerics


def test_more_components_than_samples_uses_every_sample():
    ds = numerics.make_image_dataset(k=2, n=5, side=3, seed=1)
    params = gpu_kernels.init_image_model(
        key=jax.random.key(0), m=12, templates=ds.templates, labels_train=ds.labels_train, colors_train=ds.colors_train
    )
    points = numerics.kron_images(np.asarray(params["color_means"]), np.asarray(params["templates"]))
    matches = [int(np.argmin(np.sum((ds.x_train - p) ** 2, axis=1))) for p in points]
    assert sorted(matches[:5]) == list(range(5))
    np.testing.assert_allclose(points, ds.x_train[matches], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("t_index", [0, 8, 16])
def test_initial_model_is_the_partially_memorizing_denoiser(t_index):
    """Each component reproduces one training sample exactly; with colour variance s^2 = 1e-6 the model is pmem
    up to the shrinkage gain g = alpha s^2 |x_i|^2 / sigma^2 (relative). At t_16 g <= ~5e-4; near t = 0 the
    gain is O(1) (the model denoises within each colour subspace), so those t are not compared here.
    """
    ds = numerics.make_image_dataset(k=3, n=20, side=5, seed=4)
    params = gpu_kernels.init_image_model(
        key=jax.random.key(1), m=8, templates=ds.templates, labels_train=ds.labels_train, colors_train=ds.colors_train
    )
    assert params["templates"].shape == (8, 25) and params["color_means"].shape == (8, 3)
    np.testing.assert_allclose(float(gpu_kernels.image_model_color_var(params)), 1e-6, rtol=1e-12)
    chosen = gpu_kernels.partial_memorization_indices(20, 8, key=jax.random.key(1))
    assert len(set(chosen.tolist())) == 8
    points = numerics.kron_images(np.asarray(params["color_means"]), np.asarray(params["templates"]))
    np.testing.assert_allclose(points, ds.x_train[chosen], rtol=1e-12, atol=1e-14)
    alpha, sigma, _ = numerics.schedule_coefficients(numerics.timestep_grid()[t_index])
    rng = np.random.default_rng(0)
    x = float(alpha) * ds.x_train[:6] + float(sigma) * rng.standard_normal((6, ds.d))
    got = np.asarray(gpu_kernels.image_model_apply(params, jnp.asarray(x), float(alpha), float(sigma)))
    ref = numerics.memorizing_denoiser(x, alpha=float(alpha), sigma=float(sigma), train=ds.x_train[chosen])
    # Relative deviation from pmem is O(alpha s^2 |x_i|^2 / sigma^2) in the shrinkage gain; bounded here by 1e-2.
    gain = float(alpha) * 1e-6 * np.max(np.sum(ds.templates**2, axis=1)) / float(sigma) ** 2
    np.testing.assert_allclose(got, ref, rtol=0, atol=(1e-9 + 10 * gain) * (1 + np.abs(ref).max()))


def test_apply_is_differentiable_and_finite_in_float32():
    ds = numerics.make_image_dataset(k=4, n=12, side=15, seed=2)
    params = gpu_kernels.init_image_model(
        key=jax.random.key(3),
        m=10,
        templates=ds.templates,
        labels_train=ds.labels_train,
        colors_train=ds.colors_train,
        dtype=jnp.float32,
    )
    x = jnp.asarray(ds.x_train, jnp.float32)

    def loss(p, a, s, noise):
        return jnp.mean((gpu_kernels.image_model_apply(p, a * x + s * noise, a, s) - x) ** 2)

    grad = jax.jit(jax.grad(loss))
    noise = jax.random.normal(jax.random.key(5), x.shape, jnp.float32)
    alpha, sigma, _ = numerics.schedule_coefficients(numerics.timestep_grid())
    for a, s in zip(alpha, sigma):
        g = grad(params, jnp.float32(a), jnp.float32(s), noise)
        assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(g)), (a, s)


def test_training_reduces_the_loss():
    """A few full-batch Adam steps from the partial-memorization init (M < N) lower the eps-prediction objective.

    At init the M-component model memorizes M of the N samples; the other N - M samples cost O(|x|^2 psi) at
    small t, so the first steps must reduce the objective by a large factor, not by float noise.
    """
    ds = numerics.make_image_dataset(k=2, n=8, side=4, seed=3)
    config = gpu_kernels.TrainConfig(epochs=30, draws=2, peak_lr=5e-2, final_lr=5e-5, adam_b2=0.9, block_epochs=30)
    params = gpu_kernels.init_image_model(
        key=jax.random.key(0), m=4, templates=ds.templates, labels_train=ds.labels_train, colors_train=ds.colors_train
    )
    result = gpu_kernels.train(
        gpu_kernels.image_model_apply, params, ds.x_train, config=config, key=jax.random.key(1), show_progress=False
    )
    before, after = float(result.loss_history[0]), float(result.final_loss)  # objective at init / after training
    assert np.isfinite(after) and after < 0.5 * before, (before, after)
    assert float(gpu_kernels.image_model_color_var(result.params)) > gpu_kernels.INIT_COLOR_VAR
