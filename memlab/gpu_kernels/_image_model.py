"""The trainable simple image model (Section 4.2, App. H.1): M templates, M colour means, one colour variance.

Parameters (a plain dict pytree; all arrays, so ``jax.jit``/``jax.grad``/optax treat them uniformly):

- ``templates``: (M, D) monochrome templates (D = side^2 pixels);
- ``color_means``: (M, c) one colour mean per template;
- ``log_color_var``: () the shared colour variance is ``exp(log_color_var)`` (positive by construction).

The model's denoiser is the exact posterior mean of ``(1/M) sum_i N(mu_i ⊗ x_i, s^2 (I_c ⊗ x_i)(I_c ⊗ x_i)^T)``
(:func:`memlab.gpu_kernels.low_rank_image_denoiser`); :func:`image_model_apply` has the trainer's model
signature ``apply(params, x, alpha, sigma) -> x_hat`` with x (B, c*D).

Initialisation (App. H.1, "partial memorization"): component i takes the template and the colour that
generated training sample j_i (so ``mu_i ⊗ x_i = y_{j_i}`` exactly), with j_1..j_M distinct random samples
(M > N: every sample once, then repeats — :func:`memlab.gpu_kernels.partial_memorization_indices`, shared with
the isotropic model), and colour variance 1e-6: at initialisation the model is
(numerically) the partially memorizing denoiser over those samples.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from memlab._errors import InvalidInputError
from memlab.gpu_kernels._gmm_model import PMEM_INIT_VARIANCE, partial_memorization_indices
from memlab.gpu_kernels._image_denoisers import low_rank_image_denoiser

__all__ = ["INIT_COLOR_VAR", "image_model_apply", "image_model_color_var", "init_image_model"]

INIT_COLOR_VAR = PMEM_INIT_VARIANCE  # App. H.1: the initial colour variance, 1e-6


def image_model_color_var(params) -> jax.Array:
    """The shared colour variance ``exp(log_color_var)`` (> 0)."""
    return jnp.exp(params["log_color_var"])


def image_model_apply(params, x: jax.Array, alpha, sigma) -> jax.Array:
    """The model's denoiser: (B, c*D) -> (B, c*D); ``alpha``, ``sigma`` scalars (may be traced)."""
    return low_rank_image_denoiser(
        x,
        alpha=alpha,
        sigma=sigma,
        templates=params["templates"],
        color_means=params["color_means"],
        color_var=image_model_color_var(params),
    )


def init_image_model(
    *, key: jax.Array, m: int, templates, labels_train, colors_train, init_color_var: float = INIT_COLOR_VAR, dtype=None
) -> dict:
    """Partial-memorization initialisation (App. H.1).

    templates: (K, D) the true templates; labels_train: (N,) template of each training sample;
    colors_train: (N, c) colour of each training sample (``x_train[j] = colors_train[j] ⊗ templates[labels_train[j]]``).
    Returns ``{"templates": (M, D), "color_means": (M, c), "log_color_var": ()}`` in ``dtype``
    (default: JAX's default float type).
    """
    if not init_color_var > 0:
        raise InvalidInputError(f"init_color_var must be > 0, got {init_color_var}")
    templates = np.asarray(templates, dtype=np.float64)
    labels_train = np.asarray(labels_train)
    colors_train = np.asarray(colors_train, dtype=np.float64)
    chosen = partial_memorization_indices(labels_train.shape[0], m, key=key)
    dtype = dtype or jnp.result_type(float)
    return {
        "templates": jnp.asarray(templates[labels_train[chosen]], dtype=dtype),
        "color_means": jnp.asarray(colors_train[chosen], dtype=dtype),
        "log_color_var": jnp.asarray(np.log(init_color_var), dtype=dtype),
    }
