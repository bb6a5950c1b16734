"""JAX kernels (jit-compiled, chunked, device-sharded) for Monte Carlo losses and training; CPU or GPU.

Importing this package imports JAX but never changes JAX's global configuration.
"""

from memlab.gpu_kernels._denoisers import (
    gmm_denoiser,
    isotropic_gmm_denoiser,
    isotropic_gmm_logits,
    memorizing_denoiser,
    partial_memorizing_denoiser,
)
from memlab.gpu_kernels._losses import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_CHUNK_SIZE,
    ExcessLosses,
    excess_pmem_single_m,
    mc_excess_losses,
    noise_draws,
    trace_count,
)

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_CHUNK_SIZE",
    "ExcessLosses",
    "excess_pmem_single_m",
    "gmm_denoiser",
    "isotropic_gmm_denoiser",
    "isotropic_gmm_logits",
    "mc_excess_losses",
    "memorizing_denoiser",
    "noise_draws",
    "partial_memorizing_denoiser",
    "trace_count",
]
