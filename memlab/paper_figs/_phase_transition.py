"""The Section 4.1 experiment behind Figures 2, 3, 6 and 7: train M-component GMM denoisers and watch them
switch from generalizing to memorizing as M grows.

One *run* (a sweep config, see :mod:`memlab._sweep`) = one (data set, M, seed, training recipe): draw the
data (``make_gmm_dataset(seed=seed)``), initialise by partial memorization, train with the App. H.1
recipe, generate ``n_eval`` DDIM samples, and measure the memorization ratio, the learned variance, the
Figure 6 distances and the train / held-out losses at t_16 (Monte Carlo with standard errors). The
baselines (x_hat_*, x_hat_mem, x_hat_pmem,M) are one more cached run per data set, on the *same*
evaluation noise (common random numbers).

Keys: ``split(key(seed), 5)`` = (init, training noise, sampling, evaluation, all-M excess losses), the
same for every M, so the initial means of the M-runs are nested subsets of one permutation and all models
are evaluated on the same noise. The one-off draws (permutation, DDIM starting points, evaluation noise)
are made on the host by ``gpu_kernels.host_generator(key)``; the training noise by ``jax.random`` inside
the trainer. Evaluation is float64 (inside :func:`memlab._jaxcfg.float64_scope`); training runs in the
recipe's dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from memlab import gpu_kernels, numerics
from memlab._io import write_npz
from memlab._jaxcfg import float64_scope
from memlab._sweep import CHECKPOINT_FILE, SweepOptions, run_sweep
from memlab.paper_figs._recipes import check_trained, recipe_fields, train_config
from memlab.paper_figs._settings import PhaseTransitionSettings

__all__ = [
    "EVAL_T_INDEX",
    "SeedResult",
    "baseline_config",
    "crossover_m_star",
    "evaluate_baselines",
    "run_config",
    "run_experiment",
    "train_and_evaluate",
]

EXPERIMENT_VERSION = 2  # 2: five keys per seed (the fifth drives mc_excess_losses in the baselines)
EVAL_T_INDEX = numerics.REPRESENTATIVE_T_INDEX


# ----------------------------------------------------------------------------------------------------
# Run configs
# ----------------------------------------------------------------------------------------------------


def _data_fields(s: PhaseTransitionSettings, seed: int) -> dict[str, Any]:
    return {
        "experiment": "gmm_phase_transition",
        "version": EXPERIMENT_VERSION,
        "n": s.n,
        "d": s.d,
        "k": s.k,
        "sigma2": s.sigma2,
        "n_test": s.n,
        "seed": seed,
        "eval_draws": s.recipe.eval_draws,
        "eval_t_index": EVAL_T_INDEX,
        "steps": numerics.DEFAULT_STEPS,
        "schedule": "vp",
    }


def run_config(s: PhaseTransitionSettings, *, m: int, seed: int) -> dict[str, Any]:
    """The JSON config of one training run (the sweep hashes it)."""
    return {
        **_data_fields(s, seed),
        "m": int(m),
        **recipe_fields(s.recipe),
        "adam_b1": 0.9,
        "adam_eps": 1e-8,
        "weighting": "eps",
        "n_eval": s.recipe.n_eval,
        "dtype": s.recipe.dtype,
    }


def baseline_m_values(n: int, m_values: Sequence[int]) -> list[int]:
    """M values at which x_hat_pmem,M is evaluated: 20 evenly spaced in [1, N] plus the sweep's M <= N."""
    grid = set(np.unique(np.round(np.linspace(1, n, 20)).astype(int)).tolist())
    return sorted(grid | {int(m) for m in m_values if m <= n})


def baseline_config(s: PhaseTransitionSettings, *, seed: int) -> dict[str, Any]:
    return {**_data_fields(s, seed), "pmem_m_values": baseline_m_values(s.n, s.m_values)}


# ----------------------------------------------------------------------------------------------------
# Run functions (executed by the sweep, possibly in worker processes)
# ----------------------------------------------------------------------------------------------------


