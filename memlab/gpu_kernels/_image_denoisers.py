"""JAX posterior mean of the low-rank image mixture (Lemma 2.1 + App. H.4), O(c*D) per component.

Same formulas, shapes and conventions as :mod:`memlab.numerics._image_denoisers` (read its docstring):
``x`` (B, c*D) channel-major, ``templates`` (M, D), ``color_means`` (M, c) or (c,), ``color_var`` a scalar
(Python float or traced 0-d array). Everything goes through ``P_i = A_i^T x`` (one contraction);
no (cD) x (cD) matrix is formed. The softmax is max-subtracted (``jax.nn.softmax``); the logits are
written as two non-negative quadratic terms (no Woodbury cancellation) and ``log1p`` for the
log-determinant, so float32 stays finite over the whole grid t_0..t_25. Squared template norms are
floored at ``sqrt(tiny)`` of the dtype (products with sigma^2 stay normal numbers, not flushed
denormals), so a learned template that shrinks to 0 cannot produce 0/0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["low_rank_image_denoiser", "low_rank_image_logits"]


def _pieces(x, templates, color_means):
    m, pixels = templates.shape
    if color_means.ndim == 1:
        color_means = jnp.broadcast_to(color_means, (m, color_means.shape[0]))
    channels = color_means.shape[1]
    blocks = x.reshape(x.shape[0], channels, pixels)
    projections = jnp.einsum("bcd,md->bmc", blocks, templates)  # (B, M, c): A_i^T x
    norms_sq = jnp.maximum(jnp.sum(templates * templates, axis=-1), jnp.sqrt(jnp.finfo(templates.dtype).tiny))  # (M,)
    return color_means, projections, norms_sq


def _logits_and_centred(projections, norms_sq, color_means, alpha, sigma, color_var):
    channels = color_means.shape[1]
    sigma2 = sigma**2
    scaled = alpha**2 * color_var * norms_sq  # (M,)
    centred = projections - (alpha * norms_sq)[None, :, None] * color_means[None, :, :]
    logits = (
        -0.5 * channels * jnp.log1p(scaled / sigma2)[None, :]
        + jnp.sum(projections * projections, axis=-1) / (2.0 * sigma2 * norms_sq[None, :])
        - jnp.sum(centred * centred, axis=-1) / (2.0 * (norms_sq * (sigma2 + scaled))[None, :])
    )
    return logits, centred


def low_rank_image_logits(
    x: jax.Array, *, alpha, sigma, templates: jax.Array, color_means: jax.Array, color_var
) -> jax.Array:
    """Lemma 2.1 logits up to a per-row constant: (B, c*D) -> (B, M)."""
    color_means, projections, norms_sq = _pieces(x, templates, color_means)
    logits, _ = _logits_and_centred(projections, norms_sq, color_means, alpha, sigma, color_var)
    return logits


def low_rank_image_denoiser(
    x: jax.Array, *, alpha, sigma, templates: jax.Array, color_means: jax.Array, color_var
) -> jax.Array:
    """Posterior mean of ``(1/M) sum_i N(mu_i ⊗ x_i, s^2 (I_c ⊗ x_i)(I_c ⊗ x_i)^T)``: (B, c*D) -> (B, c*D)."""
    color_means, projections, norms_sq = _pieces(x, templates, color_means)
    logits, centred = _logits_and_centred(projections, norms_sq, color_means, alpha, sigma, color_var)
    posterior = jax.nn.softmax(logits, axis=-1)  # (B, M)
    gain = alpha * color_var / (sigma**2 + alpha**2 * color_var * norms_sq)  # (M,)
    colors = posterior[:, :, None] * (color_means[None, :, :] + gain[None, :, None] * centred)  # (B, M, c)
    return jnp.einsum("bmc,md->bcd", colors, templates).reshape(x.shape)
