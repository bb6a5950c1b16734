"""Float64 reference posterior mean of the low-rank image mixture (Lemma 2.1 + App. H.4).

Component i of ``pi = (1/M) sum_i N(m_i, Sigma_i)`` has ``A_i = I_c ⊗ x_i`` (x_i a template of D pixels),
``m_i = A_i mu_i = mu_i ⊗ x_i`` and ``Sigma_i = s^2 A_i A_i^T`` (s^2 = colour variance). With
``n_i = |x_i|^2`` we have ``A_i^T A_i = n_i I_c``, hence (Woodbury and the matrix-determinant lemma)

    S_i = alpha^2 Sigma_i + sigma^2 I,
    S_i^{-1} = (1/sigma^2) (I - beta_i A_i A_i^T),   beta_i = alpha^2 s^2 / (sigma^2 + alpha^2 s^2 n_i),
    log det S_i = c D log sigma^2 + c log(1 + alpha^2 s^2 n_i / sigma^2).

Everything is expressed through the c-vectors ``P_i = A_i^T x`` (x a noisy image; one (B, c, D) x (D, M)
contraction, O(c D) per component and sample) — no (cD) x (cD) matrix is ever formed:

- quadratic form: with ``x_perp`` the part of x orthogonal to range(A_i) (and alpha m_i in that range),
  ``r^T S_i^{-1} r = (|x|^2 - |P_i|^2 / n_i) / sigma^2 + |P_i - alpha n_i mu_i|^2 / (n_i (sigma^2 + alpha^2 s^2 n_i))``
  (two non-negative terms: no cancellation between the Woodbury pieces);
- logits ``w_i = -1/2 log det S_i - 1/2 r^T S_i^{-1} r``; the per-row constants ``|x|^2/sigma^2`` and
  ``c D log sigma^2`` cancel in the softmax and are dropped;
- posterior mean: ``x_hat = sum_i p_i [mu_i + g_i (P_i - alpha n_i mu_i)] ⊗ x_i`` with
  ``g_i = alpha s^2 / (sigma^2 + alpha^2 s^2 n_i)`` — Lemma 2.1 after cancelling the 1/alpha (no division
  by alpha_t, which is small at t_0).

Shapes: ``x`` (B, c*D) channel-major (see :mod:`memlab.numerics._image_data`); ``templates`` (M, D), nonzero;
``color_means`` (M, c) or (c,) (shared); ``color_var`` a scalar >= 0 (0 gives the memorizing denoiser of
the M points ``mu_i ⊗ x_i``).
"""

from __future__ import annotations

import numpy as np

from memlab._errors import InvalidInputError
from memlab.numerics._denoisers import softmax

__all__ = [
    "low_rank_image_denoiser",
    "low_rank_image_logits",
    "low_rank_image_posterior",
    "low_rank_posterior_variance",
]


def _prepare(x, templates, color_means):
    x = np.asarray(x, dtype=np.float64)
    templates = np.asarray(templates, dtype=np.float64)
    color_means = np.asarray(color_means, dtype=np.float64)
    if x.ndim != 2 or templates.ndim != 2:
        raise InvalidInputError(f"x must be (B, c*D) and templates (M, D), got {x.shape} and {templates.shape}")
    m, pixels = templates.shape
    if color_means.ndim == 1:
        color_means = np.broadcast_to(color_means, (m, color_means.shape[0]))
    channels = color_means.shape[1]
    if color_means.shape[0] != m or x.shape[1] != channels * pixels:
        raise InvalidInputError(
            f"inconsistent shapes: x {x.shape}, templates {templates.shape}, color_means {color_means.shape}"
        )
    norms_sq = np.sum(templates * templates, axis=1)
    if np.any(norms_sq <= 0):
        raise InvalidInputError("templates must be nonzero")
    projections = np.einsum("bcd,md->bmc", x.reshape(x.shape[0], channels, pixels), templates)  # P_i = A_i^T x
    return x, templates, color_means, norms_sq, projections