def _setup(config: dict):
    ds = numerics.make_gmm_dataset(
        d=config["d"],
        k=config["k"],
        n=config["n"],
        n_test=config["n_test"],
        sigma2=config["sigma2"],
        seed=config["seed"],
    )
    keys = jax.random.split(jax.random.key(config["seed"]), 5)  # init, noise, sample, eval, excess
    t = numerics.timestep_grid(config["steps"])
    alphas, sigmas, _ = numerics.schedule_coefficients(t, config["schedule"])
    return ds, tuple(keys), alphas, sigmas


def _eval_noise(eval_key, ds, draws: int):
    """Evaluation noise for the train and held-out rows, (N, R, d) and (N_test, R, d), drawn on the host."""
    rng = gpu_kernels.host_generator(eval_key)
    return rng.standard_normal((ds.n, draws, ds.d)), rng.standard_normal((ds.x_test.shape[0], draws, ds.d))


def _losses(params, ds, noise_train, noise_test, alpha, sigma, apply=None) -> dict[str, float]:
    apply = gpu_kernels.gmm_apply if apply is None else apply
    train, train_se = gpu_kernels.mc_time_loss(
        apply, params, jnp.asarray(ds.x_train), noise_train, alpha=alpha, sigma=sigma
    )
    test, test_se = gpu_kernels.mc_time_loss(
        apply, params, jnp.asarray(ds.x_test), noise_test, alpha=alpha, sigma=sigma
    )
    return {"train_loss": train, "train_loss_se": train_se, "test_loss": test, "test_loss_se": test_se}


def _record_log_variance(params) -> dict[str, Any]:
    """The learned log-variance after every training block (training curves, docs/convergence.md)."""
    return {"log_variance": params["log_variance"]}


def train_and_evaluate(config: dict, run_dir: Path) -> dict[str, Any]:
    """Sweep run function: train one M-component model, sample, measure. Writes ``model.npz`` in ``run_dir``.

    Training checkpoints to ``run_dir / memlab._sweep.CHECKPOINT_FILE`` every
    ``gpu_kernels.checkpoint_seconds()`` of work and resumes from it, so a killed run (a preempted job, an
    interrupted sweep) continues where it stopped and ends with the result of an uninterrupted run.
    ``model.npz`` also holds the learned log-variance after every training block (``log_variance_history``
    at ``log_variance_epochs``).
    """
    with float64_scope():
        return _train_and_evaluate(config, run_dir)


def _train_and_evaluate(config: dict, run_dir: Path) -> dict[str, Any]:
    ds, (init_key, noise_key, sample_key, eval_key, _), alphas, sigmas = _setup(config)
    dtype = jnp.dtype(config["dtype"])
    params = gpu_kernels.partial_memorization_init(ds.x_train, config["m"], key=init_key, dtype=dtype)
    checkpoint = run_dir / CHECKPOINT_FILE  # a killed run resumes here; the sweep removes it once finished
    trained = gpu_kernels.train(
        gpu_kernels.gmm_apply,
        params,
        jnp.asarray(ds.x_train, dtype),
        config=train_config(config),
        key=noise_key,
        desc=f"train M={config['m']}",
        record=_record_log_variance,
        **gpu_kernels.resumable(checkpoint),
    )
    check_trained(trained, dtype)
    x_init = jnp.asarray(gpu_kernels.host_generator(sample_key).standard_normal((config["n_eval"], ds.d)), dtype)
    samples = np.asarray(
        gpu_kernels.ddim_sample_model(gpu_kernels.gmm_apply, trained.params, x_init, alphas=alphas, sigmas=sigmas),
        dtype=np.float64,
    )
    memorization = numerics.memorization_ratio(samples, ds.x_train)
    means = np.asarray(trained.params["means"], dtype=np.float64)
    log_variance = float(trained.params["log_variance"])
    params64 = {"means": jnp.asarray(means), "log_variance": jnp.asarray(log_variance, jnp.float64)}
    noise_train, noise_test = _eval_noise(eval_key, ds, config["eval_draws"])
    t_index = config["eval_t_index"]
    losses = _losses(params64, ds, noise_train, noise_test, alphas[t_index], sigmas[t_index])
    write_npz(
        run_dir / "model.npz",
        means=means,
        log_variance=log_variance,
        samples=samples,
        memorized=memorization.flags,
        loss_history=trained.loss_history,
        history_epochs=trained.history_epochs,
        log_variance_history=trained.records["log_variance"],
        log_variance_epochs=trained.record_epochs,
    )
    return {
        "memorization_ratio": memorization.ratio,
        "memorization_ci_low": memorization.ci_low,
        "memorization_ci_high": memorization.ci_high,
        "memorized_flags": memorization.flags.astype(int).tolist(),
        "learned_variance": float(np.exp(log_variance)),
        "dist_nearest_train": numerics.mean_distance_to_nearest(means, ds.x_train),
        "dist_nearest_true_mean": numerics.mean_distance_to_nearest(means, ds.means),
        **losses,
        "final_objective": float(trained.final_loss),
        "initial_objective": float(trained.loss_history[0]),
        "train_seconds": trained.seconds,
        "backend": jax.default_backend(),
    }


