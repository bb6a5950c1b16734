"""Float64 NumPy reference denoisers (eqs. 7, 10, 11-12, Lemma 2.1).

Slow, obviously correct; everything is checked against them.

Shapes: ``x`` is ``(B, d)`` (a batch of noisy points), ``alpha``/``sigma`` are scalars.
Softmax weights always go through ``scipy.special.softmax`` (max-subtracted log-sum-exp).
"""

from __future__ import annotations

import numpy as np

from memlab._errors import InvalidInputError

__all__ = [
    "gmm_denoiser",
    "isotropic_gmm_denoiser",
    "isotropic_gmm_posterior",
    "memorizing_denoiser",
    "partial_memorizing_denoiser",
]


def softmax(logits: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """``scipy.special.softmax`` (max-subtracted), the reference's one softmax."""
    # Lazy: scipy.special costs ~0.15 s at import, paid by every command that imports memlab.numerics.
    from scipy.special import softmax as scipy_softmax

    return scipy_softmax(logits, axis=axis)


def _as_batch(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise InvalidInputError(f"x must have shape (B, d), got {x.shape}")
    return x


def isotropic_gmm_posterior(x, *, alpha: float, sigma: float, means, variance: float) -> np.ndarray:
    """Posterior component probabilities ``softmax(w)``, ``w_i = -|alpha mu_i - x|^2 / (2 (alpha^2 s^2 + sigma^2))``.

    x: (B, d); means: (M, d) -> (B, M).
    """
    x = _as_batch(x)
    means = np.asarray(means, dtype=np.float64)
    total_var = alpha**2 * variance + sigma**2
    diff = alpha * means[None, :, :] - x[:, None, :]  # (B, M, d)
    logits = -np.sum(diff * diff, axis=-1) / (2.0 * total_var)
    return softmax(logits, axis=-1)


def isotropic_gmm_denoiser(x, *, alpha: float, sigma: float, means, variance: float) -> np.ndarray:
    """Eq. 11-12: posterior mean for pi = (1/M) sum_i N(mu_i, variance I).

    ``x_hat = [alpha s^2 / (alpha^2 s^2 + sigma^2)] x + [sigma^2 / (alpha^2 s^2 + sigma^2)] sum_i mu_i softmax(w)_i``.
    x: (B, d); means: (M, d); variance >= 0 (0 gives the memorizing denoiser) -> (B, d).
    """
    x = _as_batch(x)
    means = np.asarray(means, dtype=np.float64)
    total_var = alpha**2 * variance + sigma**2
    posterior = isotropic_gmm_posterior(x, alpha=alpha, sigma=sigma, means=means, variance=variance)
    return (alpha * variance / total_var) * x + (sigma**2 / total_var) * (posterior @ means)


def memorizing_denoiser(x, *, alpha: float, sigma: float, train) -> np.ndarray:
    """Eq. 7: the empirical-distribution denoiser, sum_i x^i softmax(-|alpha x^i - x|^2 / (2 sigma^2))_i."""
    return isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=train, variance=0.0)


def partial_memorizing_denoiser(x, *, alpha: float, sigma: float, train, m: int) -> np.ndarray:
    """Eq. 10: the memorizing denoiser over the first ``m`` training points (1 <= m <= N)."""
    train = np.asarray(train, dtype=np.float64)
    if not 1 <= m <= train.shape[0]:
        raise InvalidInputError(f"m must be in [1, {train.shape[0]}], got {m}")
    return memorizing_denoiser(x, alpha=alpha, sigma=sigma, train=train[:m])


def gmm_denoiser(x, *, alpha: float, sigma: float, means, covariances, weights=None) -> np.ndarray:
    """Lemma 2.1: posterior mean for pi = sum_i pi_i N(mu_i, Sigma_i) with full covariances.

    ``x_hat = (1/alpha) (x - sigma^2 sum_i S_i^{-1} (x - alpha mu_i) softmax(w)_i)``, S_i = alpha^2 Sigma_i + sigma^2 I,
    ``w_i = log pi_i - 1/2 log det S_i - 1/2 (x - alpha mu_i)^T S_i^{-1} (x - alpha mu_i)``.
    x: (B, d); means: (M, d); covariances: (M, d, d); weights: (M,) or None (uniform) -> (B, d).
    """
    x = _as_batch(x)
    means = np.asarray(means, dtype=np.float64)
    covariances = np.asarray(covariances, dtype=np.float64)
    m, d = means.shape
    log_weights = np.zeros(m) if weights is None else np.log(np.asarray(weights, dtype=np.float64))
    logits = np.empty((x.shape[0], m))
    solved = np.empty((x.shape[0], m, d))
    for i in range(m):
        s_i = alpha**2 * covariances[i] + sigma**2 * np.eye(d)
        residual = x - alpha * means[i]  # (B, d)
        solved[:, i, :] = np.linalg.solve(s_i, residual.T).T
        _, logdet = np.linalg.slogdet(s_i)
        logits[:, i] = log_weights[i] - 0.5 * logdet - 0.5 * np.sum(residual * solved[:, i, :], axis=-1)
    posterior = softmax(logits, axis=-1)
    return (x - sigma**2 * np.einsum("bm,bmd->bd", posterior, solved)) / alpha
