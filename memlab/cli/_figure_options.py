"""Flags -> settings for ``memlab figure N``: each figure's options and how they change its preset.

Every option left unset keeps the preset's value (``dataclasses.replace`` on the preset's settings), so
``--preset`` picks the starting point and the flags override single fields.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from memlab._errors import InvalidInputError
from memlab.cli._common import (
    add_executor_arguments,
    finite_float,
    fraction,
    nonnegative_int,
    open_fraction,
    positive_float,
    positive_int,
    positive_int_set,
    seed,
    seed_list,
)
from memlab.numerics import DEFAULT_STEPS, REPRESENTATIVE_T_INDEX
from memlab.paper_figs._presets import IMAGE_MODEL_CACHE, PHASE_TRANSITION_CACHE, preset, preset_names
from memlab.paper_figs._settings import DTYPES, SCHEDULES, TrainingRecipe

__all__ = ["FIGURE_OPTIONS", "FigureOptions"]


def _overrides(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


# ----------------------------------------------------------------------------------------------------
# The training recipe (Figures 2-7)
# ----------------------------------------------------------------------------------------------------

_RECIPE_FLAGS = (
    "epochs",
    "draws",
    "peak_lr",
    "final_lr",
    "warmup_fraction",
    "adam_b2",
    "chunk_size",
    "dtype",
    "n_eval",
    "eval_draws",
)


def _add_recipe_arguments(parser: argparse.ArgumentParser, presets: tuple[str, ...], preset_help: str) -> None:
    group = parser.add_argument_group("training recipe (App. H.1); unset values come from --preset")
    group.add_argument("--preset", choices=presets, default="cpu", help=preset_help)
    group.add_argument("--epochs", type=positive_int, help="full-batch Adam steps per model")
    group.add_argument("--draws", type=positive_int, help="training noise draws per sample and timestep")
    group.add_argument("--peak-lr", type=positive_float, help="peak learning rate (after warm-up)")
    group.add_argument("--final-lr", type=positive_float, help="learning rate at the last epoch")
    group.add_argument("--warmup-fraction", type=fraction, help="fraction of epochs of linear warm-up from 0")
    group.add_argument("--adam-b2", type=open_fraction, help="Adam's second-moment decay b2, in [0, 1)")
    group.add_argument("--chunk-size", type=positive_int, help="(sample, draw) points per chunk in training")
    group.add_argument("--dtype", choices=DTYPES, help="training / sampling precision")
    group.add_argument("--n-eval", type=positive_int, help="DDIM samples per model for the memorization ratio")
    group.add_argument("--eval-draws", type=positive_int, help="noise draws per sample for the t_16 losses")


def _recipe(recipe: TrainingRecipe, args: argparse.Namespace) -> TrainingRecipe:
    return replace(recipe, **_overrides(args, _RECIPE_FLAGS))


def _add_out(parser: argparse.ArgumentParser | argparse._ArgumentGroup, figure: int) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(f"figures/figure{figure}"),
        help=f"output folder (default figures/figure{figure})",
    )


# ----------------------------------------------------------------------------------------------------
# Figure 1
# ----------------------------------------------------------------------------------------------------


def _figure1_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data (default: the paper's synthetic mixture)")
    data.add_argument(
        "--data",
        metavar="FILE.npz",
        type=Path,
        default=None,
        help="your dataset: x_train (N x d), means (K x d), optional sigma2 (scalar) and x_test",
    )
    data.add_argument("--d", type=positive_int, default=None, help="dimension of generated data (default 50)")
    data.add_argument("--k", type=positive_int, default=None, help="mixture components of generated data (default 12)")
    data.add_argument("--n", type=positive_int, default=None, help="training samples of generated data (default 200)")
    run = parser.add_argument_group("Monte Carlo")
    run.add_argument("--seed", type=seed, default=None, help="seed of the data and the noise (default 0)")
    run.add_argument("--draws", type=positive_int, default=None, help="noise draws per training sample (default 100)")
    run.add_argument(
        "--t-index",
        type=nonnegative_int,
        default=None,
        help=f"timestep index l of t_l = 0.999 - 0.998 l/{DEFAULT_STEPS} (default "
        f"{REPRESENTATIVE_T_INDEX}, t = 0.36028)",
    )
    run.add_argument("--all-t", action="store_true", help=f"compute every timestep of the grid ({DEFAULT_STEPS + 1})")
    run.add_argument("--schedule", choices=SCHEDULES, default=None, help="noise schedule (default vp)")
    run.add_argument(
        "--dtype", choices=DTYPES, default=None, help="compute precision (default float32; float64 is the reference)"
    )
    run.add_argument(
        "--chunk-size",
        type=positive_int,
        default=None,
        help="(sample, draw) rows per tile: bounds memory (default: the engine's)",
    )
    _add_out(parser, 1)


def _figure1_settings(args: argparse.Namespace) -> Any:
    settings = preset(1, "paper")
    if args.data is not None:
        given = [f"--{name}" for name in ("d", "k", "n") if getattr(args, name) is not None]
        if given:
            raise InvalidInputError(f"{', '.join(given)} only apply to generated data, not with --data")
    if args.draws is not None and args.draws < 2:
        raise InvalidInputError("--draws must be at least 2 (the standard error needs two draws per sample)")
    if args.all_t and args.t_index is not None:
        raise InvalidInputError("--t-index and --all-t exclude each other")
    if args.t_index is not None and args.t_index > DEFAULT_STEPS:
        raise InvalidInputError(f"--t-index must be in 0..{DEFAULT_STEPS}, got {args.t_index}")
    changes = _overrides(args, ("data", "d", "k", "n", "seed", "draws", "schedule", "dtype", "chunk_size"))
    if args.all_t:
        changes["t_indices"] = tuple(range(DEFAULT_STEPS + 1))
    elif args.t_index is not None:
        changes["t_indices"] = (args.t_index,)
    return replace(settings, **changes)


# ----------------------------------------------------------------------------------------------------
# Figures 2, 6, 7 (the phase-transition experiment)
# ----------------------------------------------------------------------------------------------------


def _phase_transition_arguments(figure: int):
    def add(parser: argparse.ArgumentParser) -> None:
        default_seeds = ",".join(map(str, preset(figure, "cpu").seeds))
        exp = parser.add_argument_group("experiment (defaults come from --preset)")
        exp.add_argument("--n", type=positive_int, help="training samples N")
        exp.add_argument("--d", type=positive_int, help="dimension d")
        exp.add_argument("--k", type=positive_int, help="true mixture components K")
        exp.add_argument("--sigma2", type=positive_float, help="true component variance sigma_*^2")
        exp.add_argument("--m-values", type=positive_int_set, help="model sizes M, comma-separated")
        exp.add_argument(
            "--refine",
            type=nonnegative_int,
            help="extra models equally spaced over the transition (numerics.refinement_ms)",
        )
        exp.add_argument("--seeds", type=seed_list, help=f"data/model seeds, comma-separated (default {default_seeds})")
        _add_recipe_arguments(
            parser,
            preset_names(figure),
            "'cpu': minutes on a laptop (reduced epochs/draws/M grid, faster optimizer settings); "
            "'paper': App. H.1 (N=200, d=50, K=12, 50,000 epochs, 100 draws; meant for a GPU); "
            "'paper-small': App. H.1's training at N=20, d=20, K=2 (~20-30 min per model on a CPU "
            "core; docs/convergence.md). Default: cpu",
        )
        out = parser.add_argument_group("output and execution")
        _add_out(out, figure)
        add_executor_arguments(out, default_cache=PHASE_TRANSITION_CACHE)

    return add


def _phase_transition_settings(figure: int):
    def settings(args: argparse.Namespace) -> Any:
        base = preset(figure, args.preset)
        changes = _overrides(args, ("n", "d", "k", "sigma2", "m_values", "refine", "seeds"))
        if figure == 2 and len(changes.get("seeds", base.seeds)) != 1:
            raise InvalidInputError(
                "figure 2 uses one seed (--seeds S); figure 7 shows several seeds with min-max bands"
            )
        return replace(base, recipe=_recipe(base.recipe, args), **changes)

    return settings


# ----------------------------------------------------------------------------------------------------
# Figure 3
# ----------------------------------------------------------------------------------------------------


def _figure3_arguments(parser: argparse.ArgumentParser) -> None:
    sweep = parser.add_argument_group("sweep (defaults come from --preset)")
    sweep.add_argument("--ns", type=positive_int_set, help="training set sizes N, comma-separated")
    sweep.add_argument("--ds", type=positive_int_set, help="dimensions d, comma-separated")
    sweep.add_argument("--ks", type=positive_int_set, help="mixture components K, comma-separated")
    sweep.add_argument("--seed", type=seed, help="data / model seed of every tuple (default 0)")
    sweep.add_argument("--multiples", type=positive_int, help="grid M = j floor(N/10), j = 1..MULTIPLES")
    sweep.add_argument("--refine", type=nonnegative_int, help="extra models over each tuple's transition")
    _add_recipe_arguments(
        parser,
        preset_names(3),
        "'cpu': 12 small tuples (N in 20,30,40; d in 20,30; K in 2,4), 1,000 epochs, 12 grid sizes "
        "+ up to 6 refinements per tuple (about 15-20 min cold on 2 cores, seconds when cached); "
        "'paper': the 64 tuples {50..200} x {30..60} x {3..12}, 50,000 epochs, 20 + 10 models per "
        "tuple (GPU/cluster); 'paper-small': the cpu tuples and grid with App. H.1's training "
        "(100 draws, 50,000 epochs, lr 1e-3, b2 0.999; ~0.5-2 h per model on a CPU core). "
        "Default: cpu",
    )
    exact = parser.add_argument_group("exact (Monte Carlo) losses")
    exact.add_argument("--exact-draws", type=positive_int, help="noise draws per training sample (>= 2)")
    exact.add_argument("--exact-dtype", choices=DTYPES, help="compute precision")
    exact.add_argument("--no-exact", action="store_true", help="skip the exact-loss methods")
    reg = parser.add_argument_group("regression (App. H.3)")
    reg.add_argument("--tau", type=positive_float, help="softmax temperature (default 1/20)")
    reg.add_argument("--beta", type=finite_float, help="entropy penalty (default 1e-2)")
    reg.add_argument("--c", type=positive_float, help="Theorem 3.2's constant C (default 2)")
    reg.add_argument(
        "--normalize",
        choices=("span", "per_dim", "none"),
        help="loss normalisation: per_dim divides by d sigma_*^2; span (default) also rescales the "
        "integrated gap to the approximation's drop over M (see memlab.numerics.approx_loss_gaps); "
        "none keeps x0-MSE units",
    )
    reg.add_argument("--test-fraction", type=open_fraction, help="held-out tuples (default 0.25)")
    reg.add_argument("--split-seed", type=seed, help="seed of the train/test split (default 0)")
    reg.add_argument(
        "--random-starts", type=nonnegative_int, help="random starts of the fit besides x0, eps (default 2)"
    )
    out = parser.add_argument_group("output and execution")
    _add_out(out, 3)
    add_executor_arguments(out, default_cache=PHASE_TRANSITION_CACHE)


def _figure3_settings(args: argparse.Namespace) -> Any:
    base = preset(3, args.preset)
    changes = _overrides(args, ("ns", "ds", "ks", "seed", "multiples", "refine", "exact_draws", "exact_dtype"))
    if args.no_exact:
        changes["exact"] = False
    analysis = replace(
        base.analysis,
        **_overrides(args, ("tau", "beta", "c", "normalize", "test_fraction", "split_seed", "random_starts")),
    )
    return replace(base, recipe=_recipe(base.recipe, args), analysis=analysis, **changes)


# ----------------------------------------------------------------------------------------------------
# Figures 4 and 5 (the simple image model)
# ----------------------------------------------------------------------------------------------------


def _color_mean(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or comma-separated numbers, got {text!r}") from None
    if not values or any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def _add_image_data_arguments(parser: argparse.ArgumentParser, figure: int) -> None:
    data = preset(figure, "cpu").data
    group = parser.add_argument_group("data (Section 4.2, App. H.1)")
    group.add_argument(
        "--templates",
        metavar="SOURCE",
        help="'digits' (scikit-learn's bundled 8x8 digits; default) or a path to an MNIST/FashionMNIST "
        "IDX file (.gz ok) or an .npz with an 'images' array (n, h, w)",
    )
    group.add_argument("--side", type=positive_int, help=f"template side s (images are s x s; default {data.side})")
    group.add_argument("--k", type=positive_int, help=f"number of templates K (default {data.k})")
    group.add_argument("--n", type=positive_int, help=f"training samples N (default {data.n})")
    if figure == 5:
        group.add_argument("--n-test", type=nonnegative_int, help="held-out samples (default: N)")
    group.add_argument("--channels", type=positive_int, help=f"colour dimension c (default {data.channels})")
    group.add_argument(
        "--color-mean",
        type=_color_mean,
        metavar="MU",
        help="colour mean: one number or c comma-separated numbers (default 0)",
    )
    group.add_argument("--color-var", type=positive_float, help="colour variance sigma_c^2 (default 1)")
    group.add_argument("--seed", type=seed, help="seed for templates, data, training, sampling (default 0)")


def _image_data(data: Any, args: argparse.Namespace) -> Any:
    return replace(
        data,
        **_overrides(args, ("templates", "side", "k", "n", "n_test", "channels", "color_mean", "color_var", "seed")),
    )


_IMAGE_PRESET_HELP = "budget: 'cpu' (minutes on 2 cores; default) or 'paper' (100,000 epochs, 100 draws; GPU)"


def _figure4_arguments(parser: argparse.ArgumentParser) -> None:
    _add_image_data_arguments(parser, 4)
    parser.add_argument(
        "--denoiser",
        choices=("trained", "exact", "memorizing"),
        default=None,
        help="denoiser used for DDIM sampling (default: the trained model)",
    )
    parser.add_argument("--m", type=positive_int, help="components of the trained model (default: K)")
    parser.add_argument("--samples", type=positive_int, help="DDIM samples to generate (default: K)")
    _add_recipe_arguments(parser, preset_names(4), _IMAGE_PRESET_HELP)
    _add_out(parser, 4)


def _figure4_settings(args: argparse.Namespace) -> Any:
    base = preset(4, args.preset)
    return replace(
        base,
        data=_image_data(base.data, args),
        recipe=_recipe(base.recipe, args),
        **_overrides(args, ("denoiser", "m", "samples")),
    )


def _figure5_arguments(parser: argparse.ArgumentParser) -> None:
    _add_image_data_arguments(parser, 5)
    parser.add_argument(
        "--m-values",
        type=positive_int_set,
        metavar="M1,M2,...",
        help="model sizes M, comma-separated (default: j*floor(N/10), j = 1..10, as App. H.1)",
    )
    parser.add_argument(
        "--t-index",
        type=nonnegative_int,
        help=f"grid index of the representative time (default {REPRESENTATIVE_T_INDEX}: t = 0.36028)",
    )
    _add_recipe_arguments(parser, preset_names(5), _IMAGE_PRESET_HELP)
    parser.add_argument(
        "--excess",
        action="store_true",
        help="also tabulate excess losses of x_* and x_pmem,M over x_mem at every grid time",
    )
    parser.add_argument("--excess-draws", type=positive_int, help="noise draws per sample for --excess (default 10)")
    out = parser.add_argument_group("output and execution")
    _add_out(out, 5)
    add_executor_arguments(out, default_cache=IMAGE_MODEL_CACHE)


def _figure5_settings(args: argparse.Namespace) -> Any:
    base = preset(5, args.preset)
    changes = _overrides(args, ("m_values", "t_index", "excess_draws"))
    if args.excess:
        changes["excess"] = True
    return replace(base, data=_image_data(base.data, args), recipe=_recipe(base.recipe, args), **changes)


# ----------------------------------------------------------------------------------------------------
# The table the figure command is built from
# ----------------------------------------------------------------------------------------------------


class FigureOptions:
    """One figure's command line: its help line, its flags, and how they become settings."""

    def __init__(self, help: str, add_arguments, settings, *, sweeps: bool) -> None:
        self.help = help
        self.add_arguments = add_arguments
        self.settings = settings
        self.sweeps = sweeps  # trains models through a cached sweep (has the executor options)


