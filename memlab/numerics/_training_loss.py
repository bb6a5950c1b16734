"""Float64 reference of the weighted denoising loss (eq. 5-6) on the timestep grid, with fixed noise draws.

``L_N(x_hat, lambda) = (1/(L+1)) sum_l lambda_l L_{N,t_l}(x_hat)`` with
``L_{N,t}(x_hat) = (1/N) sum_i (1/R) sum_r |x_hat(t, alpha_t x^i + sigma_t z_{l,i,r}) - x^i|^2``: the grid
(uniform over the L+1 timesteps) version of eq. 5 the paper trains with (App. H.1). The JAX trainer's
objective is checked against this function on the very same noise array.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from memlab._errors import InvalidInputError
from memlab.numerics._standard_error import within_sample_standard_error
from memlab.theory import WEIGHTING_NAMES, T, numeric_function
from memlab.theory import weighting as theory_weighting

__all__ = ["LOSS_WEIGHTINGS", "loss_weighting_values", "per_time_training_losses", "weighted_training_loss"]

#: The named weightings, derived symbolically in :mod:`memlab.theory` (x0, eps, v, score, elbo).
LOSS_WEIGHTINGS = WEIGHTING_NAMES


def loss_weighting_values(weighting: str | Sequence[float], t, schedule: str = "vp") -> np.ndarray:
    """lambda(t_l) on a grid ``t`` (L+1,): a named weighting of :mod:`memlab.theory` ("eps": noise prediction,
    lambda = psi_t; "x0": lambda = 1; "v", "score", "elbo"), lambdified from its SymPy expression, or a
    user-given array of L+1 non-negative finite numbers (not all zero)."""
    t = np.asarray(t, dtype=np.float64)
    if isinstance(weighting, str):
        if weighting not in LOSS_WEIGHTINGS:
            raise InvalidInputError(
                f"unknown loss weighting {weighting!r}; use one of {', '.join(LOSS_WEIGHTINGS)} "
                "or an array of per-timestep weights"
            )
        values = numeric_function(theory_weighting(weighting, schedule), T, "numpy")(t)
        return np.broadcast_to(np.asarray(values, dtype=np.float64), t.shape).copy()
    values = np.asarray(weighting, dtype=np.float64).reshape(-1)
    if values.shape != t.shape:
        raise InvalidInputError(f"a user loss weighting needs {t.size} values (one per timestep), got {values.size}")
    if not np.all(np.isfinite(values)) or np.any(values < 0) or not np.any(values > 0):
        raise InvalidInputError("a user loss weighting must be finite, non-negative and not all zero")
    return values


def per_time_training_losses(denoise: Callable, x_train, noise, *, alphas, sigmas) -> tuple[np.ndarray, np.ndarray]:
    """Per-timestep Monte Carlo losses and their standard errors with the given noise.

    denoise(x (B, d), alpha, sigma) -> (B, d); x_train (N, d); noise (T, N, R, d); alphas, sigmas (T,).
    Returns ``(losses (T,), standard_errors (T,))``; the SE is the within-sample spread over draws,
    ``sqrt(sum_i s_i^2 / R) / N`` (:func:`within_sample_standard_error`), ``nan`` when R = 1.
    """
    x_train = np.asarray(x_train, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    alphas = np.asarray(alphas, dtype=np.float64).reshape(-1)
    sigmas = np.asarray(sigmas, dtype=np.float64).reshape(-1)
    n, d = x_train.shape
    if noise.ndim != 4 or noise.shape[0] != alphas.size or noise.shape[1] != n or noise.shape[3] != d:
        raise InvalidInputError(f"noise must have shape (T={alphas.size}, N={n}, R, d={d}), got {noise.shape}")
    draws = noise.shape[2]
    losses = np.empty(alphas.size)
    errors = np.empty(alphas.size)
    for ell, (alpha, sigma) in enumerate(zip(alphas, sigmas)):
        x_noisy = alpha * x_train[:, None, :] + sigma * noise[ell]  # (N, R, d)
        denoised = np.asarray(denoise(x_noisy.reshape(n * draws, d), alpha, sigma), dtype=np.float64)
        sq_err = np.sum((denoised.reshape(n, draws, d) - x_train[:, None, :]) ** 2, axis=-1)  # (N, R)
        losses[ell] = sq_err.mean()
        per_sample_var = sq_err.var(axis=1, ddof=1) if draws > 1 else np.full(n, np.nan)
        errors[ell] = within_sample_standard_error(per_sample_var, draws)
    return losses, errors


def weighted_training_loss(denoise: Callable, x_train, noise, *, alphas, sigmas, weights) -> float:
    """``mean_l weights_l * L_{N,t_l}`` with the given noise (T, N, R, d) — the trainer's objective in float64."""
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    losses, _ = per_time_training_losses(denoise, x_train, noise, alphas=alphas, sigmas=sigmas)
    if weights.shape != losses.shape:
        raise InvalidInputError(f"weights must have shape {losses.shape}, got {weights.shape}")
    return float(np.mean(weights * losses))
