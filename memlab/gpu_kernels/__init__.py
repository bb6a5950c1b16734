"""JAX kernels (jit-compiled, chunked, device-sharded) for Monte Carlo losses and training; CPU or GPU.

Importing this package imports JAX but never changes JAX's global configuration.
"""

from memlab.gpu_kernels._denoisers import isotropic_gmm_denoiser, isotropic_gmm_logits, memorizing_denoiser

__all__ = ["isotropic_gmm_denoiser", "isotropic_gmm_logits", "memorizing_denoiser"]
