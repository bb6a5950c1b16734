"""Float64 NumPy/SciPy reference implementations and formula evaluation."""

from memlab.numerics._approximations import excess_gen_approx, excess_pmem_approx
from memlab.numerics._crossover import CrossoverResult, crossover, time_averages
from memlab.numerics._data import GMMDataset, load_gmm_dataset, make_gmm_dataset, nearest_labels, sphere_means
from memlab.numerics._image_data import (
    DEFAULT_CHANNELS,
    DEFAULT_SIDE,
    ImageDataset,
    colors_from_images,
    image_component_covariances,
    image_mixture_moments,
    images_to_rgb,
    kron_images,
    load_template_images,
    make_image_dataset,
    read_idx,
    resampling_matrix,
    resize_images,
)
from memlab.numerics._image_denoisers import low_rank_image_denoiser, low_rank_image_logits, low_rank_image_posterior
from memlab.numerics._denoisers import (
    gmm_denoiser,
    isotropic_gmm_denoiser,
    isotropic_gmm_posterior,
    memorizing_denoiser,
    partial_memorizing_denoiser,
)
from memlab.numerics._losses import (
    MCEstimate,
    excess_loss,
    excess_loss_pmem,
    excess_losses_pmem,
    mc_estimate,
    per_time_loss,
)
from memlab.numerics._schedules import (
    DEFAULT_STEPS,
    REPRESENTATIVE_T_INDEX,
    representative_t,
    schedule_coefficients,
    timestep_grid,
)

__all__ = [
    "CrossoverResult",
    "DEFAULT_CHANNELS",
    "DEFAULT_SIDE",
    "ImageDataset",
    "colors_from_images",
    "image_component_covariances",
    "image_mixture_moments",
    "images_to_rgb",
    "kron_images",
    "load_template_images",
    "low_rank_image_denoiser",
    "low_rank_image_logits",
    "low_rank_image_posterior",
    "make_image_dataset",
    "read_idx",
    "resampling_matrix",
    "resize_images",
    "DEFAULT_STEPS",
    "GMMDataset",
    "MCEstimate",
    "REPRESENTATIVE_T_INDEX",
    "crossover",
    "excess_gen_approx",
    "excess_loss",
    "excess_loss_pmem",
    "excess_losses_pmem",
    "excess_pmem_approx",
    "gmm_denoiser",
    "isotropic_gmm_denoiser",
    "isotropic_gmm_posterior",
    "load_gmm_dataset",
    "make_gmm_dataset",
    "mc_estimate",
    "memorizing_denoiser",
    "nearest_labels",
    "partial_memorizing_denoiser",
    "per_time_loss",
    "representative_t",
    "schedule_coefficients",
    "sphere_means",
    "time_averages",
    "timestep_grid",
]
