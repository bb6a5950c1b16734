"""Float64 NumPy/SciPy reference implementations and formula evaluation."""

from memlab.numerics._crossover import CrossoverResult, crossover, time_averages
from memlab.numerics._data import GMMDataset, load_gmm_dataset, make_gmm_dataset, nearest_labels, sphere_means
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
    "CrossoverResult",
    "DEFAULT_STEPS",
    "GMMDataset",
    "REPRESENTATIVE_T_INDEX",
    "crossover",
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
    "time_averages",
    "timestep_grid",
]
