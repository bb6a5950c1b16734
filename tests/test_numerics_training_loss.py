"""The float64 reference of the weighted grid loss on cases with a closed form."""

import numpy as np
import pytest

from memlab import numerics
from memlab._errors import InvalidInputError


def _setup(seed=0, n=7, draws=5, d=3, steps=25):
    rng = np.random.default_rng(seed)
    t = numerics.timestep_grid(steps)
    alphas, sigmas, psi = numerics.schedule_coefficients(t)
    x_train = rng.standard_normal((n, d))
    noise = rng.standard_normal((t.size, n, draws, d))
    return t, alphas, sigmas, psi, x_train, noise


def test_zero_denoiser_loss_is_mean_squared_norm_without_noise_dependence():
    _t, alphas, sigmas, _, x_train, noise = _setup()
    losses, errors = numerics.per_time_training_losses(
        lambda x, a, s: np.zeros_like(x), x_train, noise, alphas=alphas, sigmas=sigmas
    )
    np.testing.assert_allclose(losses, np.mean(np.sum(x_train**2, axis=1)), rtol=1e-14)
    np.testing.assert_allclose(errors, 0.0, atol=1e-12)


def test_rescaling_denoiser_loss_is_scaled_noise_norm():
    # x_hat = x / alpha has error (sigma/alpha) z exactly, so L_t = (sigma/alpha)^2 mean |z|^2 and the eps-weighted
    # loss (lambda = alpha^2/sigma^2) is the grid mean of mean |z|^2.
    t, alphas, sigmas, _psi, x_train, noise = _setup(seed=1)
    losses, _ = numerics.per_time_training_losses(lambda x, a, s: x / a, x_train, noise, alphas=alphas, sigmas=sigmas)
    expected = (sigmas / alphas) ** 2 * np.mean(np.sum(noise**2, axis=-1), axis=(1, 2))
    np.testing.assert_allclose(losses, expected, rtol=1e-12)
    weighted = numerics.weighted_training_loss(
        lambda x, a, s: x / a,
        x_train,
        noise,
        alphas=alphas,
        sigmas=sigmas,
        weights=numerics.loss_weighting_values("eps", t),
    )
    assert weighted == pytest.approx(np.mean(np.sum(noise**2, axis=-1)), rel=1e-12)


def test_standard_error_formula():
    # One sample, R draws: SE = sqrt(s^2 / R) with s^2 the unbiased variance over the draws.
    _t, alphas, sigmas, _, x_train, noise = _setup(seed=2, n=1, draws=9)
    _losses, errors = numerics.per_time_training_losses(
        lambda x, a, s: x / a, x_train, noise, alphas=alphas, sigmas=sigmas
    )
    per_draw = (sigmas / alphas)[:, None] ** 2 * np.sum(noise[:, 0] ** 2, axis=-1)  # (T, R)
    np.testing.assert_allclose(errors, np.sqrt(per_draw.var(axis=1, ddof=1) / 9), rtol=1e-12)


def test_weightings():
    t = numerics.timestep_grid()
    np.testing.assert_allclose(numerics.loss_weighting_values("eps", t), (1 - t**2) / t**2, rtol=1e-12)
    np.testing.assert_array_equal(numerics.loss_weighting_values("x0", t), np.ones(26))
    user = np.linspace(1, 2, 26)
    np.testing.assert_array_equal(numerics.loss_weighting_values(user, t), user)
    for bad in ("score-ish", np.ones(3), -np.ones(26), np.zeros(26)):
        with pytest.raises(InvalidInputError):
            numerics.loss_weighting_values(bad, t)
