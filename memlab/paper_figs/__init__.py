"""Consumers: one recipe per paper figure, as pure functions over frozen settings.

Each ``figure<N>`` module has ``compute(settings) -> result`` (arrays with standard errors),
``plot(result) -> matplotlib Figure``, ``save(result, folder)`` (PNG + PDF + CSV/NPZ + JSON, written as a
set) and ``describe(result) -> str``. They are re-exported flat as ``compute_figure<N>``,
``plot_figure<N>``, ``save_figure<N>``. Settings are the dataclasses of :mod:`~memlab.paper_figs._settings`;
named instances (the presets) come from :func:`preset` / :data:`PRESETS`. Figures that train models take
``sweep=SweepOptions(...)`` (cache folder, executor); runs are cached by a hash of their config.

Settings and presets are light; the figure modules (JAX, matplotlib) are imported on first use, so the
command line can build its options without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memlab.paper_figs._presets import IMAGE_MODEL_CACHE, PHASE_TRANSITION_CACHE, PRESETS, RECIPES, preset
from memlab.paper_figs._settings import (
    AnalysisSettings,
    Figure1Settings,
    Figure3Settings,
    Figure4Settings,
    Figure5Settings,
    ImageDataSettings,
    PhaseTransitionSettings,
    TrainingRecipe,
)

if TYPE_CHECKING:
    from memlab.paper_figs import figure1, figure2, figure3, figure4, figure5, figure6, figure7

_FIGURE_FUNCTIONS = tuple(f"{verb}_figure{n}" for verb in ("compute", "plot", "save", "describe") for n in range(1, 8))

__all__ = [
    "IMAGE_MODEL_CACHE",
    "PHASE_TRANSITION_CACHE",
    "PRESETS",
    "RECIPES",
    "AnalysisSettings",
    "Figure1Settings",
    "Figure3Settings",
    "Figure4Settings",
    "Figure5Settings",
    "ImageDataSettings",
    "PhaseTransitionSettings",
    "TrainingRecipe",
    "preset",
    *_FIGURE_FUNCTIONS,
]


def _figure(number: str):
    # Heavy (JAX, matplotlib): loaded on first use (see the module docstring).
    from memlab.paper_figs import figure1, figure2, figure3, figure4, figure5, figure6, figure7

    return {"1": figure1, "2": figure2, "3": figure3, "4": figure4, "5": figure5, "6": figure6, "7": figure7}[number]


def __getattr__(name: str) -> Any:
    if name in _FIGURE_FUNCTIONS:
        verb, number = name.split("_figure")
        value = getattr(_figure(number), verb)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'memlab.paper_figs' has no attribute {name!r}")
