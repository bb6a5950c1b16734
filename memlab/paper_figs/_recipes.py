"""From a training recipe to the trainer: the one place a run's config becomes a ``TrainConfig``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from memlab._errors import require_finite
from memlab.gpu_kernels import TrainConfig, TrainResult
from memlab.paper_figs._settings import TrainingRecipe

__all__ = ["check_trained", "recipe_fields", "train_config"]

#: The optimiser fields of a run config (App. H.1); ``adam_b1``, ``adam_eps`` and the eps-prediction
#: weighting are the paper's (optax defaults) unless a config says otherwise.
_OPTIMIZER_FIELDS = ("epochs", "draws", "peak_lr", "final_lr", "warmup_fraction", "adam_b2", "chunk_size")


def recipe_fields(recipe: TrainingRecipe) -> dict[str, Any]:
    """The recipe's optimiser fields as they appear in a run config (hashed by the sweep)."""
    return {name: getattr(recipe, name) for name in _OPTIMIZER_FIELDS}


def train_config(config: Mapping[str, Any]) -> TrainConfig:
    """The trainer's static configuration for a run config holding :func:`recipe_fields`."""
    return TrainConfig(
        epochs=config["epochs"],
        draws=config["draws"],
        peak_lr=config["peak_lr"],
        final_lr=config["final_lr"],
        warmup_fraction=config["warmup_fraction"],
        adam_b1=config.get("adam_b1", 0.9),
        adam_b2=config["adam_b2"],
        adam_eps=config.get("adam_eps", 1e-8),
        steps=config.get("steps", 25),
        schedule=config.get("schedule", "vp"),
        weighting=config.get("weighting", "eps"),
        chunk_size=config["chunk_size"],
    )


def check_trained(trained: TrainResult, dtype) -> None:
    """A training run whose objective or parameters are not finite is an error (exit code 2), never a result.

    Seen with float32 on data of large magnitude (e.g. sigma_*^2 = 1000 in the GMM experiment): the
    eps-weighted objective's gradients leave float32's range; float64 trains the same data.
    """
    leaves = jax.tree_util.tree_leaves(trained.params)
    values = {
        "final objective": np.asarray(trained.final_loss),
        **{f"parameter {i}": np.asarray(leaf) for i, leaf in enumerate(leaves)},
    }
    hint = (
        "float32 training overflowed on data of this magnitude; use --dtype float64 (or smaller data values)"
        if np.dtype(dtype) == np.float32
        else "the training diverged; lower the learning rate or rescale the data"
    )
    require_finite(values, "the trained model", hint)
