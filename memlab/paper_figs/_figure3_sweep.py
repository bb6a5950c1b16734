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

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from memlab import gpu_kernels, numerics
from memlab._io import load_npz, write_npz
from memlab._jaxcfg import float64_scope
from memlab._sweep import SweepOptions, run_dir, run_sweep
from memlab.paper_figs._figure3_analysis import TupleOutcome
from memlab.paper_figs._phase_transition import run_config, train_and_evaluate
from memlab.paper_figs._settings import Figure3Settings, PhaseTransitionSettings

__all__ = ["SweepResult", "exact_config", "exact_losses", "run_figure3_sweep", "tuple_experiment"]

EXACT_VERSION = 1
#: The exact-loss noise key is ``fold_in(key(seed), EXACT_KEY_TAG)``, independent of the training runs'
#: ``split(key(seed), 5)`` (init, training noise, sampling, evaluation, excess).
EXACT_KEY_TAG = 6


def tuple_experiment(s: Figure3Settings, n: int, d: int, k: int, m_values) -> PhaseTransitionSettings:
    """The phase-transition experiment's settings for one tuple (so run configs and hashes are shared)."""
    return PhaseTransitionSettings(
        preset=s.preset,
        n=n,
        d=d,
        k=k,
        sigma2=s.sigma2,
        recipe=s.recipe,
        m_values=tuple(int(m) for m in m_values),
        refine=s.refine,
        seeds=(s.seed,),
    )


def exact_config(s: Figure3Settings, n: int, d: int, k: int) -> dict:
    """The JSON config of a tuple's exact-loss run (the sweep hashes it)."""
    return {
        "experiment": "figure3_exact_losses",
        "version": EXACT_VERSION,
        "n": n,
        "d": d,
        "k": k,
        "sigma2": float(s.sigma2),
        "n_test": n,
        "seed": s.seed,
        "steps": s.analysis.steps,
        "schedule": s.analysis.schedule,
        "draws": s.exact_draws,
        "dtype": s.exact_dtype,
    }


def exact_losses(config: dict, run_dir: Path) -> dict[str, Any]:
    """Sweep run function: Monte Carlo excess losses over x_mem of x_pmem,M (every M) and x_* at every grid time.

    The data set is the training runs' (``make_gmm_dataset`` with the same n, d, k, sigma2, n_test, seed).
    Writes ``exact_losses.npz`` (excess_pmem (T, N), excess_pmem_se, excess_gen (T,), excess_gen_se,
    loss_mem, loss_mem_se, t) into ``run_dir``.
    """
    with float64_scope():
        ds = numerics.make_gmm_dataset(
            d=config["d"],
            k=config["k"],
            n=config["n"],
            n_test=config["n_test"],
            sigma2=config["sigma2"],
            seed=config["seed"],
        )
        t = numerics.timestep_grid(config["steps"])
        alphas, sigmas, _ = numerics.schedule_coefficients(t, config["schedule"])
        key = jax.random.fold_in(jax.random.key(config["seed"]), EXACT_KEY_TAG)
        losses = gpu_kernels.mc_excess_losses(
            ds.x_train,
            ds.means,
            ds.sigma2,
            alphas=alphas,
            sigmas=sigmas,
            draws=config["draws"],
            key=key,
            dtype=jnp.dtype(config["dtype"]),
        )
    write_npz(
        run_dir / "exact_losses.npz",
        t=t,
        excess_pmem=losses.excess_pmem,
        excess_pmem_se=losses.excess_pmem_se,
        excess_gen=losses.excess_gen,
        excess_gen_se=losses.excess_gen_se,
        loss_mem=losses.loss_mem,
        loss_mem_se=losses.loss_mem_se,
    )
    return {
        "excess_gen_mean_over_t": float(np.mean(losses.excess_gen)),
        "max_excess_pmem_se": float(np.max(losses.excess_pmem_se)),
        "backend": jax.default_backend(),
    }


