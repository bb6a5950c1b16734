"""Shared pieces of Figures 4 and 5 (the simple image model): options, presets, data, training, sampling.

Light to import (argparse and dataclasses only); NumPy/JAX work is imported inside the functions.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass

from memlab.cli._common import finite_float, nonnegative_int, positive_float, positive_int

__all__ = ["ImagePreset", "PRESETS", "add_data_arguments", "add_training_arguments", "apply_preset",
           "dataset_from_args", "train_config_from_args", "train_image_model", "run_metadata", "nearest_templates"]


@dataclass(frozen=True)
class ImagePreset:
    """Training and evaluation budget. ``paper``: App. H.1; ``cpu``: a reduced budget for a 2-core machine.

    The cpu preset keeps the paper's objective (eps-prediction over the 26 grid times, partial-memorization
    init, warm-up/decay schedule) but takes 1 noise draw per sample and time, a few hundred full-batch
    Adam steps, a larger peak learning rate and Adam b2 = 0.9 (short second-moment memory: the loss
    falls by orders of magnitude early, and with b2 = 0.999 the stale second moments freeze the colour
    variance for thousands of steps).
    """

    epochs: int
    draws: int
    peak_lr: float
    final_lr: float
    warmup_fraction: float
    adam_b2: float
    eval_draws: int
    n_eval: int


PRESETS = {
    "paper": ImagePreset(epochs=100_000, draws=100, peak_lr=1e-3, final_lr=1e-6, warmup_fraction=0.1, adam_b2=0.999,
                         eval_draws=100, n_eval=50),
    "cpu": ImagePreset(epochs=500, draws=1, peak_lr=1e-1, final_lr=1e-4, warmup_fraction=0.1, adam_b2=0.9,
                       eval_draws=20, n_eval=50),
}


def _color_mean(text: str):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or comma-separated numbers, got {text!r}") from None
    if not values or any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def add_data_arguments(parser, *, k: int, n: int, n_test: int | None) -> None:
    group = parser.add_argument_group("data (Section 4.2, App. H.1)")
    group.add_argument("--templates", default="digits", metavar="SOURCE",
                       help="'digits' (scikit-learn's bundled 8x8 digits; default) or a path to an MNIST/FashionMNIST "
                            "IDX file (.gz ok) or an .npz with an 'images' array (n, h, w)")
    group.add_argument("--side", type=positive_int, default=15, help="template side s (images are s x s; default 15)")
    group.add_argument("--k", type=positive_int, default=k, help=f"number of templates K (default {k})")
    group.add_argument("--n", type=positive_int, default=n, help=f"training samples N (default {n})")
    if n_test is not None:
        group.add_argument("--n-test", type=nonnegative_int, default=n_test,
                           help="held-out samples (default: N)")
    group.add_argument("--channels", type=positive_int, default=3, help="colour dimension c (default 3)")
    group.add_argument("--color-mean", type=_color_mean, default=(0.0,), metavar="MU",
                       help="colour mean: one number or c comma-separated numbers (default 0)")
    group.add_argument("--color-var", type=positive_float, default=1.0, help="colour variance sigma_c^2 (default 1)")
    group.add_argument("--seed", type=nonnegative_int, default=0, help="seed for templates, data, training, sampling")


def add_training_arguments(parser) -> None:
    """Flags named as in Figures 2/3 (``memlab.paper_figs._phase_transition``); unset ones come from --preset."""
    group = parser.add_argument_group("training (App. H.1); unset values come from --preset")
    group.add_argument("--preset", choices=sorted(PRESETS), default="cpu",
                       help="budget: 'cpu' (minutes on 2 cores; default) or 'paper' (100,000 epochs, 100 draws; GPU)")
    group.add_argument("--epochs", type=positive_int, default=None, help="full-batch Adam steps per model")
    group.add_argument("--draws", type=positive_int, default=None, help="training noise draws per sample and timestep")
    group.add_argument("--peak-lr", type=positive_float, default=None, help="peak learning rate (after warm-up)")
    group.add_argument("--final-lr", type=positive_float, default=None, help="learning rate at the last epoch")
    group.add_argument("--warmup-fraction", type=finite_float, default=None,
                       help="fraction of epochs of linear warm-up from 0")
    group.add_argument("--adam-b2", type=finite_float, default=None, help="Adam's second-moment decay b2")
    group.add_argument("--chunk-size", type=positive_int, default=None,
                       help="(sample, draw) points per chunk in training (default: all at once)")
    group.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="training precision")
    group.add_argument("--n-eval", type=positive_int, default=None,
                       help="DDIM samples per model for the memorization ratio")
    group.add_argument("--eval-draws", type=positive_int, default=None,
                       help="noise draws per sample for the Monte Carlo losses at the representative t")


def apply_preset(args) -> ImagePreset:
    """Fill unset training options from ``args.preset``; return the effective budget."""
    from memlab._errors import InvalidInputError

    base = asdict(PRESETS[args.preset])
    chosen = ImagePreset(**{name: getattr(args, name) if getattr(args, name, None) is not None else value
                            for name, value in base.items()})
    if not 0.0 <= chosen.adam_b2 < 1.0:
        raise InvalidInputError(f"--adam-b2 must be in [0, 1), got {chosen.adam_b2}")
    if not 0.0 <= chosen.warmup_fraction <= 1.0:
        raise InvalidInputError(f"--warmup-fraction must be in [0, 1], got {chosen.warmup_fraction}")
    return chosen


def dataset_from_args(args, *, balanced: bool = False):
    from memlab._errors import InvalidInputError
    from memlab.numerics import make_image_dataset

    color_mean = args.color_mean
    if len(color_mean) not in (1, args.channels):
        raise InvalidInputError(f"--color-mean needs 1 or {args.channels} values, got {len(color_mean)}")
    return make_image_dataset(k=args.k, n=args.n, n_test=getattr(args, "n_test", 0), side=args.side,
                              channels=args.channels, color_mean=color_mean if len(color_mean) > 1 else color_mean[0],
                              color_var=args.color_var, seed=args.seed, source=args.templates, balanced=balanced)


def train_config_from_args(preset: ImagePreset, *, chunk_size: int | None = None):
    from memlab.gpu_kernels import TrainConfig

    return TrainConfig(epochs=preset.epochs, draws=preset.draws, peak_lr=preset.peak_lr, final_lr=preset.final_lr,
                       warmup_fraction=preset.warmup_fraction, adam_b2=preset.adam_b2, chunk_size=chunk_size)


def train_image_model(dataset, *, m: int, config, key, dtype, desc: str = "training", show_progress: bool = True):
    """Partial-memorization init (App. H.1) then full-batch training; returns (params, TrainResult)."""
    import jax
    import jax.numpy as jnp

    from memlab.gpu_kernels import image_model_apply, init_image_model, train

    init_key, noise_key = jax.random.split(key)
    params = init_image_model(key=init_key, m=m, templates=dataset.templates, labels_train=dataset.labels_train,
                              colors_train=dataset.colors_train, dtype=dtype)
    result = train(image_model_apply, params, jnp.asarray(dataset.x_train, dtype), config=config, key=noise_key,
                   desc=desc, show_progress=show_progress)
    return result.params, result


def nearest_templates(images, templates, *, channels: int):
    """Template index whose colour subspace range(I_c ⊗ x_k) explains each image best: (B, c*D) -> (B,).

    The residual of the best colour fit is ``|y|^2 - |A_k^T y|^2 / |x_k|^2``; the argmin over k is taken.
    """
    import numpy as np

    images = np.asarray(images, dtype=np.float64)
    templates = np.asarray(templates, dtype=np.float64)
    blocks = images.reshape(images.shape[0], channels, templates.shape[1])
    proj = np.einsum("bcd,kd->bkc", blocks, templates)
    explained = np.sum(proj**2, axis=-1) / np.sum(templates**2, axis=1)[None, :]
    return np.argmax(explained, axis=1)


def run_metadata(args, *, preset: ImagePreset | None, dataset, started: float, timings: dict) -> dict:
    import platform

    import jax
    import numpy as np

    from memlab import __version__
    from memlab._jaxcfg import device_summary

    options = {k: v for k, v in vars(args).items() if k not in ("func",) and not callable(v)}
    return {
        "options": options,
        "preset": asdict(preset) if preset is not None else None,
        "data": {"source": dataset.source, "template_indices": dataset.template_indices, "k": dataset.k,
                 "n": dataset.n, "n_test": int(dataset.x_test.shape[0]), "side": dataset.side,
                 "channels": dataset.channels, "color_mean": dataset.color_mean, "color_var": dataset.color_var,
                 "layout": "flat channel-major: y[j*D + p] = colour[j] * template[p]"},
        "seed": args.seed,
        "versions": {"memlab": __version__, "jax": jax.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "device": device_summary(),
        "timings_s": {**timings, "total": time.perf_counter() - started},
    }
