"""Settings of the paper's experiments: frozen dataclasses, validated on construction.

Static configuration only (no arrays); no JAX or matplotlib at import, so the command line can build
its options from them. Named instances (the presets) live in :mod:`memlab.paper_figs._presets`;
change one field with ``dataclasses.replace``. Invalid values raise :class:`memlab.InvalidInputError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memlab._errors import InvalidInputError
from memlab._limits import MAX_INDEX, MAX_SEED
from memlab.numerics import DEFAULT_STEPS, NORMALIZATIONS, REPRESENTATIVE_T_INDEX

__all__ = [
    "DTYPES",
    "SCHEDULES",
    "AnalysisSettings",
    "Figure1Settings",
    "Figure3Settings",
    "Figure4Settings",
    "Figure5Settings",
    "ImageDataSettings",
    "PhaseTransitionSettings",
    "TrainingRecipe",
]

DTYPES = ("float32", "float64")
SCHEDULES = ("vp", "ve", "linear")


def _fail(owner: object, name: str, expected: str, value: Any) -> None:
    raise InvalidInputError(f"{type(owner).__name__}.{name} must be {expected}, got {value!r}")


def _int(owner: object, name: str, *, minimum: int, maximum: int = MAX_INDEX) -> None:
    """An integer in [minimum, maximum]: counts and sizes stay below 2**31 (compiled kernels index in int32)."""
    value = getattr(owner, name)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        _fail(owner, name, f"an integer in {minimum}..{maximum}", value)


def _seed(owner: object, name: str) -> None:
    _int(owner, name, minimum=0, maximum=MAX_SEED)


def _optional_int(owner: object, name: str, *, minimum: int) -> None:
    if getattr(owner, name) is not None:
        _int(owner, name, minimum=minimum)


def _number(
    owner: object, name: str, *, low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False
) -> None:
    value = getattr(owner, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(owner, name, "a finite number", value)
    if value < low or (low_open and value == low) or value > high or (high_open and value == high):
        lo, hi = "(" if low_open else "[", ")" if high_open or high == math.inf else "]"
        _fail(owner, name, f"in {lo}{low:g}, {high:g}{hi}", value)
    object.__setattr__(owner, name, float(value))


def _choice(owner: object, name: str, choices: Sequence[str]) -> None:
    if getattr(owner, name) not in choices:
        _fail(owner, name, f"one of {', '.join(choices)}", getattr(owner, name))


def _int_tuple(owner: object, name: str, *, minimum: int, sort: bool, maximum: int = MAX_INDEX) -> None:
    values = getattr(owner, name)
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        _fail(owner, name, f"a non-empty sequence of integers in {minimum}..{maximum}", values)
    if any(isinstance(v, bool) or not isinstance(v, int) or not minimum <= v <= maximum for v in values):
        _fail(owner, name, f"integers in {minimum}..{maximum}", values)
    unique = tuple(sorted(set(values))) if sort else tuple(dict.fromkeys(values))
    object.__setattr__(owner, name, unique)


@dataclass(frozen=True, kw_only=True)
class TrainingRecipe:
    """How a denoiser is trained and evaluated (App. H.1).

    epochs: full-batch Adam steps; draws: noise draws per training sample and timestep; learning rate
    0 -> ``peak_lr`` linearly over ``warmup_fraction * epochs`` steps, then down to ``final_lr``;
    adam_b2: Adam's second-moment decay; n_eval: DDIM samples for the memorization ratio; eval_draws:
    noise draws per sample for the evaluation losses at t_16; chunk_size: (sample, draw) points per
    chunk in training (memory; None: all); dtype: training and sampling precision. The objective is
    always the paper's: eps-prediction (lambda = psi_t) over the 26 grid times.
    """

    epochs: int
    draws: int
    peak_lr: float
    final_lr: float
    warmup_fraction: float
    adam_b2: float
    n_eval: int = 50
    eval_draws: int
    chunk_size: int | None = None
    dtype: str = "float32"

    def __post_init__(self) -> None:
        for name in ("epochs", "draws", "n_eval", "eval_draws"):
            _int(self, name, minimum=1)
        _optional_int(self, "chunk_size", minimum=1)
        _number(self, "peak_lr", low=0.0, low_open=True)
        _number(self, "final_lr", low=0.0)
        _number(self, "warmup_fraction", low=0.0, high=1.0)
        _number(self, "adam_b2", low=0.0, high=1.0, high_open=True)
        _choice(self, "dtype", DTYPES)


@dataclass(frozen=True, kw_only=True)
class Figure1Settings:
    """Figure 1: Monte Carlo excess losses of x_pmem,M (every M) and x_* against Theorems 3.1/3.2.

    Generated data (``n``, ``d``, ``k``, ``sigma2``, seed ``seed``) unless ``data`` names an ``.npz`` with
    ``x_train`` (N x d), ``means`` (K x d) and optionally ``sigma2`` (then n, d, k, sigma2 come from it).
    draws: noise draws per training sample (>= 2 for standard errors); t_indices: grid indices l of
    t_l = 0.999 - 0.998 l / 25 (the first one drawn in the main panel is t_16 when present);
    chunk_size: (sample, draw) rows per tile (memory), None: the engine's default.
    """

    n: int = 200
    d: int = 50
    k: int = 12
    sigma2: float = 1.0
    data: Path | None = None
    seed: int = 0
    draws: int = 100
    t_indices: tuple[int, ...] = (REPRESENTATIVE_T_INDEX,)
    schedule: str = "vp"
    dtype: str = "float32"
    chunk_size: int | None = None

    def __post_init__(self) -> None:
        for name in ("n", "d", "k"):
            _int(self, name, minimum=1)
        _number(self, "sigma2", low=0.0, low_open=True)
        _seed(self, "seed")
        _int(self, "draws", minimum=2)
        _int_tuple(self, "t_indices", minimum=0, sort=False)
        if max(self.t_indices) > DEFAULT_STEPS:
            _fail(self, "t_indices", f"grid indices in 0..{DEFAULT_STEPS}", self.t_indices)
        _choice(self, "schedule", SCHEDULES)
        _choice(self, "dtype", DTYPES)
        _optional_int(self, "chunk_size", minimum=1)
        if self.data is not None:
            object.__setattr__(self, "data", Path(self.data))


@dataclass(frozen=True, kw_only=True)
class PhaseTransitionSettings:
    """The Section 4.1 experiment behind Figures 2, 6 and 7: trained GMM denoisers over a grid of M.

    Data: N training points (and N held-out ones) from K spherical Gaussians of variance sigma2 in d
    dimensions, one data set per seed. m_values: the model sizes trained; refine: extra models equally
    spaced over each seed's transition (:func:`memlab.numerics.refinement_ms`); recipe: training and
    evaluation (App. H.1). ``preset`` names the preset these settings came from (a label for plots).
    """

    preset: str
    n: int
    d: int
    k: int
    sigma2: float = 1.0
    recipe: TrainingRecipe
    m_values: tuple[int, ...]
    refine: int = 0
    seeds: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        _int(self, "n", minimum=2)  # the memorization criterion needs two training points
        _int(self, "d", minimum=1)
        _int(self, "k", minimum=1)
        _number(self, "sigma2", low=0.0, low_open=True)
        _int_tuple(self, "m_values", minimum=1, sort=True)
        _int(self, "refine", minimum=0)
        _int_tuple(self, "seeds", minimum=0, sort=False, maximum=MAX_SEED)
        if not isinstance(self.recipe, TrainingRecipe):
            _fail(self, "recipe", "a TrainingRecipe", self.recipe)


@dataclass(frozen=True, kw_only=True)
class AnalysisSettings:
    """Figure 3's loss-weighting regression (App. H.3) and its held-out split.

    tau: softmax temperature of the relaxed M_pt; beta: entropy penalty; c: Theorem 3.2's constant in
    the approximate losses; normalize: "span" | "per_dim" | "none" (see
    :func:`memlab.numerics.approx_loss_gaps`); test_fraction: held-out share of the tuples; split_seed,
    fit_seed: seeds of the split and of the fit's random starts; random_starts: random starts besides
    the x0 and eps weightings.
    """

    tau: float = 1.0 / 20.0
    beta: float = 1e-2
    c: float = 2.0
    normalize: str = "span"
    test_fraction: float = 0.25
    split_seed: int = 0
    random_starts: int = 2
    fit_seed: int = 0
    schedule: str = "vp"
    steps: int = DEFAULT_STEPS

    def __post_init__(self) -> None:
        _number(self, "tau", low=0.0, low_open=True)
        _number(self, "beta", low=0.0)
        _number(self, "c", low=0.0, low_open=True)
        _choice(self, "normalize", NORMALIZATIONS)
        _number(self, "test_fraction", low=0.0, high=1.0, high_open=True)
        for name in ("split_seed", "fit_seed"):
            _seed(self, name)
        _int(self, "random_starts", minimum=0)
        _choice(self, "schedule", SCHEDULES)
        _int(self, "steps", minimum=1)


@dataclass(frozen=True, kw_only=True)
class Figure3Settings:
    """Figure 3: M_pt over the (N, d, K) grid and the loss-weighting regression of App. H.3.

    Every tuple trains models at M = j floor(N/10), j = 1..``multiples``, then ``refine`` more over its
    transition; ``exact``: also compute each tuple's Monte Carlo excess losses (``exact_draws`` draws per
    sample, ``exact_dtype``) for the exact-loss methods. recipe: the phase-transition experiment's
    training (runs are shared with Figures 2, 6, 7 through the sweep cache).
    """

    preset: str
    ns: tuple[int, ...]
    ds: tuple[int, ...]
    ks: tuple[int, ...]
    sigma2: float = 1.0
    seed: int = 0
    multiples: int
    refine: int
    exact: bool = True
    exact_draws: int
    exact_dtype: str
    recipe: TrainingRecipe
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)

    def __post_init__(self) -> None:
        _int_tuple(self, "ns", minimum=2, sort=True)
        _int_tuple(self, "ds", minimum=1, sort=True)
        _int_tuple(self, "ks", minimum=1, sort=True)
        _number(self, "sigma2", low=0.0, low_open=True)
        _seed(self, "seed")
        _int(self, "multiples", minimum=1)
        _int(self, "refine", minimum=0)
        _int(self, "exact_draws", minimum=2)  # standard errors need two draws per sample
        _choice(self, "exact_dtype", DTYPES)
        if not isinstance(self.recipe, TrainingRecipe):
            _fail(self, "recipe", "a TrainingRecipe", self.recipe)
        if not isinstance(self.analysis, AnalysisSettings):
            _fail(self, "analysis", "an AnalysisSettings", self.analysis)

    def tuples(self) -> list[tuple[int, int, int]]:
        """The grid of (N, d, K) tuples in a fixed order (N slowest)."""
        return [(n, d, k) for n in self.ns for d in self.ds for k in self.ks]


@dataclass(frozen=True, kw_only=True)
class ImageDataSettings:
    """The simple image model's data (Section 4.2): y = c ⊗ x_k for a template x_k and a colour c.

    templates: "digits" (scikit-learn's bundled 8x8 digits) or a path to an MNIST/FashionMNIST IDX file
    (.gz ok) or an .npz with an ``images`` array; side: templates are resized to side x side; k: number
    of templates; n, n_test: training and held-out samples (n_test None: n); channels: c; color_mean: one
    number or c numbers; color_var: sigma_c^2; seed: templates, data, training and sampling.
    """

    templates: str = "digits"
    side: int = 15
    k: int
    n: int
    n_test: int | None = None
    channels: int = 3
    color_mean: tuple[float, ...] = (0.0,)
    color_var: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("side", "k", "n", "channels"):
            _int(self, name, minimum=1)
        _optional_int(self, "n_test", minimum=0)
        _number(self, "color_var", low=0.0, low_open=True)
        _seed(self, "seed")
        mean = tuple(self.color_mean) if isinstance(self.color_mean, Sequence) else (self.color_mean,)
        if len(mean) not in (1, self.channels) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in mean
        ):
            _fail(self, "color_mean", f"1 or {self.channels} finite numbers", self.color_mean)
        object.__setattr__(self, "color_mean", tuple(float(v) for v in mean))
        object.__setattr__(self, "templates", str(self.templates))

    @property
    def held_out(self) -> int:
        return self.n if self.n_test is None else self.n_test


@dataclass(frozen=True, kw_only=True)
class Figure4Settings:
    """Figure 4: templates, training images and DDIM samples of a denoiser beside them.

    denoiser: "trained" (an M-component image model trained with ``recipe``), "exact" (posterior mean of
    the true mixture) or "memorizing"; m: components of the trained model (None: K); samples: DDIM
    samples (None: K).
    """

    data: ImageDataSettings
    recipe: TrainingRecipe
    preset: str = ""
    denoiser: str = "trained"
    m: int | None = None
    samples: int | None = None

    def __post_init__(self) -> None:
        _choice(self, "denoiser", ("trained", "exact", "memorizing"))
        _optional_int(self, "m", minimum=1)
        _optional_int(self, "samples", minimum=1)


@dataclass(frozen=True, kw_only=True)
class Figure5Settings:
    """Figure 5: the phase transition of the simple image model.

    m_values: model sizes (None: j floor(N/10), j = 1..10, as App. H.1); t_index: grid index of the
    representative time; excess: also tabulate the excess losses over x_mem on the whole grid with
    ``excess_draws`` draws per sample.
    """

    data: ImageDataSettings
    recipe: TrainingRecipe
    preset: str = ""
    m_values: tuple[int, ...] | None = None
    t_index: int = REPRESENTATIVE_T_INDEX
    excess: bool = False
    excess_draws: int = 10

    def __post_init__(self) -> None:
        if self.data.n < 2:
            _fail(self, "data.n", "at least 2 (the memorization criterion needs two training points)", self.data.n)
        if self.m_values is not None:
            _int_tuple(self, "m_values", minimum=1, sort=True)
        _int(self, "t_index", minimum=0)
        if self.t_index > DEFAULT_STEPS:
            _fail(self, "t_index", f"a grid index in 0..{DEFAULT_STEPS}", self.t_index)
        _int(self, "excess_draws", minimum=2)

    @property
    def model_sizes(self) -> tuple[int, ...]:
        if self.m_values is not None:
            return self.m_values
        step = max(self.data.n // 10, 1)
        return tuple(j * step for j in range(1, 11))
