"""Figure 3's sweep: for every (N, d, K) tuple, train models over a grid of M, refine over the transition,
locate M_pt, and compute the tuple's exact (Monte Carlo) per-time losses for the regression.

Every trained model is one run of the phase-transition experiment shared with Figures 2, 6 and 7
(:func:`memlab.paper_figs._phase_transition.train_and_evaluate`, configs from
:func:`~memlab.paper_figs._phase_transition.run_config`): draw the data with ``make_gmm_dataset(seed)``,
partial-memorization init, App. H.1 training, ``n_eval`` DDIM samples, memorization flags. Runs go
through :mod:`memlab._sweep`, so each is cached under a hash of its config (a run Figure 2 already did is
reused), an interrupted sweep resumes, and the executor is local, a process pool or submitit (Slurm).

Stages (each one :func:`memlab._sweep.run_sweep` call over all tuples, so pools and job arrays see
every run of the stage at once):

1. the coarse grid ``j floor(N/10)``, j = 1..``multiples`` (:func:`memlab.numerics.m_grid`);
2. ``refine`` more sizes over each tuple's transition (:func:`memlab.numerics.refinement_ms`);
3. one exact-loss run per tuple (:func:`exact_losses`): ``memlab.gpu_kernels.mc_excess_losses`` on the
   tuple's training set at every grid time, every M = 1..N, with standard errors.

M_pt and its bootstrap interval come from :func:`memlab.numerics.phase_transition` over all sizes tried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from memlab._errors import InvalidInputError

__all__ = ["EXACT_FUNCTION", "PRESETS", "Figure3Settings", "SweepOptions", "SweepResult", "exact_config", "exact_losses",
           "run_figure3_sweep", "tuple_experiment", "tuples_of", "with_overrides"]

EXACT_FUNCTION = "memlab.paper_figs._figure3_sweep:exact_losses"
EXACT_VERSION = 1
#: The exact-loss noise key is ``fold_in(key(seed), EXACT_KEY_TAG)``, independent of the training runs'
#: ``split(key(seed), 4)`` (init, training noise, sampling, evaluation).
EXACT_KEY_TAG = 6

_TRAINING_FIELDS = ("sigma2", "epochs", "draws", "peak_lr", "final_lr", "warmup_fraction", "adam_b2", "n_eval",
                    "eval_draws", "chunk_size", "dtype")

#: ``paper``: App. H.1's 64 tuples and training budget (meant for GPUs / a cluster); ``cpu``: 12 small
#: tuples, the phase-transition experiment's CPU recipe (1,000 epochs, lr 5e-2, b2 0.9, 1 draw), a grid
#: of 12 multiples of floor(N/10) (the transition sits near 0.8 N) and 6 refinement sizes; ``paper-small``:
#: the CPU tuples and grid with App. H.1's training recipe (100 draws, 50,000 epochs, lr 1e-3, b2 0.999;
#: ~0.5-2 h per model on one CPU core, so meant for a pool, a cluster or a GPU; docs/convergence.md).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": dict(ns=(50, 100, 150, 200), ds=(30, 40, 50, 60), ks=(3, 6, 9, 12), multiples=20, refine=10,
                  exact_draws=100, exact_dtype="float32", training="paper"),
    "cpu": dict(ns=(20, 30, 40), ds=(20, 30), ks=(2, 4), multiples=12, refine=6, exact_draws=20,
                exact_dtype="float64", training="cpu"),
    "paper-small": dict(ns=(20, 30, 40), ds=(20, 30), ks=(2, 4), multiples=12, refine=6, exact_draws=20,
                        exact_dtype="float64", training="paper-small"),
}


@dataclass(frozen=True)
class Figure3Settings:
    """Everything that defines Figure 3's sweep (a preset, possibly overridden by flags)."""

    preset: str
    ns: tuple[int, ...]
    ds: tuple[int, ...]
    ks: tuple[int, ...]
    seed: int
    multiples: int
    refine: int
    exact_draws: int
    exact_dtype: str
    exact: bool
    training: Mapping[str, Any]  # the _TRAINING_FIELDS of the phase-transition experiment

    @classmethod
    def from_preset(cls, name: str, **overrides) -> Figure3Settings:
        from memlab.paper_figs._phase_transition import PRESETS as TRAINING_PRESETS

        if name not in PRESETS:
            raise InvalidInputError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        preset = dict(PRESETS[name])
        recipe = TRAINING_PRESETS[preset.pop("training")]
        training = {f: recipe[f] for f in _TRAINING_FIELDS}
        training.update({k: v for k, v in overrides.pop("training", {}).items() if v is not None})
        preset.update({k: v for k, v in overrides.items() if v is not None})
        preset.setdefault("seed", 0)
        preset.setdefault("exact", True)
        settings = cls(preset=name, training=training, **preset)
        settings.validate()
        return settings

    def validate(self) -> None:
        for name in ("ns", "ds", "ks"):
            values = getattr(self, name)
            if not values or any(int(v) != v or v < 1 for v in values):
                raise InvalidInputError(f"{name} must be positive integers, got {values}")
        if min(self.ns) < 2:
            raise InvalidInputError("every N must be at least 2 (the memorization criterion needs two training points)")
        if self.multiples < 1 or self.refine < 0 or self.exact_draws < 1 or self.seed < 0:
            raise InvalidInputError("multiples and exact_draws must be >= 1, refine and seed >= 0")
        if self.exact_dtype not in ("float32", "float64"):
            raise InvalidInputError(f"exact_dtype must be float32 or float64, got {self.exact_dtype!r}")

    def tuples(self) -> list[tuple[int, int, int]]:
        return tuples_of(self.ns, self.ds, self.ks)


