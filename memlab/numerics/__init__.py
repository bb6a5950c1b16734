"""Float64 NumPy/SciPy reference implementations and formula evaluation."""

from memlab.numerics._approximations import excess_gen_approx, excess_pmem_approx
from memlab.numerics._crossover import CrossoverResult, crossover, time_averages
from memlab.numerics._data import GMMDataset, load_gmm_dataset, make_gmm_dataset, nearest_labels, sphere_means
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
from memlab.numerics._memorization import (
    DEFAULT_MEMORIZATION_C,
    MemorizationRatio,
    PhaseTransition,
    mean_distance_to_nearest,
    memorization_ratio,
    memorized_flags,
    phase_transition,
)
from memlab.numerics._sampling import ddim_sample_reference
from memlab.numerics._schedules import (
    DEFAULT_STEPS,
    REPRESENTATIVE_T_INDEX,
    representative_t,
    schedule_coefficients,
    timestep_grid,
)
from memlab.numerics._training_loss import (
    LOSS_WEIGHTINGS,
    loss_weighting_values,
    per_time_training_losses,
    weighted_training_loss,
)

__all__ = [
    "CrossoverResult",
    "DEFAULT_MEMORIZATION_C",
    "DEFAULT_STEPS",
    "LOSS_WEIGHTINGS",
    "GMMDataset",
    "MCEstimate",
    "REPRESENTATIVE_T_INDEX",
    "crossover",
    "excess_gen_approx",
    "excess_loss",
    "excess_loss_pmem",
    "excess_losses_pmem",
    "excess_pmem_approx",
    "MemorizationRatio",
    "PhaseTransition",
    "ddim_sample_reference",
    "gmm_denoiser",
    "isotropic_gmm_denoiser",
    "isotropic_gmm_posterior",
    "load_gmm_dataset",
    "loss_weighting_values",
    "mean_distance_to_nearest",
    "memorization_ratio",
    "memorized_flags",
    "make_gmm_dataset",
    "mc_estimate",
    "memorizing_denoiser",
    "nearest_labels",
    "partial_memorizing_denoiser",
    "per_time_loss",
    "per_time_training_losses",
    "phase_transition",
    "representative_t",
    "schedule_coefficients",
    "sphere_means",
    "time_averages",
    "timestep_grid",
    "weighted_training_loss",
]
