"""Float64 NumPy/SciPy reference implementations and formula evaluation."""

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
from memlab.numerics._schedules import (
    DEFAULT_STEPS,
    REPRESENTATIVE_T_INDEX,
    representative_t,
    schedule_coefficients,
    timestep_grid,
)

__all__ = [
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
    "REPRESENTATIVE_T_INDEX",
    "gmm_denoiser",
    "isotropic_gmm_denoiser",
    "isotropic_gmm_posterior",
    "load_gmm_dataset",
    "make_gmm_dataset",
    "memorizing_denoiser",
    "nearest_labels",
    "partial_memorizing_denoiser",
    "representative_t",
    "schedule_coefficients",
    "sphere_means",
    "timestep_grid",
]
