"""Deterministic DDIM sampling (App. H.2) for any denoiser, jit-compiled as one ``lax.scan`` over the grid.

    x_{l+1} = (sigma_{l+1} / sigma_l) x_l + (alpha_{l+1} - (sigma_{l+1} / sigma_l) alpha_l) x_hat(t_l, x_l),
    l = 0 .. L-1, over the decreasing grid t_0 = 0.999 -> t_L = 0.001, x_{t_0} ~ N(0, I) (given as ``x_init``).

App. H.2 defines the iterates x_{t_l} up to l = L and says nothing more, so the generated sample is the
last iterate x_{t_L} (at t_L = 0.001 it differs from a final clean-up x_hat(t_L, x_{t_L}) by O(sigma_{t_L})).
``final_denoise=True`` returns x_hat(t_L, x_{t_L}) instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from memlab._errors import InvalidInputError
from memlab.gpu_kernels._tracing import TRACE_COUNTS

__all__ = ["ddim_sample", "ddim_sample_model"]


@functools.partial(jax.jit, static_argnames=("apply", "final_denoise"))
def _ddim_scan(
    apply: Callable, params, x_init: jax.Array, alphas: jax.Array, sigmas: jax.Array, *, final_denoise: bool
) -> jax.Array:
    TRACE_COUNTS["ddim"] += 1

    def step(x, coefficients):
        alpha, sigma, alpha_next, sigma_next = coefficients
        ratio = sigma_next / sigma
        x_hat = apply(params, x, alpha, sigma)
        return ratio * x + (alpha_next - ratio * alpha) * x_hat, None

    coefficients = (alphas[:-1], sigmas[:-1], alphas[1:], sigmas[1:])
    x_final, _ = jax.lax.scan(step, x_init, coefficients)
    if final_denoise:
        return apply(params, x_final, alphas[-1], sigmas[-1])
    return x_final


def _prepare(x_init, alphas, sigmas):
    x_init = jnp.asarray(x_init)
    if x_init.ndim != 2:
        raise InvalidInputError(f"x_init must have shape (B, d), got {x_init.shape}")
    alphas = jnp.asarray(alphas, dtype=x_init.dtype).reshape(-1)
    sigmas = jnp.asarray(sigmas, dtype=x_init.dtype).reshape(-1)
    if alphas.shape != sigmas.shape or alphas.size < 2:
        raise InvalidInputError(
            f"alphas and sigmas must be two grids of equal length >= 2, got {alphas.shape}, {sigmas.shape}"
        )
    return x_init, alphas, sigmas


@functools.lru_cache(maxsize=64)
def _as_model(denoise: Callable) -> Callable:
    """One ``apply(params, x, alpha, sigma)`` wrapper per ``denoise`` object, so jit's cache hits on re-use."""

    def apply(_params, x, alpha, sigma):
        return denoise(x, alpha, sigma)

    return apply


def ddim_sample_model(apply: Callable, params, x_init, *, alphas, sigmas, final_denoise: bool = False) -> jax.Array:
    """DDIM with a parameterised model ``apply(params, x (B, d), alpha, sigma) -> (B, d)``.

    x_init: (B, d) draws of N(0, I) at t_0; alphas, sigmas: (L+1,) along the decreasing grid. ``params``
    is traced, so new parameter values of the same shapes never retrace. Returns (B, d).
    """
    x_init, alphas, sigmas = _prepare(x_init, alphas, sigmas)
    return _ddim_scan(apply, params, x_init, alphas, sigmas, final_denoise=final_denoise)


def ddim_sample(denoise: Callable, x_init, *, alphas, sigmas, final_denoise: bool = False) -> jax.Array:
    """DDIM with any denoiser ``denoise(x (B, d), alpha, sigma) -> x_hat (B, d)`` (compiled per ``denoise`` object).

    x_init: (B, d); alphas, sigmas: (L+1,) along the decreasing grid. Returns x_{t_L} (B, d), or
    x_hat(t_L, x_{t_L}) with ``final_denoise=True``.
    """
    x_init, alphas, sigmas = _prepare(x_init, alphas, sigmas)
    return _ddim_scan(_as_model(denoise), None, x_init, alphas, sigmas, final_denoise=final_denoise)