def evaluate_baselines(config: dict, run_dir: Path) -> dict[str, Any]:
    """Sweep run function: the baselines' train / held-out losses at t_16.

    - x_hat_*, x_hat_mem and x_hat_pmem,M (the first M training points, eq. 10) at the grid ``pmem_m_values``,
      on the runs' evaluation noise (common random numbers with the trained models): ``star_*``,
      ``mem_*``, ``pmem_*``.
    - Train set, every M = 1..N: ``memlab.gpu_kernels.mc_excess_losses`` (eq. 13, its own noise):
      ``pmem_all_train_loss`` = L(x_hat_mem) + excess(x_hat_pmem,M), SE of the excess term
      (``pmem_all_train_excess_se``; the shared L(x_hat_mem) term has ``mem_all_train_loss_se``).
    """
    with float64_scope():
        return _evaluate_baselines(config)


def _evaluate_baselines(config: dict) -> dict[str, Any]:
    ds, (_, _, _, eval_key, excess_key), alphas, sigmas = _setup(config)
    noise_train, noise_test = _eval_noise(eval_key, ds, config["eval_draws"])
    alpha, sigma = alphas[config["eval_t_index"]], sigmas[config["eval_t_index"]]

    def losses(means, variance):
        return _losses(gpu_kernels.gmm_params(jnp.asarray(means), variance), ds, noise_train, noise_test, alpha, sigma)

    out: dict[str, Any] = {}
    for name, record in (("star", losses(ds.means, ds.sigma2)), ("mem", losses(ds.x_train, 0.0))):
        out.update({f"{name}_{key}": value for key, value in record.items()})
    pmem = [
        _losses(
            gpu_kernels.pmem_params(ds.x_train, m),
            ds,
            noise_train,
            noise_test,
            alpha,
            sigma,
            apply=gpu_kernels.pmem_apply,
        )
        for m in config["pmem_m_values"]
    ]  # one compiled kernel for every M
    out["pmem_m"] = list(config["pmem_m_values"])
    for key in ("train_loss", "train_loss_se", "test_loss", "test_loss_se"):
        out[f"pmem_{key}"] = [record[key] for record in pmem]
    excess = gpu_kernels.mc_excess_losses(
        ds.x_train,
        ds.means,
        ds.sigma2,
        alphas=[alpha],
        sigmas=[sigma],
        draws=config["eval_draws"],
        key=excess_key,
        dtype=jnp.float64,
    )
    out["pmem_all_m"] = list(range(1, ds.n + 1))
    out["pmem_all_train_loss"] = (excess.loss_mem[0] + excess.excess_pmem[0]).tolist()
    out["pmem_all_train_excess_se"] = excess.excess_pmem_se[0].tolist()
    out["mem_all_train_loss"] = float(excess.loss_mem[0])
    out["mem_all_train_loss_se"] = float(excess.loss_mem_se[0])
    out["star_all_train_loss"] = float(excess.loss_mem[0] + excess.excess_gen[0])
    out["star_all_train_excess_se"] = float(excess.excess_gen_se[0])
    return out


