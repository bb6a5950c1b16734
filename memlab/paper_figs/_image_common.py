"""Shared pieces of Figures 4 and 5 (the simple image model of Section 4.2): data, training, matching."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from memlab import gpu_kernels, numerics
from memlab.paper_figs._recipes import check_trained
from memlab.paper_figs._settings import ImageDataSettings

__all__ = ["data_json", "image_dataset", "nearest_templates", "train_image_model"]


def image_dataset(data: ImageDataSettings, *, balanced: bool = False) -> numerics.ImageDataset:
    """The data set the settings describe (bad template files fail here, before any JAX work)."""
    mean = data.color_mean
    return numerics.make_image_dataset(
        k=data.k,
        n=data.n,
        n_test=data.held_out,
        side=data.side,
        channels=data.channels,
        color_mean=mean if len(mean) > 1 else mean[0],
        color_var=data.color_var,
        seed=data.seed,
        source=data.templates,
        balanced=balanced,
    )


def train_image_model(
    dataset: numerics.ImageDataset,
    *,
    m: int,
    config: gpu_kernels.TrainConfig,
    key: jax.Array,
    dtype,
    desc: str = "training",
    show_progress: bool = True,
):
    """Partial-memorization init (App. H.1) then full-batch training; returns (params, TrainResult)."""
    init_key, noise_key = jax.random.split(key)
    params = gpu_kernels.init_image_model(
        key=init_key,
        m=m,
        templates=dataset.templates,
        labels_train=dataset.labels_train,
        colors_train=dataset.colors_train,
        dtype=dtype,
    )
    result = gpu_kernels.train(
        gpu_kernels.image_model_apply,
        params,
        jnp.asarray(dataset.x_train, dtype),
        config=config,
        key=noise_key,
        desc=desc,
        show_progress=show_progress,
    )
    check_trained(result, dtype)
    return result.params, result


def nearest_templates(images, templates, *, channels: int) -> np.ndarray:
    """Template index whose colour subspace range(I_c ⊗ x_k) explains each image best: (B, c*D) -> (B,).

    The residual of the best colour fit is ``|y|^2 - |A_k^T y|^2 / |x_k|^2``; the argmin over k is taken.
    """
    images = np.asarray(images, dtype=np.float64)
    templates = np.asarray(templates, dtype=np.float64)
    blocks = images.reshape(images.shape[0], channels, templates.shape[1])
    proj = np.einsum("bcd,kd->bkc", blocks, templates)
    explained = np.sum(proj**2, axis=-1) / np.sum(templates**2, axis=1)[None, :]
    return np.argmax(explained, axis=1)


def data_json(dataset: numerics.ImageDataset) -> dict[str, Any]:
    """The data description written beside a figure."""
    return {
        "source": dataset.source,
        "template_indices": dataset.template_indices,
        "k": dataset.k,
        "n": dataset.n,
        "n_test": int(dataset.x_test.shape[0]),
        "side": dataset.side,
        "channels": dataset.channels,
        "color_mean": dataset.color_mean,
        "color_var": dataset.color_var,
        "layout": "flat channel-major: y[j*D + p] = colour[j] * template[p]",
    }