def tuples_of(ns: Sequence[int], ds: Sequence[int], ks: Sequence[int]) -> list[tuple[int, int, int]]:
    """The grid of (N, d, K) tuples in a fixed order (N slowest)."""
    return [(int(n), int(d), int(k)) for n in ns for d in ds for k in ks]


def tuple_experiment(s: Figure3Settings, n: int, d: int, k: int, m_values: Sequence[int]):
    """The phase-transition experiment's settings for one tuple (so run configs and hashes are shared)."""
    from memlab.paper_figs._phase_transition import ExperimentSettings

    return ExperimentSettings(preset=s.preset, n=n, d=d, k=k, m_values=tuple(int(m) for m in m_values),
                              refine=s.refine, seeds=(s.seed,), **dict(s.training))


def exact_config(s: Figure3Settings, n: int, d: int, k: int, *, steps: int = 25, schedule: str = "vp") -> dict:
    """The JSON config of a tuple's exact-loss run (the sweep hashes it)."""
    return {"experiment": "figure3_exact_losses", "version": EXACT_VERSION, "n": n, "d": d, "k": k,
            "sigma2": float(s.training["sigma2"]), "n_test": n, "seed": s.seed, "steps": steps,
            "schedule": schedule, "draws": s.exact_draws, "dtype": s.exact_dtype}


def exact_losses(config: dict, run_dir: Path) -> dict[str, Any]:
    """Sweep run function: Monte Carlo excess losses over x_mem of x_pmem,M (every M) and x_* at every grid time.

    The data set is the training runs' (``make_gmm_dataset`` with the same n, d, k, sigma2, n_test, seed).
    Writes ``exact_losses.npz`` (excess_pmem (T, N), excess_pmem_se, excess_gen (T,), excess_gen_se,
    loss_mem, loss_mem_se, t) into ``run_dir``.
    """
    from memlab._jaxcfg import enable_float64

    enable_float64()  # a run function is an entry point (like the CLI)
    import jax
    import jax.numpy as jnp

    from memlab import gpu_kernels, numerics
    from memlab._io import write_npz

    ds = numerics.make_gmm_dataset(d=config["d"], k=config["k"], n=config["n"], n_test=config["n_test"],
                                   sigma2=config["sigma2"], seed=config["seed"])
    t = numerics.timestep_grid(config["steps"])
    alphas, sigmas, _ = numerics.schedule_coefficients(t, config["schedule"])
    key = jax.random.fold_in(jax.random.key(config["seed"]), EXACT_KEY_TAG)
    losses = gpu_kernels.mc_excess_losses(ds.x_train, ds.means, ds.sigma2, alphas=alphas, sigmas=sigmas,
                                          draws=config["draws"], key=key, dtype=jnp.dtype(config["dtype"]))
    write_npz(run_dir / "exact_losses.npz", t=t, excess_pmem=losses.excess_pmem, excess_pmem_se=losses.excess_pmem_se,
              excess_gen=losses.excess_gen, excess_gen_se=losses.excess_gen_se, loss_mem=losses.loss_mem,
              loss_mem_se=losses.loss_mem_se)
    return {"excess_gen_mean_over_t": float(np.mean(losses.excess_gen)),
            "max_excess_pmem_se": float(np.max(losses.excess_pmem_se)), "backend": jax.default_backend()}


@dataclass(frozen=True)
class SweepOptions:
    """Where and how runs execute (see :func:`memlab._sweep.run_sweep`)."""

    cache_dir: Path
    executor: str = "local"
    max_workers: int | None = None
    submitit_cluster: str | None = None
    submitit_parameters: Mapping[str, Any] | None = None

    def kwargs(self) -> dict[str, Any]:
        return dict(cache_dir=self.cache_dir, executor=self.executor, max_workers=self.max_workers,
                    submitit_cluster=self.submitit_cluster, submitit_parameters=dict(self.submitit_parameters or {}))


@dataclass(frozen=True, eq=False)
class SweepResult:
    """Per tuple (settings order): the analysis input, plus run counts and timings."""

    outcomes: list  # list[_figure3_analysis.TupleOutcome]
    executed: int
    cached: int
    run_seconds: float  # sum of the executed and cached runs' own timings (what the sweep costs uncached)
    exact_seconds: float


