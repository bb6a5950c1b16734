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

__all__ = ["PMEM_INIT_VARIANCE", "gmm_apply", "gmm_params", "gmm_variance", "partial_memorization_init",
           "partial_memorization_indices", "pmem_apply", "pmem_params"]

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


def partial_memorization_init(x_train, m: int, *, key: jax.Array, variance: float = PMEM_INIT_VARIANCE,
                              dtype=None) -> dict:
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
