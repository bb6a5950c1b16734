"""The presets: named settings of every figure, in one place.

- ``paper``: the paper's setting and budget (App. H.1: 50,000 epochs for the GMM, 100,000 for the image
  model, 100 noise draws, Adam with lr warm-up 0 -> 1e-3 over a tenth of the epochs and decay to 1e-6,
  b2 = 0.999) — meant for a GPU or a cluster.
- ``cpu``: the same experiments at a budget a 2-core machine runs in minutes. 1 noise draw per sample
  and time, 1,000 (GMM) / 500 (image) epochs, and a faster optimiser: with the paper's lr 1e-3 and
  b2 = 0.999 the log-variance cannot leave log(1e-6) in so few steps (the huge early gradients dominate
  Adam's second-moment estimate for thousands of steps), so the cpu recipes use a larger peak lr and
  b2 = 0.9. Whether that moves the transition is studied in docs/convergence.md.
- ``paper-small`` (Figures 2, 3, 6, 7): the paper's training recipe exactly (App. H.1: 50,000 epochs, 100
  draws, lr 0 -> 1e-3 -> 1e-6, b2 = 0.999, eps weighting) at the sizes of the CPU tuples (N = 20-40), with
  the CPU preset's evaluation (50 DDIM samples, 20 evaluation draws), so that it differs from ``cpu`` in
  the training alone: ~20-30 min per model on one CPU core at N = 20 (docs/convergence.md).

Use :func:`preset` (``preset(2, "cpu")``) or the tables below; change a field with ``dataclasses.replace``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from memlab._errors import InvalidInputError
from memlab.paper_figs._settings import (
    Figure1Settings,
    Figure3Settings,
    Figure4Settings,
    Figure5Settings,
    ImageDataSettings,
    PhaseTransitionSettings,
    TrainingRecipe,
)

__all__ = ["FIGURES", "IMAGE_MODEL_CACHE", "PHASE_TRANSITION_CACHE", "PRESETS", "RECIPES", "preset", "preset_names"]

#: Default run caches (relative to the working folder): Figures 2, 3, 6, 7 share one, Figure 5 has its own.
PHASE_TRANSITION_CACHE = Path("figures/cache/phase-transition")
IMAGE_MODEL_CACHE = Path("figures/cache/image-model")

#: Training recipes (App. H.1 and the CPU budgets).
RECIPES: MappingProxyType[str, TrainingRecipe] = MappingProxyType(
    {
        "gmm-paper": TrainingRecipe(
            epochs=50_000,
            draws=100,
            peak_lr=1e-3,
            final_lr=1e-6,
            warmup_fraction=0.1,
            adam_b2=0.999,
            n_eval=50,
            eval_draws=100,
        ),
        "gmm-cpu": TrainingRecipe(
            epochs=1000,
            draws=1,
            peak_lr=5e-2,
            final_lr=1e-6,
            warmup_fraction=0.1,
            adam_b2=0.9,
            n_eval=50,
            eval_draws=20,
        ),
        "image-paper": TrainingRecipe(
            epochs=100_000,
            draws=100,
            peak_lr=1e-3,
            final_lr=1e-6,
            warmup_fraction=0.1,
            adam_b2=0.999,
            n_eval=50,
            eval_draws=100,
        ),
        # App. H.1's optimizer, schedule, draws and epochs with the CPU recipe's evaluation (docs/convergence.md).
        "gmm-paper-small": TrainingRecipe(
            epochs=50_000,
            draws=100,
            peak_lr=1e-3,
            final_lr=1e-6,
            warmup_fraction=0.1,
            adam_b2=0.999,
            n_eval=50,
            eval_draws=20,
        ),
        "image-cpu": TrainingRecipe(
            epochs=500, draws=1, peak_lr=1e-1, final_lr=1e-4, warmup_fraction=0.1, adam_b2=0.9, n_eval=50, eval_draws=20
        ),
    }
)

_PHASE_TRANSITION = {
    # App. H.1: N = 200, d = 50, K = 12, M = 20 j for j = 1..20, then 10 models over the transition.
    "paper": PhaseTransitionSettings(
        preset="paper",
        n=200,
        d=50,
        k=12,
        recipe=RECIPES["gmm-paper"],
        m_values=tuple(20 * j for j in range(1, 21)),
        refine=10,
    ),
    # A grid that brackets the transition near 0.8 N.
    "cpu": PhaseTransitionSettings(
        preset="cpu",
        n=200,
        d=50,
        k=12,
        recipe=RECIPES["gmm-cpu"],
        m_values=(40, 80, 120, 150, 170, 190, 210, 260),
        refine=0,
    ),
    # The paper's recipe at the smallest Figure 3 CPU tuple (N = 20, d = 20, K = 2), M = 2, 4, ..., 24.
    "paper-small": PhaseTransitionSettings(
        preset="paper-small",
        n=20,
        d=20,
        k=2,
        recipe=RECIPES["gmm-paper-small"],
        m_values=tuple(2 * j for j in range(1, 13)),
        refine=6,
    ),
}

_FIGURE3 = {
    # The 64 tuples of App. H.1 (20 + 10 models each).
    "paper": Figure3Settings(
        preset="paper",
        ns=(50, 100, 150, 200),
        ds=(30, 40, 50, 60),
        ks=(3, 6, 9, 12),
        multiples=20,
        refine=10,
        exact_draws=100,
        exact_dtype="float32",
        recipe=RECIPES["gmm-paper"],
    ),
    # 12 small tuples; a grid of 12 multiples of floor(N/10) (the transition sits near 0.8 N) and 6 refinements.
    "cpu": Figure3Settings(
        preset="cpu",
        ns=(20, 30, 40),
        ds=(20, 30),
        ks=(2, 4),
        multiples=12,
        refine=6,
        exact_draws=20,
        exact_dtype="float64",
        recipe=RECIPES["gmm-cpu"],
    ),
    # The cpu tuples and grid with the paper's recipe (~0.5-2 h per model on a CPU core: a pool, a cluster, a GPU).
    "paper-small": Figure3Settings(
        preset="paper-small",
        ns=(20, 30, 40),
        ds=(20, 30),
        ks=(2, 4),
        multiples=12,
        refine=6,
        exact_draws=20,
        exact_dtype="float64",
        recipe=RECIPES["gmm-paper-small"],
    ),
}

_FIGURE4_DATA = ImageDataSettings(k=8, n=8, n_test=0)  # no held-out set: Figure 4 only shows images
_FIGURE5_DATA = ImageDataSettings(k=4, n=100)

#: ``PRESETS[figure][name]``: the settings object a figure's ``compute`` takes.
PRESETS: MappingProxyType[int, MappingProxyType[str, Any]] = MappingProxyType(
    {
        1: MappingProxyType({"paper": Figure1Settings()}),
        2: MappingProxyType(_PHASE_TRANSITION),
        3: MappingProxyType(_FIGURE3),
        4: MappingProxyType(
            {
                name: Figure4Settings(preset=name, data=_FIGURE4_DATA, recipe=RECIPES[f"image-{name}"])
                for name in ("paper", "cpu")
            }
        ),
        5: MappingProxyType(
            {
                name: Figure5Settings(preset=name, data=_FIGURE5_DATA, recipe=RECIPES[f"image-{name}"])
                for name in ("paper", "cpu")
            }
        ),
        6: MappingProxyType(_PHASE_TRANSITION),
        7: MappingProxyType({name: replace(settings, seeds=(0, 1, 2)) for name, settings in _PHASE_TRANSITION.items()}),
    }
)
FIGURES = tuple(PRESETS)


def preset_names(figure: int) -> tuple[str, ...]:
    """The preset names of a figure, in their table order."""
    if figure not in PRESETS:
        raise InvalidInputError(f"no figure {figure}; the figures are {', '.join(map(str, FIGURES))}")
    return tuple(PRESETS[figure])


def preset(figure: int, name: str) -> Any:
    """The settings of ``figure`` under the preset ``name`` (e.g. ``preset(2, "cpu")``)."""
    names = preset_names(figure)
    if name not in names:
        raise InvalidInputError(f"figure {figure} has no preset {name!r}; choose one of {', '.join(names)}")
    return PRESETS[figure][name]
