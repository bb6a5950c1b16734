"""JAX denoisers (SPEC §2), jit-friendly and stable at every t of the grid in float32 and float64.

Shapes: ``x`` is ``(B, d)``; ``alpha``, ``sigma``, ``variance`` are scalars (Python floats or 0-d arrays,
traced or not); ``means`` is ``(M, d)``. The softmax is max-subtracted (``jax.nn.softmax``); the
per-row constant |x|^2 of the logits is dropped since it cancels in the softmax.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["isotropic_gmm_logits", "isotropic_gmm_denoiser", "memorizing_denoiser"]


def isotropic_gmm_logits(x: jax.Array, *, alpha, sigma, means: jax.Array, variance) -> jax.Array:
    """Logits ``-|alpha mu_i - x|^2 / (2 (alpha^2 s^2 + sigma^2))`` up to a per-row constant: (B, d), (M, d) -> (B, M)."""
    total_var = alpha**2 * variance + sigma**2
    cross = x @ means.T  # (B, M)
    mean_sq = jnp.sum(means * means, axis=-1)  # (M,)
    return (alpha * cross - 0.5 * alpha**2 * mean_sq[None, :]) / total_var


def isotropic_gmm_denoiser(x: jax.Array, *, alpha, sigma, means: jax.Array, variance) -> jax.Array:
    """Eq. 11-12 posterior mean of pi = (1/M) sum_i N(mu_i, variance I): (B, d), (M, d) -> (B, d)."""
    total_var = alpha**2 * variance + sigma**2
    posterior = jax.nn.softmax(isotropic_gmm_logits(x, alpha=alpha, sigma=sigma, means=means, variance=variance), axis=-1)
    return (alpha * variance / total_var) * x + (sigma**2 / total_var) * (posterior @ means)


def memorizing_denoiser(x: jax.Array, *, alpha, sigma, train: jax.Array) -> jax.Array:
    """Eq. 7: the memorizing denoiser (eq. 11 with variance 0 and means = training points)."""
    return isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=train, variance=0.0)
