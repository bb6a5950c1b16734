"""The isotropic shared-variance GMM denoiser (eq. 11) as a trainable model, and its initialisations.

Parameters are a plain dict pytree ``{"means": (M, d), "log_variance": ()}``: the shared variance is
``exp(log_variance)`` (positive by construction; ``-inf`` gives variance 0, i.e. the memorizing limit).
``gmm_apply(params, x, alpha, sigma)`` has the trainer's model signature ``(params, (B, d), alpha, sigma) -> (B, d)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from memlab._errors import InvalidInputError
from memlab.gpu_kernels._denoisers import isotropic_gmm_denoiser, isotropic_gmm_logits
from memlab.gpu_kernels._host_random import host_generator

__all__ = [
    "PMEM_INIT_VARIANCE",
    "gmm_apply",
    "gmm_loss_and_grad",
    "gmm_params",
    "gmm_variance",
    "partial_memorization_indices",
    "partial_memorization_init",
    "pmem_apply",
    "pmem_params",
]

PMEM_INIT_VARIANCE = 1e-6  # App. H.1: the "partial memorization" initial variance


def gmm_params(means, variance, *, dtype=None) -> dict:
    """Parameters of eq. 11 with the given means (M, d) and shared variance (scalar >= 0)."""
    means = jnp.asarray(means, dtype=dtype)
    variance = jnp.asarray(variance, dtype=means.dtype)
    return {"means": means, "log_variance": jnp.log(variance)}


def gmm_variance(params: dict) -> jax.Array:
    """The shared variance ``exp(log_variance)`` (any leading batch axes preserved)."""
    return jnp.exp(params["log_variance"])


def gmm_apply(params: dict, x: jax.Array, alpha, sigma) -> jax.Array:
    """Eq. 11 denoiser with trainable params: x (B, d), scalars alpha, sigma -> (B, d)."""
    return isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=params["means"], variance=gmm_variance(params))


def gmm_loss_and_grad(
    params: dict, x0: jax.Array, noise: jax.Array, alpha, sigma, weights: jax.Array
) -> tuple[jax.Array, dict]:
    """``sum_i weights_i |gmm_apply(params, alpha x0_i + sigma z_i) - x0_i|^2`` and its gradient in ``params``.

    x0, noise (P, d); weights (P,) (0 masks a point); alpha, sigma scalars. The same value and gradient as
    ``jax.value_and_grad`` of the plain formula, written out so that one pass shares the forward's softmax
    with the backward (the trainer's hot loop, :mod:`._training`). With v = alpha^2 s^2 + sigma^2,
    D = (alpha s^2 / v) x + (sigma^2 / v) sum_k p_k mu_k and logits l_k = (alpha x.mu_k - alpha^2 |mu_k|^2 / 2) / v,
    for the cotangent e = dL/dD (P, d):

        dL/dl_k  = (sigma^2 / v) p_k (e.mu_k - e.mean),   mean = sum_k p_k mu_k,
        dL/dmu_k = (sigma^2 / v) sum_i p_ik e_i + (alpha / v) sum_i (dL/dl_ik) x_i
                   - (alpha^2 / v) (sum_i dL/dl_ik) mu_k,
        dL/ds^2  = sum_i [alpha sigma^2 e_i.x_i - alpha^2 sigma^2 e_i.mean_i] / v^2
                   - (alpha^2 / v) sum_ik (dL/dl_ik) l_ik,

    where the last sum takes the max-shifted logits (the shift drops out since sum_k dL/dl_ik = 0). Five plain
    matmuls of P x M x d; e.mean and that sum are taken elementwise over (P, M), as autodiff does, which keeps
    float32 as accurate as autodiff's (a one-hot posterior must give dL/dl = 0, not a rounding residue).
    """
    means = params["means"]
    variance = gmm_variance(params)
    total_var = alpha**2 * variance + sigma**2
    c_x, c_mean = alpha * variance / total_var, sigma**2 / total_var
    x = alpha * x0 + sigma * noise  # (P, d)
    mean_sq = jnp.sum(means * means, axis=-1)  # (M,)
    logits = (alpha * (x @ means.T) - 0.5 * alpha**2 * mean_sq[None, :]) / total_var  # (P, M)
    shifted = logits - jnp.max(logits, axis=-1, keepdims=True)  # <= 0
    weights_unnormalised = jnp.exp(shifted)
    inv_total = 1.0 / jnp.sum(weights_unnormalised, axis=-1)  # (P,)
    posterior = weights_unnormalised * inv_total[:, None]  # (P, M)
    mean = posterior @ means  # (P, d) posterior mean of the components
    err = c_x * x + c_mean * mean - x0
    loss = jnp.sum(weights * jnp.sum(err * err, axis=-1))
    cotangent = (2 * weights)[:, None] * err  # dL/dD (P, d)
    projected = cotangent @ means.T  # (P, M) e . mu_k
    # As in the softmax's own backward pass: sum_k p_k (e . mu_k) from the same (P, M) numbers, so that a
    # one-hot posterior (tiny variance, small t) gives dL/dl = 0 exactly instead of a rounding residue that
    # alpha / v (up to ~10^3) would amplify.
    along_mean = jnp.sum(posterior * projected, axis=-1)  # (P,) e . mean
    d_logits = c_mean * posterior * (projected - along_mean[:, None])  # (P, M)
    # Contractions over the points with the small (P, d) operand transposed: (d, P) @ (P, M), then (M, d).
    d_logits_x = (x.T @ d_logits).T  # (M, d) sum_i dL/dl_ik x_i
    d_logits_sum = jnp.sum(d_logits, axis=0)  # (M,)
    d_means = (
        c_mean * (cotangent.T @ posterior).T
        + (alpha / total_var) * d_logits_x
        - (alpha**2 / total_var) * d_logits_sum[:, None] * means
    )
    # sum_ik dL/dl_ik l_ik with the max-shifted logits (the shift drops out since sum_k dL/dl_ik = 0): elementwise,
    # not expanded into alpha x.mu_k and alpha^2 |mu_k|^2 / 2, which cancel to a few digits in float32.
    logit_sum = jnp.sum(d_logits * shifted)
    d_variance = (
        alpha * sigma**2 * jnp.sum(cotangent * x) - alpha**2 * sigma**2 * jnp.sum(along_mean)
    ) / total_var**2 - (alpha**2 / total_var) * logit_sum
    return loss, {"means": d_means, "log_variance": variance * d_variance}


def pmem_params(train, m) -> dict:
    """Parameters of x_hat_pmem,M for :func:`pmem_apply`: all N training points and a (traceable) count M."""
    train = jnp.asarray(train)
    return {"train": train, "m": jnp.asarray(m, dtype=jnp.int32)}


def pmem_apply(params: dict, x: jax.Array, alpha, sigma) -> jax.Array:
    """Eq. 10, x_hat_pmem,M over the first ``params["m"]`` rows of ``params["train"]`` (N, d): x (B, d) -> (B, d).

    The count is data, not shape, so one compiled kernel serves every M (rows >= M get logit -inf).
    """
    train = params["train"]
    logits = isotropic_gmm_logits(x, alpha=alpha, sigma=sigma, means=train, variance=0.0)
    keep = jnp.arange(train.shape[0]) < params["m"]
    posterior = jax.nn.softmax(jnp.where(keep[None, :], logits, -jnp.inf), axis=-1)
    return posterior @ train


def partial_memorization_indices(n: int, m: int, *, key: jax.Array) -> np.ndarray:
    """Which training samples initialise the M means: a random permutation of the N samples, tiled.

    M <= N gives M distinct samples; M > N gives every sample, then repeats (the permutation again).
    The permutation is drawn on the host by NumPy from a generator seeded with the key's bits (no device
    compilation for a one-off shuffle). Returns (M,) int indices.
    """
    if n < 1 or m < 1:
        raise InvalidInputError(f"n and m must be >= 1, got n={n}, m={m}")
    permutation = host_generator(key).permutation(n)
    return permutation[np.arange(m) % n]


def partial_memorization_init(
    x_train, m: int, *, key: jax.Array, variance: float = PMEM_INIT_VARIANCE, dtype=None
) -> dict:
    """App. H.1 initialisation: variance 1e-6, means = distinct random training samples (M > N: all, then repeats).

    x_train (N, d); ``key`` an explicit PRNG key (used once); ``dtype`` defaults to x_train's.
    """
    x_train = np.asarray(x_train)
    if x_train.ndim != 2:
        raise InvalidInputError(f"x_train must have shape (N, d), got {x_train.shape}")
    if not variance > 0:
        raise InvalidInputError(f"the initial variance must be positive, got {variance}")
    indices = partial_memorization_indices(x_train.shape[0], m, key=key)
    dtype = x_train.dtype if dtype is None else dtype
    return gmm_params(x_train[indices], variance, dtype=dtype)