def _logits(projections, norms_sq, color_means, *, alpha, sigma, color_var):
    channels = color_means.shape[1]
    scaled = alpha**2 * color_var * norms_sq  # (M,)
    centred = projections - alpha * norms_sq[None, :, None] * color_means[None, :, :]  # P_i - alpha n_i mu_i
    logdet = channels * np.log1p(scaled / sigma**2)
    return (
        -0.5 * logdet[None, :]
        + np.sum(projections**2, axis=-1) / (2.0 * sigma**2 * norms_sq[None, :])
        - np.sum(centred**2, axis=-1) / (2.0 * norms_sq[None, :] * (sigma**2 + scaled[None, :]))
    )


def low_rank_image_logits(x, *, alpha: float, sigma: float, templates, color_means, color_var: float) -> np.ndarray:
    """Lemma 2.1 logits ``w_i`` up to a per-row constant: (B, c*D) -> (B, M)."""
    x, templates, color_means, norms_sq, projections = _prepare(x, templates, color_means)
    return _logits(projections, norms_sq, color_means, alpha=alpha, sigma=sigma, color_var=color_var)


def low_rank_image_posterior(x, *, alpha: float, sigma: float, templates, color_means, color_var: float) -> np.ndarray:
    """Posterior component probabilities ``softmax(w)``: (B, c*D) -> (B, M)."""
    return softmax(
        low_rank_image_logits(
            x, alpha=alpha, sigma=sigma, templates=templates, color_means=color_means, color_var=color_var
        ),
        axis=-1,
    )


def low_rank_image_denoiser(x, *, alpha: float, sigma: float, templates, color_means, color_var: float) -> np.ndarray:
    """Exact posterior mean of ``(1/M) sum_i N(mu_i ⊗ x_i, s^2 (I_c ⊗ x_i)(I_c ⊗ x_i)^T)``: (B, c*D) -> (B, c*D)."""
    if not (np.isfinite(color_var) and color_var >= 0):
        raise InvalidInputError(f"color_var must be >= 0, got {color_var}")
    x, templates, color_means, norms_sq, projections = _prepare(x, templates, color_means)
    posterior = softmax(
        _logits(projections, norms_sq, color_means, alpha=alpha, sigma=sigma, color_var=color_var), axis=-1
    )
    gain = alpha * color_var / (sigma**2 + alpha**2 * color_var * norms_sq)  # (M,)
    centred = projections - alpha * norms_sq[None, :, None] * color_means[None, :, :]
    colors = posterior[:, :, None] * (color_means[None, :, :] + gain[None, :, None] * centred)  # (B, M, c)
    return np.einsum("bmc,md->bcd", colors, templates).reshape(x.shape[0], -1)


def low_rank_posterior_variance(
    templates, *, alpha: float, sigma: float, color_var: float, channels: int
) -> np.ndarray:
    """Trace of Cov[X_0 | X_t] for each single component N(mu ⊗ x_k, s^2 A_k A_k^T): (K, D) -> (K,).

    ``tr = c s^2 n_k sigma^2 / (sigma^2 + alpha^2 s^2 n_k)`` (n_k = |x_k|^2): the Gaussian posterior covariance
    ``Sigma - alpha^2 Sigma S^{-1} Sigma`` restricted to the c-dimensional range of A_k, where Sigma acts as
    s^2 n_k. It is the isotropic ``d s^2 / (psi s^2 + 1)`` of Theorem 3.1 with d -> c and s^2 -> s^2 n_k, and
    the exact per-time loss E|x_*(X_t) - X_0|^2 of a one-component model; for a mixture it is the high-SNR
    limit (the posterior picks the true component), i.e. the leading term of E|x_* - x_mem|^2.
    """
    templates = np.asarray(templates, dtype=np.float64)
    norms_sq = np.sum(templates * templates, axis=1)
    return channels * color_var * norms_sq * sigma**2 / (sigma**2 + alpha**2 * color_var * norms_sq)
