"""Float64 reference of the deterministic DDIM sampler (App. H.2): a plain loop, obviously correct.

``x_{l+1} = (sigma_{l+1}/sigma_l) x_l + (alpha_{l+1} - (sigma_{l+1}/sigma_l) alpha_l) x_hat(t_l, x_l)`` for
l = 0..L-1; the sample is x_{t_L} (or x_hat(t_L, x_{t_L}) with ``final_denoise=True``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["ddim_sample_reference"]


def ddim_sample_reference(denoise: Callable, x_init, *, alphas, sigmas, final_denoise: bool = False) -> np.ndarray:
    """denoise(x (B, d), alpha, sigma) -> (B, d); x_init (B, d); alphas, sigmas (L+1,) -> (B, d) float64."""
    x = np.asarray(x_init, dtype=np.float64)
    alphas = np.asarray(alphas, dtype=np.float64).reshape(-1)
    sigmas = np.asarray(sigmas, dtype=np.float64).reshape(-1)
    for ell in range(alphas.size - 1):
        ratio = sigmas[ell + 1] / sigmas[ell]
        x_hat = np.asarray(denoise(x, alphas[ell], sigmas[ell]), dtype=np.float64)
        x = ratio * x + (alphas[ell + 1] - ratio * alphas[ell]) * x_hat
    if final_denoise:
        return np.asarray(denoise(x, alphas[-1], sigmas[-1]), dtype=np.float64)
    return x