def run_figure3_sweep(s: Figure3Settings, options: SweepOptions, *, normalize: str = "span", c: float = 2.0,
                      run_function: str | None = None, exact_function: str = EXACT_FUNCTION) -> SweepResult:
    """Run (or load) every model of every tuple, refine, compute exact losses; return per-tuple outcomes.

    ``normalize``, ``c``: how the exact gaps are normalised (:func:`memlab.numerics.exact_loss_gaps`).
    ``run_function`` (default the phase-transition experiment's ``train_and_evaluate``) and
    ``exact_function`` (default :func:`exact_losses`) are sweep run-function names; a replacement must
    take the same configs and return ``memorized_flags`` (resp. write ``exact_losses.npz``).
    """
    from memlab import _sweep, numerics
    from memlab._io import load_npz
    from memlab.paper_figs._figure3_analysis import TupleOutcome
    from memlab.paper_figs._phase_transition import RUN_FUNCTION, run_config

    run_function = RUN_FUNCTION if run_function is None else _sweep.function_name(run_function)
    exact_function = _sweep.function_name(exact_function)
    tuples = s.tuples()
    counts = {"executed": 0, "cached": 0}
    seconds = {"runs": 0.0, "exact": 0.0}

    def sweep(function, configs, desc):
        outcome = _sweep.run_sweep(function, configs, desc=desc, **options.kwargs())
        counts["executed"] += outcome.executed
        counts["cached"] += outcome.cached
        return outcome.records

    def configs_for(ms_per_tuple):
        return [run_config(tuple_experiment(s, n, d, k, ms), m=m, seed=s.seed)
                for (n, d, k), ms in zip(tuples, ms_per_tuple) for m in ms]

    ms_per_tuple = [[int(m) for m in numerics.m_grid(n, multiples=s.multiples)] for n, _, _ in tuples]
    flags: dict[tuple[int, int, int, int], list[int]] = {}

    def collect(records):
        for record in records:
            c = record["config"]
            flags[(c["n"], c["d"], c["k"], c["m"])] = record["result"]["memorized_flags"]
            seconds["runs"] += float(record["seconds"])

    collect(sweep(run_function, configs_for(ms_per_tuple), "figure 3: grid of M"))
    if s.refine:
        extra = []
        for (n, d, k), ms in zip(tuples, ms_per_tuple):
            transition = numerics.phase_transition(ms, [flags[(n, d, k, m)] for m in ms], seed=s.seed)
            extra.append([int(m) for m in numerics.refinement_ms(ms, start=transition.m_start, end=transition.m_end,
                                                                 count=s.refine)])
        if any(extra):
            collect(sweep(run_function, configs_for(extra), "figure 3: refinement"))
        ms_per_tuple = [sorted(ms + more) for ms, more in zip(ms_per_tuple, extra)]

    exact_gaps = [None] * len(tuples)
    if s.exact:
        exact_configs = [exact_config(s, n, d, k) for n, d, k in tuples]
        records = sweep(exact_function, exact_configs, "figure 3: exact losses")
        for i, (config, record) in enumerate(zip(exact_configs, records)):
            seconds["exact"] += float(record["seconds"])
            arrays = load_npz(_sweep.run_dir(options.cache_dir, config, exact_function) / "exact_losses.npz")
            n, d, k = tuples[i]
            exact_gaps[i] = numerics.exact_loss_gaps(arrays["excess_pmem"], arrays["excess_gen"], n=n, d=d, k=k,
                                                     sigma2=config["sigma2"], excess_pmem_se=arrays["excess_pmem_se"],
                                                     excess_gen_se=arrays["excess_gen_se"], normalize=normalize,
                                                     c=c)

    outcomes = []
    for (n, d, k), ms, gaps in zip(tuples, ms_per_tuple, exact_gaps):
        tuple_flags = [flags[(n, d, k, m)] for m in ms]
        transition = numerics.phase_transition(ms, tuple_flags, seed=s.seed)
        outcomes.append(TupleOutcome(n=n, d=d, k=k, m_values=tuple(ms),
                                     ratios=tuple(float(np.mean(f)) for f in tuple_flags), m_pt=transition.m_pt,
                                     m_pt_ci=tuple(transition.m_pt_ci), m_start=transition.m_start,
                                     m_end=transition.m_end, exact=gaps))
    return SweepResult(outcomes=outcomes, executed=counts["executed"], cached=counts["cached"],
                       run_seconds=seconds["runs"], exact_seconds=seconds["exact"])


def with_overrides(s: Figure3Settings, **changes) -> Figure3Settings:
    """A copy of ``s`` with fields replaced (``training`` entries merged), validated."""
    training = dict(s.training)
    training.update(changes.pop("training", {}))
    out = replace(s, training=training, **changes)
    out.validate()
    return out
