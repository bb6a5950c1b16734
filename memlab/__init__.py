"""memlab: a verified laboratory for memorization in diffusion models.

The public API is flat: everything a notebook needs is an attribute of ``memlab`` (listed in
``__all__`` and in docs/api.md). Attributes are loaded on first use, so ``import memlab`` itself
imports no JAX, SymPy or matplotlib and never touches JAX's configuration. Three lines make a figure::

    import memlab
    result = memlab.compute_figure1(memlab.preset(1, "paper"))
    memlab.plot_figure1(result)            # a matplotlib Figure; memlab.save_figure1(result, "out/") writes files

Layers (data flows one way; nothing lower imports anything higher): ``memlab.theory`` (SymPy closed
forms) -> ``memlab.numerics`` (float64 NumPy/SciPy references) -> ``memlab.gpu_kernels`` (JAX kernels)
-> ``memlab.verification`` and ``memlab.paper_figs`` (consumers) -> ``memlab.cli``.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from memlab._errors import InvalidInputError
from memlab._version import __version__

if TYPE_CHECKING:  # what the lazy attributes below resolve to, for type checkers and IDEs
    from memlab._sweep import SweepOptions
    from memlab.gpu_kernels import (
        ExcessLosses,
        TrainConfig,
        TrainResult,
        ddim_sample_model,
        mc_excess_losses,
        train,
    )
    from memlab.numerics import (
        CrossoverResult,
        GMMDataset,
        ImageDataset,
        crossover,
        excess_gen_approx,
        excess_pmem_approx,
        load_gmm_dataset,
        make_gmm_dataset,
        make_image_dataset,
        memorization_ratio,
        phase_transition,
        schedule_coefficients,
        timestep_grid,
        within_sample_standard_error,
    )
    from memlab.paper_figs import (
        PRESETS,
        AnalysisSettings,
        Figure1Settings,
        Figure3Settings,
        Figure4Settings,
        Figure5Settings,
        ImageDataSettings,
        PhaseTransitionSettings,
        TrainingRecipe,
        compute_figure1,
        compute_figure2,
        compute_figure3,
        compute_figure4,
        compute_figure5,
        compute_figure6,
        compute_figure7,
        plot_figure1,
        plot_figure2,
        plot_figure3,
        plot_figure4,
        plot_figure5,
        plot_figure6,
        plot_figure7,
        preset,
        save_figure1,
        save_figure2,
        save_figure3,
        save_figure4,
        save_figure5,
        save_figure6,
        save_figure7,
    )
    from memlab.theory import crossover_exact, m_star
    from memlab.verification import Budget, VerificationRun, all_claims, run_claims, select_claims, verify

_THEORY = ("crossover_exact", "m_star")
_NUMERICS = (
    "CrossoverResult",
    "GMMDataset",
    "ImageDataset",
    "crossover",
    "excess_gen_approx",
    "excess_pmem_approx",
    "load_gmm_dataset",
    "make_gmm_dataset",
    "make_image_dataset",
    "memorization_ratio",
    "phase_transition",
    "schedule_coefficients",
    "timestep_grid",
    "within_sample_standard_error",
)
_GPU_KERNELS = ("ExcessLosses", "TrainConfig", "TrainResult", "ddim_sample_model", "mc_excess_losses", "train")
_VERIFICATION = ("Budget", "VerificationRun", "all_claims", "run_claims", "select_claims", "verify")
_PAPER_FIGS = (
    "PRESETS",
    "AnalysisSettings",
    "Figure1Settings",
    "Figure3Settings",
    "Figure4Settings",
    "Figure5Settings",
    "ImageDataSettings",
    "PhaseTransitionSettings",
    "TrainingRecipe",
    "preset",
    *(f"{verb}_figure{n}" for verb in ("compute", "plot", "save") for n in range(1, 8)),
)
_SWEEP = ("SweepOptions",)

__all__ = [
    "InvalidInputError",
    "__version__",
    *_THEORY,
    *_NUMERICS,
    *_GPU_KERNELS,
    *_VERIFICATION,
    *_PAPER_FIGS,
    *_SWEEP,
]


def __getattr__(name: str) -> Any:
    # Lazy attributes (PEP 562): each layer is imported on first use, so `import memlab` stays light.
    layer: ModuleType
    if name in _THEORY:
        from memlab import theory

        layer = theory
    elif name in _NUMERICS:
        from memlab import numerics

        layer = numerics
    elif name in _GPU_KERNELS:
        from memlab import gpu_kernels

        layer = gpu_kernels
    elif name in _VERIFICATION:
        from memlab import verification

        layer = verification
    elif name in _PAPER_FIGS:
        from memlab import paper_figs

        layer = paper_figs
    elif name in _SWEEP:
        from memlab import _sweep

        layer = _sweep
    else:
        raise AttributeError(f"module 'memlab' has no attribute {name!r}")
    value = getattr(layer, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
