"""Float64 Monte Carlo loss estimators (Section 2): the per-time loss (eq. 6) and excess losses (eq. 13).

Slow and obviously correct: one sample at a time, the denoisers of :mod:`memlab.numerics._denoisers`.
Every estimator returns an :class:`MCEstimate` (mean and Monte Carlo standard error).

Monte Carlo over a fixed training set. ``noise`` has shape ``(N, R, d)``: R standard normal draws per
training sample, ``X_t^{i,r} = alpha x^i + sigma noise[i, r]``. For each sample i the R values
``f_{i,r}`` give a mean ``m_i`` and an unbiased sample variance ``s_i^2``; the estimate is
``(1/N) sum_i m_i`` and its standard error ``sqrt(sum_i s_i^2 / R) / N`` (the only randomness for a
fixed dataset is the noise). With R = 1 the standard error is undefined (NaN).

Excess losses are estimated directly as ``E |x_hat(X) - x_mem(X)|^2`` on the same noisy points
(common random numbers, eq. 13), never as a difference of two loss estimates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from memlab._errors import InvalidInputError
from memlab.numerics._denoisers import memorizing_denoiser, partial_memorizing_denoiser
from memlab.numerics._standard_error import within_sample_standard_error

__all__ = [
    "MCEstimate",
    "excess_loss",
    "excess_loss_pmem",
    "excess_losses_pmem",
    "mc_estimate",
    "per_time_loss",
]

Denoiser = Callable[[np.ndarray], np.ndarray]  # (B, d) -> (B, d) at a fixed t


@dataclass(frozen=True)
class MCEstimate:
    """A Monte Carlo estimate: ``mean`` with standard error ``se``.

    ``draws``: noise draws per training sample (R); ``per_sample_mean`` (N,) and
    ``per_sample_var`` (N,) the within-sample mean and unbiased variance over the R draws.
    """

    mean: float
    se: float
    draws: int
    per_sample_mean: np.ndarray
    per_sample_var: np.ndarray


def mc_estimate(values) -> MCEstimate:
    """Reduce per-(sample, draw) values ``(N, R)`` to the mean over samples and its standard error."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] < 1:
        raise InvalidInputError(f"values must have shape (N, R) with N, R >= 1, got {values.shape}")
    n, r = values.shape
    per_sample_mean = values.mean(axis=1)
    per_sample_var = values.var(axis=1, ddof=1) if r > 1 else np.full(n, np.nan)
    mean = float(per_sample_mean.mean())
    se = float(within_sample_standard_error(per_sample_var, r))
    return MCEstimate(mean=mean, se=se, draws=r, per_sample_mean=per_sample_mean, per_sample_var=per_sample_var)


def _check(x_train, noise) -> tuple[np.ndarray, np.ndarray]:
    x_train = np.asarray(x_train, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if x_train.ndim != 2:
        raise InvalidInputError(f"x_train must have shape (N, d), got {x_train.shape}")
    if noise.ndim != 3 or noise.shape[0] != x_train.shape[0] or noise.shape[2] != x_train.shape[1]:
        raise InvalidInputError(
            f"noise must have shape (N, R, d) = ({x_train.shape[0]}, R, {x_train.shape[1]}), got {noise.shape}"
        )
    return x_train, noise


def _noisy(x_i: np.ndarray, noise_i: np.ndarray, alpha: float, sigma: float) -> np.ndarray:
    """The R noisy points ``alpha x^i + sigma z`` of one sample: (d,), (R, d) -> (R, d)."""
    return alpha * x_i[None, :] + sigma * noise_i


def _squared_norms(a: np.ndarray) -> np.ndarray:
    return np.sum(a * a, axis=-1)


def per_time_loss(denoiser: Denoiser, x_train, *, alpha: float, sigma: float, noise) -> MCEstimate:
    """Eq. 6: ``L_{N,t}(x_hat) = (1/N) sum_i E_Z |x_hat(alpha x^i + sigma Z) - x^i|^2``.

    denoiser: (B, d) -> (B, d) at this t; x_train: (N, d); noise: (N, R, d) standard normal.
    """
    x_train, noise = _check(x_train, noise)
    values = np.empty(noise.shape[:2])
    for i, x_i in enumerate(x_train):
        x_t = _noisy(x_i, noise[i], alpha, sigma)
        values[i] = _squared_norms(np.asarray(denoiser(x_t), dtype=np.float64) - x_i[None, :])
    return mc_estimate(values)


def excess_loss(denoiser: Denoiser, x_train, *, alpha: float, sigma: float, noise) -> MCEstimate:
    """Eq. 13: ``(1/N) sum_i E |x_hat(X_t^i) - x_mem(X_t^i)|^2`` = L_{N,t}(x_hat) - L_{N,t}(x_mem) in expectation.

    Common random numbers: both denoisers see the same noisy points. Shapes as :func:`per_time_loss`.
    """
    x_train, noise = _check(x_train, noise)
    values = np.empty(noise.shape[:2])
    for i, x_i in enumerate(x_train):
        x_t = _noisy(x_i, noise[i], alpha, sigma)
        x_mem = memorizing_denoiser(x_t, alpha=alpha, sigma=sigma, train=x_train)
        values[i] = _squared_norms(np.asarray(denoiser(x_t), dtype=np.float64) - x_mem)
    return mc_estimate(values)


def excess_loss_pmem(x_train, *, m: int, alpha: float, sigma: float, noise) -> MCEstimate:
    """Excess loss (eq. 13) of the partially memorizing denoiser over the first ``m`` samples (eq. 10)."""
    x_train = np.asarray(x_train, dtype=np.float64)
    return excess_loss(
        lambda x: partial_memorizing_denoiser(x, alpha=alpha, sigma=sigma, train=x_train, m=m),
        x_train,
        alpha=alpha,
        sigma=sigma,
        noise=noise,
    )


def excess_losses_pmem(
    x_train, *, alpha: float, sigma: float, noise, ms: Sequence[int] | None = None
) -> list[MCEstimate]:
    """:func:`excess_loss_pmem` for each M in ``ms`` (default every M = 1..N), one plain loop over M."""
    x_train = np.asarray(x_train, dtype=np.float64)
    ms = range(1, x_train.shape[0] + 1) if ms is None else ms
    return [excess_loss_pmem(x_train, m=int(m), alpha=alpha, sigma=sigma, noise=noise) for m in ms]