FIGURE_OPTIONS: dict[int, FigureOptions] = {
    1: FigureOptions(
        "excess training loss of x_pmem,M (every M) and x_* over x_mem, Monte Carlo vs Theorems 3.1/3.2",
        _figure1_arguments,
        _figure1_settings,
        sweeps=False,
    ),
    2: FigureOptions(
        "memorization ratio and train/test loss at t_16 vs model size M of trained GMM denoisers "
        "(the phase transition); --preset cpu runs in minutes",
        _phase_transition_arguments(2),
        _phase_transition_settings(2),
        sweeps=True,
    ),
    3: FigureOptions(
        "phase transition M_pt across (N, d, K) and the loss-weighting regression (App. H.3); "
        "--preset cpu runs on a laptop",
        _figure3_arguments,
        _figure3_settings,
        sweeps=True,
    ),
    4: FigureOptions(
        "simple image model: templates, model samples and DDIM samples beside them (Section 4.2)",
        _figure4_arguments,
        _figure4_settings,
        sweeps=False,
    ),
    5: FigureOptions(
        "simple image model: memorization ratio, train and test loss vs M at t_16 (Section 4.2)",
        _figure5_arguments,
        _figure5_settings,
        sweeps=True,
    ),
    6: FigureOptions(
        "learned variance and distances of learned means to the nearest training sample / true mean "
        "vs model size M (same runs as Figure 2)",
        _phase_transition_arguments(6),
        _phase_transition_settings(6),
        sweeps=True,
    ),
    7: FigureOptions(
        "Figure 2 over three seeds with min-max bands (shares cached runs with Figure 2)",
        _phase_transition_arguments(7),
        _phase_transition_settings(7),
        sweeps=True,
    ),
}
