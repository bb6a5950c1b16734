"""JAX denoisers (eqs. 7, 10, 11-12, Lemma 2.1), jit-friendly and stable at every t of the grid in float32 and float64.

Shapes: ``x`` is ``(B, d)``; ``alpha``, ``sigma``, ``variance`` are scalars (Python floats or 0-d arrays,
traced or not); ``means`` is ``(M, d)``. The softmax is max-subtracted (``jax.nn.softmax``); the
per-row constant |x|^2 of the logits is dropped since it cancels in the softmax.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = [
    "gmm_denoiser",
    "isotropic_gmm_denoiser",
    "isotropic_gmm_logits",
    "memorizing_denoiser",
    "partial_memorizing_denoiser",
]


def isotropic_gmm_logits(x: jax.Array, *, alpha, sigma, means: jax.Array, variance) -> jax.Array:
    """Logits ``-|alpha mu_i - x|^2 / (2 (alpha^2 s^2 + sigma^2))`` up to a per-row constant.

    (B, d), (M, d) -> (B, M).
    """
    total_var = alpha**2 * variance + sigma**2
    cross = x @ means.T  # (B, M)
    mean_sq = jnp.sum(means * means, axis=-1)  # (M,)
    return (alpha * cross - 0.5 * alpha**2 * mean_sq[None, :]) / total_var


def isotropic_gmm_denoiser(x: jax.Array, *, alpha, sigma, means: jax.Array, variance) -> jax.Array:
    """Eq. 11-12 posterior mean of pi = (1/M) sum_i N(mu_i, variance I): (B, d), (M, d) -> (B, d)."""
    total_var = alpha**2 * variance + sigma**2
    posterior = jax.nn.softmax(
        isotropic_gmm_logits(x, alpha=alpha, sigma=sigma, means=means, variance=variance), axis=-1
    )
    return (alpha * variance / total_var) * x + (sigma**2 / total_var) * (posterior @ means)


def memorizing_denoiser(x: jax.Array, *, alpha, sigma, train: jax.Array) -> jax.Array:
    """Eq. 7: the memorizing denoiser (eq. 11 with variance 0 and means = training points)."""
    return isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=train, variance=0.0)


def partial_memorizing_denoiser(x: jax.Array, *, alpha, sigma, train: jax.Array, m) -> jax.Array:
    """Eq. 10: the memorizing denoiser over the first ``m`` training points: (B, d), (N, d) -> (B, d).

    ``m`` (1 <= m <= N) may be a traced integer: the points ``j >= m`` are masked out of the softmax
    (logit -inf), so one compiled function serves every M.
    """
    logits = isotropic_gmm_logits(x, alpha=alpha, sigma=sigma, means=train, variance=0.0)
    keep = jnp.arange(train.shape[0]) < m
    posterior = jax.nn.softmax(jnp.where(keep[None, :], logits, -jnp.inf), axis=-1)
    return posterior @ train


def gmm_denoiser(x: jax.Array, *, alpha, sigma, means: jax.Array, covariances: jax.Array, weights=None) -> jax.Array:
    """Lemma 2.1 posterior mean of pi = sum_i pi_i N(mu_i, Sigma_i) with full covariances.

    x: (B, d); means: (M, d); covariances: (M, d, d) symmetric PSD; weights: (M,) or None (uniform) -> (B, d).
    ``S_i = alpha^2 Sigma_i + sigma^2 I`` is factorised by Cholesky (dense: for small d; the low-rank image
    model has its own Woodbury kernel).
    """
    d = means.shape[-1]
    cov_t = alpha**2 * covariances + sigma**2 * jnp.eye(d, dtype=covariances.dtype)  # (M, d, d)
    chol = jnp.linalg.cholesky(cov_t)  # (M, d, d)
    residual = x[:, None, :] - alpha * means[None, :, :]  # (B, M, d)
    solved = jax.scipy.linalg.cho_solve((chol, True), jnp.transpose(residual, (1, 2, 0)))  # (M, d, B)
    solved = jnp.transpose(solved, (2, 0, 1))  # (B, M, d)
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)  # (M,)
    log_weights = jnp.zeros(means.shape[0], x.dtype) if weights is None else jnp.log(weights)
    logits = log_weights[None, :] - 0.5 * logdet[None, :] - 0.5 * jnp.sum(residual * solved, axis=-1)
    posterior = jax.nn.softmax(logits, axis=-1)  # (B, M)
    return (x - sigma**2 * jnp.einsum("bm,bmd->bd", posterior, solved)) / alpha