@dataclass(frozen=True, eq=False)
class SweepResult:
    """Per tuple (settings order): the analysis input, plus run counts and timings."""

    outcomes: list[TupleOutcome]
    executed: int
    cached: int
    run_seconds: float  # sum of the executed and cached runs' own timings (what the sweep costs uncached)
    exact_seconds: float


def run_figure3_sweep(
    s: Figure3Settings,
    options: SweepOptions,
    *,
    run_function: Callable = train_and_evaluate,
    exact_function: Callable = exact_losses,
) -> SweepResult:
    """Run (or load) every model of every tuple, refine, compute exact losses; return per-tuple outcomes.

    The exact gaps are normalised as ``s.analysis`` says (:func:`memlab.numerics.exact_loss_gaps`).
    ``run_function`` (default the phase-transition experiment's ``train_and_evaluate``) and
    ``exact_function`` (default :func:`exact_losses`) are sweep run functions; a replacement must take the
    same configs and return ``memorized_flags`` (resp. write ``exact_losses.npz``).
    """
    tuples = s.tuples()
    counts = {"executed": 0, "cached": 0}
    seconds = {"runs": 0.0, "exact": 0.0}

    def sweep(function, configs, desc):
        outcome = run_sweep(function, configs, options=options, desc=desc)
        counts["executed"] += outcome.executed
        counts["cached"] += outcome.cached
        return outcome.records

    def configs_for(ms_per_tuple):
        return [
            run_config(tuple_experiment(s, n, d, k, ms), m=m, seed=s.seed)
            for (n, d, k), ms in zip(tuples, ms_per_tuple)
            for m in ms
        ]

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
            extra.append(
                [
                    int(m)
                    for m in numerics.refinement_ms(ms, start=transition.m_start, end=transition.m_end, count=s.refine)
                ]
            )
        if any(extra):
            collect(sweep(run_function, configs_for(extra), "figure 3: refinement"))
        ms_per_tuple = [sorted(ms + more) for ms, more in zip(ms_per_tuple, extra)]

    exact_gaps: list[numerics.LossGaps | None] = [None] * len(tuples)
    if s.exact:
        exact_configs = [exact_config(s, n, d, k) for n, d, k in tuples]
        records = sweep(exact_function, exact_configs, "figure 3: exact losses")
        for i, (config, record) in enumerate(zip(exact_configs, records)):
            seconds["exact"] += float(record["seconds"])
            arrays = load_npz(run_dir(options.cache_dir, config, exact_function) / "exact_losses.npz")
            n, d, k = tuples[i]
            exact_gaps[i] = numerics.exact_loss_gaps(
                arrays["excess_pmem"],
                arrays["excess_gen"],
                n=n,
                d=d,
                k=k,
                sigma2=config["sigma2"],
                excess_pmem_se=arrays["excess_pmem_se"],
                excess_gen_se=arrays["excess_gen_se"],
                normalize=s.analysis.normalize,
                c=s.analysis.c,
            )

    outcomes = []
    for (n, d, k), ms, gaps in zip(tuples, ms_per_tuple, exact_gaps):
        tuple_flags = [flags[(n, d, k, m)] for m in ms]
        transition = numerics.phase_transition(ms, tuple_flags, seed=s.seed)
        outcomes.append(
            TupleOutcome(
                n=n,
                d=d,
                k=k,
                m_values=tuple(ms),
                ratios=tuple(float(np.mean(f)) for f in tuple_flags),
                m_pt=transition.m_pt,
                m_pt_ci=(transition.m_pt_ci[0], transition.m_pt_ci[1]),
                m_start=transition.m_start,
                m_end=transition.m_end,
                exact=gaps,
            )
        )
    return SweepResult(
        outcomes=outcomes,
        executed=counts["executed"],
        cached=counts["cached"],
        run_seconds=seconds["runs"],
        exact_seconds=seconds["exact"],
    )
