"""JAX kernels (jit-compiled, chunked, device-sharded) for Monte Carlo losses and training; CPU or GPU.

Importing this package imports JAX but never changes JAX's global configuration.
"""

from memlab.gpu_kernels._denoisers import isotropic_gmm_denoiser, isotropic_gmm_logits, memorizing_denoiser
from memlab.gpu_kernels._image_denoisers import low_rank_image_denoiser, low_rank_image_logits
from memlab.gpu_kernels._image_model import (
    INIT_COLOR_VAR,
    image_model_apply,
    image_model_color_var,
    init_image_model,
    partial_memorization_indices,
)

__all__ = [
    "INIT_COLOR_VAR",
    "image_model_apply",
    "image_model_color_var",
    "init_image_model",
    "isotropic_gmm_denoiser",
    "isotropic_gmm_logits",
    "low_rank_image_denoiser",
    "low_rank_image_logits",
    "memorizing_denoiser",
    "partial_memorization_indices",
]
