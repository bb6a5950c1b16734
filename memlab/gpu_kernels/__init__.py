"""JAX kernels (jit-compiled, chunked, device-sharded) for Monte Carlo losses and training; CPU or GPU.

Importing this package imports JAX but never changes JAX's global configuration.
"""

from memlab.gpu_kernels._checkpoint import (
    CHECKPOINT_SECONDS_ENV,
    DEFAULT_CHECKPOINT_SECONDS,
    PeriodicCheckpoint,
    checkpoint_seconds,
    load_train_state,
    resumable,
    save_train_state,
)
from memlab.gpu_kernels._denoisers import (
    gmm_denoiser,
    isotropic_gmm_denoiser,
    isotropic_gmm_logits,
    memorizing_denoiser,
    partial_memorizing_denoiser,
)
from memlab.gpu_kernels._evaluation import mc_time_loss
from memlab.gpu_kernels._gmm_model import (
    PMEM_INIT_VARIANCE,
    gmm_apply,
    gmm_loss_and_grad,
    gmm_params,
    gmm_variance,
    partial_memorization_indices,
    partial_memorization_init,
    pmem_apply,
    pmem_params,
)
from memlab.gpu_kernels._host_random import host_generator
from memlab.gpu_kernels._image_denoisers import low_rank_image_denoiser, low_rank_image_logits
from memlab.gpu_kernels._image_model import INIT_COLOR_VAR, image_model_apply, image_model_color_var, init_image_model
from memlab.gpu_kernels._losses import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_CHUNK_SIZE,
    ExcessLosses,
    TileLayout,
    available_memory,
    default_chunk_size,
    excess_pmem_single_m,
    mc_excess_losses,
    mc_memory_estimate,
    noise_draws,
    tile_layout,
)
from memlab.gpu_kernels._native import build_native_kernel, native_kernel_status
from memlab.gpu_kernels._sampling import ddim_sample, ddim_sample_model
from memlab.gpu_kernels._tracing import trace_counts
from memlab.gpu_kernels._training import (
    TrainConfig,
    TrainResult,
    TrainState,
    train,
    train_runs,
    training_noise,
    weighted_loss,
)

__all__ = [
    "CHECKPOINT_SECONDS_ENV",
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_CHECKPOINT_SECONDS",
    "DEFAULT_CHUNK_SIZE",
    "INIT_COLOR_VAR",
    "PMEM_INIT_VARIANCE",
    "ExcessLosses",
    "PeriodicCheckpoint",
    "TileLayout",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "available_memory",
    "build_native_kernel",
    "checkpoint_seconds",
    "ddim_sample",
    "ddim_sample_model",
    "default_chunk_size",
    "excess_pmem_single_m",
    "gmm_apply",
    "gmm_denoiser",
    "gmm_loss_and_grad",
    "gmm_params",
    "gmm_variance",
    "host_generator",
    "image_model_apply",
    "image_model_color_var",
    "init_image_model",
    "isotropic_gmm_denoiser",
    "isotropic_gmm_logits",
    "load_train_state",
    "low_rank_image_denoiser",
    "low_rank_image_logits",
    "mc_excess_losses",
    "mc_memory_estimate",
    "mc_time_loss",
    "memorizing_denoiser",
    "native_kernel_status",
    "noise_draws",
    "partial_memorization_indices",
    "partial_memorization_init",
    "partial_memorizing_denoiser",
    "pmem_apply",
    "pmem_params",
    "resumable",
    "save_train_state",
    "tile_layout",
    "trace_counts",
    "train",
    "train_runs",
    "training_noise",
    "weighted_loss",
]
