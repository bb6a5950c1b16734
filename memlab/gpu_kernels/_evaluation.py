"""Monte Carlo per-time denoising losses of a model on any data set (train or held-out), with standard errors.

``L_t(x_hat; X) = (1/N) sum_i (1/R) sum_r |x_hat(alpha_t x_i + sigma_t z_{i,r}) - x_i|^2`` (eq. 6 on the rows
of X). The noise ``z`` (N, R, d) is passed in, so several denoisers can be compared with common random
numbers. The standard error is the within-sample spread over the draws, ``sqrt(sum_i s_i^2 / R) / N``
(Section 2): for a fixed data set the noise is the only randomness.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from memlab._errors import InvalidInputError
from memlab.gpu_kernels._tracing import TRACE_COUNTS
from memlab.numerics import within_sample_standard_error

__all__ = ["mc_time_loss"]


@functools.partial(jax.jit, static_argnames=("apply", "chunk_rows"))
def _per_sample_moments(apply: Callable, params, x_data, noise, alpha, sigma, *, chunk_rows: int):
    """Per-sample mean and unbiased variance over draws of the squared error: (N,), (N,)."""
    TRACE_COUNTS["mc_time_loss"] += 1
    n, draws, d = noise.shape
    pad = (-n) % chunk_rows
    x_pad = jnp.concatenate([x_data, jnp.zeros((pad, d), x_data.dtype)]) if pad else x_data
    z_pad = jnp.concatenate([noise, jnp.zeros((pad, draws, d), noise.dtype)]) if pad else noise
    x_chunks = x_pad.reshape(-1, chunk_rows, d)
    z_chunks = z_pad.reshape(-1, chunk_rows, draws, d)

    def chunk(args):
        x0, z = args
        noisy = (alpha * x0[:, None, :] + sigma * z).reshape(-1, d)
        err = apply(params, noisy, alpha, sigma).reshape(chunk_rows, draws, d) - x0[:, None, :]
        sq = jnp.sum(err * err, axis=-1)  # (rows, R)
        mean = jnp.mean(sq, axis=1)
        var = jnp.sum((sq - mean[:, None]) ** 2, axis=1) / jnp.maximum(draws - 1, 1)
        return mean, var

    means, variances = jax.lax.map(chunk, (x_chunks, z_chunks))
    return means.reshape(-1)[:n], variances.reshape(-1)[:n]


def mc_time_loss(
    apply: Callable, params, x_data, noise, *, alpha, sigma, chunk_rows: int | None = None
) -> tuple[float, float]:
    """Monte Carlo loss at one t and its standard error.

    apply(params, x (B, d), alpha, sigma) -> (B, d); x_data (N, d); noise (N, R, d) standard normal draws
    (R >= 2 for a standard error, else it is NaN); chunk_rows: rows of x_data per chunk (memory).
    Returns ``(loss, standard_error)`` as Python floats.
    """
    x_data = jnp.asarray(x_data)
    noise = jnp.asarray(noise, dtype=x_data.dtype)
    if x_data.ndim != 2 or noise.ndim != 3 or noise.shape[0] != x_data.shape[0] or noise.shape[2] != x_data.shape[1]:
        raise InvalidInputError(f"need x_data (N, d) and noise (N, R, d), got {x_data.shape} and {noise.shape}")
    n, draws, _ = noise.shape
    chunk_rows = n if chunk_rows is None else max(1, min(int(chunk_rows), n))
    means, variances = _per_sample_moments(
        apply,
        params,
        x_data,
        noise,
        jnp.asarray(alpha, x_data.dtype),
        jnp.asarray(sigma, x_data.dtype),
        chunk_rows=chunk_rows,
    )
    loss = float(jnp.mean(means))
    se = float(within_sample_standard_error(variances, draws)) if draws > 1 else float("nan")
    return loss, se
