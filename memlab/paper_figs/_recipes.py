"""From a training recipe to the trainer: the one place a run's config becomes a ``TrainConfig``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memlab.gpu_kernels import TrainConfig
from memlab.paper_figs._settings import TrainingRecipe

__all__ = ["recipe_fields", "train_config"]

#: The optimiser fields of a run config (App. H.1); ``adam_b1``, ``adam_eps`` and the eps-prediction
#: weighting are the paper's (optax defaults) unless a config says otherwise.
_OPTIMIZER_FIELDS = ("epochs", "draws", "peak_lr", "final_lr", "warmup_fraction", "adam_b2", "chunk_size")


def recipe_fields(recipe: TrainingRecipe) -> dict[str, Any]:
    """The recipe's optimiser fields as they appear in a run config (hashed by the sweep)."""
    return {name: getattr(recipe, name) for name in _OPTIMIZER_FIELDS}


def train_config(config: Mapping[str, Any]) -> TrainConfig:
    """The trainer's static configuration for a run config holding :func:`recipe_fields`."""
    return TrainConfig(epochs=config["epochs"], draws=config["draws"], peak_lr=config["peak_lr"],
                       final_lr=config["final_lr"], warmup_fraction=config["warmup_fraction"],
                       adam_b1=config.get("adam_b1", 0.9), adam_b2=config["adam_b2"],
                       adam_eps=config.get("adam_eps", 1e-8), steps=config.get("steps", 25),
                       schedule=config.get("schedule", "vp"), weighting=config.get("weighting", "eps"),
                       chunk_size=config["chunk_size"])
