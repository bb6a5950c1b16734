"""The Monte Carlo standard error of a loss over a fixed training set (one definition for every layer).

For a fixed data set the only randomness is the noise. Sample i has R draws with unbiased variance
``s_i^2``; the estimate ``(1/N) sum_i mean_r f_{i,r}`` then has standard error

    sqrt(sum_i s_i^2 / R) / N,

not the spread across samples (which would measure how the training points differ, not Monte Carlo
error). With R = 1 there is no within-sample variance: callers pass NaN variances and get NaN.
"""

from __future__ import annotations

from typing import Any

__all__ = ["within_sample_standard_error"]


def within_sample_standard_error(per_sample_variance: Any, draws: int) -> Any:
    """``sqrt(sum_i s_i^2 / R) / N`` over the last axis.

    per_sample_variance: (..., N) unbiased within-sample variances over the R = ``draws`` noise draws
    (NumPy or JAX arrays — only array methods are used, so it also runs inside ``jax.jit``).
    Returns the standard errors, shape (...).
    """
    n = per_sample_variance.shape[-1]
    return (per_sample_variance.sum(axis=-1) / draws) ** 0.5 / n