# ----------------------------------------------------------------------------------------------------
# Running the sweep and collecting the per-seed tables
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedResult:
    """One seed's sweep: per-M run results (sorted by M), the baselines and the transition points."""

    seed: int
    m_values: list[int]
    runs: list[dict]
    baselines: dict
    transition: numerics.PhaseTransition


def _with_interval(run: dict) -> dict:
    """A run's result with its ratio interval recomputed from the stored flags (runs cached before the
    interval became Clopper-Pearson carry a bootstrap interval; the flags are the measurement)."""
    ratio = numerics.ratio_with_interval(run["memorized_flags"])
    return {
        **run,
        "memorization_ratio": ratio.ratio,
        "memorization_ci_low": ratio.ci_low,
        "memorization_ci_high": ratio.ci_high,
    }


def _transition(seed: int, ms: Sequence[int], runs: Sequence[dict]) -> numerics.PhaseTransition:
    return numerics.phase_transition(ms, [r["memorized_flags"] for r in runs], seed=seed)


def run_experiment(s: PhaseTransitionSettings, options: SweepOptions) -> list[SeedResult]:
    """Run (or load from the cache) every model and baseline for every seed; refine around the transition
    (:func:`memlab.numerics.refinement_ms`, the rule Figure 3 uses too)."""

    def sweep(function, configs, desc):
        return run_sweep(function, configs, options=options, desc=desc).records

    m_per_seed = {seed: list(s.m_values) for seed in s.seeds}
    records = sweep(
        train_and_evaluate, [run_config(s, m=m, seed=seed) for seed in s.seeds for m in s.m_values], "models"
    )
    baselines = sweep(evaluate_baselines, [baseline_config(s, seed=seed) for seed in s.seeds], "baselines")
    by_key = {(r["config"]["seed"], r["config"]["m"]): _with_interval(r["result"]) for r in records}
    if s.refine:
        extra = []
        for seed in s.seeds:
            ms = m_per_seed[seed]
            transition = _transition(seed, ms, [by_key[(seed, m)] for m in ms])
            more = [
                int(m)
                for m in numerics.refinement_ms(ms, start=transition.m_start, end=transition.m_end, count=s.refine)
            ]
            m_per_seed[seed] = sorted(ms + more)
            extra += [run_config(s, m=m, seed=seed) for m in more]
        if extra:
            for r in sweep(train_and_evaluate, extra, "refine"):
                by_key[(r["config"]["seed"], r["config"]["m"])] = _with_interval(r["result"])
    results = []
    for seed, baseline in zip(s.seeds, baselines):
        ms = m_per_seed[seed]
        runs = [by_key[(seed, m)] for m in ms]
        results.append(SeedResult(seed, ms, runs, baseline["result"], _transition(seed, ms, runs)))
    return results


def crossover_m_star(s: PhaseTransitionSettings) -> tuple[dict[str, float], str]:
    """M* of the crossover formula (eq. 14 solved for M, ``memlab.numerics.crossover``, C = 2) for this N.

    Two weightings: ``eps`` (lambda = psi_t, the weighting the models are trained with — with the grid's
    psi up to 1e6 at t = 0.001 it puts M* within 0.002 % of N) and ``x0`` (lambda = 1) for reference.
    The paper's Section 4 instead fits lambda so that M* matches M_pt (App. H.3, Figure 3).
    """
    values = {w: float(numerics.crossover(s.n, c=2, sigma2=s.sigma2, weighting=w).m_star) for w in ("eps", "x0")}
    return values, (
        "memlab.numerics.crossover(n, c=2, sigma2, weighting): eq. 14 solved for M on the L=25 grid; "
        "'eps' is the training weighting lambda = psi_t, 'x0' is lambda = 1"
    )
