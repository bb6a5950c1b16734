"""The Section 4.1 experiment behind Figures 2, 3, 6 and 7: train M-component GMM denoisers and watch them
switch from generalizing to memorizing as M grows.

One *run* (a sweep config, see ``memlab._sweep``) = one (data set, M, seed, training recipe): draw the data
(``make_gmm_dataset(seed=seed)``), initialise by partial memorization, train with the App. H.1 recipe,
generate ``n_eval`` DDIM samples, and measure the memorization ratio, the learned variance, the Figure 6
distances and the train / held-out losses at t_16 (Monte Carlo with standard errors). The baselines
(x_hat_*, x_hat_mem, x_hat_pmem,M) are one more cached run per data set, on the *same* evaluation noise
(common random numbers).

Keys: ``split(key(seed), 5)`` = (init, training noise, sampling, evaluation, all-M excess losses), the
same for every M, so
the initial means of the M-runs are nested subsets of one permutation and all models are evaluated on the
same noise. The one-off draws (permutation, DDIM starting points, evaluation noise) are made on the host by
``gpu_kernels.host_generator(key)``; the training noise by ``jax.random`` inside the trainer. This module imports JAX only inside the run functions (figure modules import it at start-up).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memlab._errors import InvalidInputError
from memlab._sweep import CHECKPOINT_FILE
from memlab.cli._common import (add_executor_arguments, int_list, nonnegative_int, positive_float, positive_int,
                                positive_int_set)

__all__ = [
    "BASELINE_FUNCTION",
    "PRESETS",
    "RUN_FUNCTION",
    "ExperimentSettings",
    "add_experiment_arguments",
    "baseline_config",
    "evaluate_baselines",
    "run_config",
    "run_experiment",
    "settings_from_args",
    "train_and_evaluate",
]

RUN_FUNCTION = "memlab.paper_figs._phase_transition:train_and_evaluate"
BASELINE_FUNCTION = "memlab.paper_figs._phase_transition:evaluate_baselines"
EXPERIMENT_VERSION = 2  # 2: five keys per seed (the fifth drives mc_excess_losses in the baselines)

# The paper's recipe (App. H.1) and a reduced one that shows the transition on a 2-core CPU in minutes.
# CPU preset: 1,000 instead of 50,000 epochs cannot move the log-variance from log(1e-6) to O(1) with
# Adam's default b2 = 0.999 at lr 1e-3 (the huge early gradients dominate the second-moment estimate for
# thousands of steps), so it uses lr 5e-2 and b2 = 0.9. See the README's Figure 2 section.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": dict(n=200, d=50, k=12, sigma2=1.0, epochs=50_000, draws=100, peak_lr=1e-3, final_lr=1e-6,
                  warmup_fraction=0.1, adam_b2=0.999, m_values=[20 * j for j in range(1, 21)], refine=10,
                  n_eval=50, eval_draws=100, chunk_size=None, dtype="float32"),
    "cpu": dict(n=200, d=50, k=12, sigma2=1.0, epochs=1000, draws=1, peak_lr=5e-2, final_lr=1e-6,
                warmup_fraction=0.1, adam_b2=0.9, m_values=[40, 80, 120, 150, 170, 190, 210, 260], refine=0,
                n_eval=50, eval_draws=20, chunk_size=None, dtype="float32"),
    # App. H.1's recipe exactly (100 draws, 50,000 epochs, lr 0 -> 1e-3 -> 1e-6, b2 0.999, eps weighting)
    # at the smallest Figure 3 CPU tuple (N = 20, d = 20, K = 2), M = 2, 4, ..., 24: the paper's optimizer
    # and budget at a size a CPU trains in ~0.5 h per model (docs/convergence.md).
    "paper-small": dict(n=20, d=20, k=2, sigma2=1.0, epochs=50_000, draws=100, peak_lr=1e-3, final_lr=1e-6,
                        warmup_fraction=0.1, adam_b2=0.999, m_values=[2 * j for j in range(1, 13)], refine=6,
                        n_eval=50, eval_draws=20, chunk_size=None, dtype="float32"),
}
EVAL_T_INDEX = 16


@dataclass(frozen=True)
class ExperimentSettings:
    """Everything that defines a sweep of the experiment (one preset, possibly overridden by flags)."""

    preset: str
    n: int
    d: int
    k: int
    sigma2: float
    epochs: int
    draws: int
    peak_lr: float
    final_lr: float
    warmup_fraction: float
    adam_b2: float
    m_values: tuple[int, ...]
    refine: int
    n_eval: int
    eval_draws: int
    chunk_size: int | None
    dtype: str
    seeds: tuple[int, ...]


# ----------------------------------------------------------------------------------------------------
# Run configs
# ----------------------------------------------------------------------------------------------------


def _data_fields(s: ExperimentSettings, seed: int) -> dict[str, Any]:
    return {"experiment": "gmm_phase_transition", "version": EXPERIMENT_VERSION, "n": s.n, "d": s.d, "k": s.k,
            "sigma2": s.sigma2, "n_test": s.n, "seed": seed, "eval_draws": s.eval_draws,
            "eval_t_index": EVAL_T_INDEX, "steps": 25, "schedule": "vp"}


def run_config(s: ExperimentSettings, *, m: int, seed: int) -> dict[str, Any]:
    """The JSON config of one training run (the sweep hashes it)."""
    return {**_data_fields(s, seed), "m": int(m), "epochs": s.epochs, "draws": s.draws, "peak_lr": s.peak_lr,
            "final_lr": s.final_lr, "warmup_fraction": s.warmup_fraction, "adam_b1": 0.9, "adam_b2": s.adam_b2,
            "adam_eps": 1e-8, "weighting": "eps", "chunk_size": s.chunk_size, "n_eval": s.n_eval, "dtype": s.dtype}


def baseline_m_values(n: int, m_values: Sequence[int]) -> list[int]:
    """M values at which x_hat_pmem,M is evaluated: 20 evenly spaced in [1, N] plus the sweep's M <= N."""
    grid = set(np.unique(np.round(np.linspace(1, n, 20)).astype(int)).tolist())
    return sorted(grid | {int(m) for m in m_values if m <= n})


def baseline_config(s: ExperimentSettings, *, seed: int) -> dict[str, Any]:
    return {**_data_fields(s, seed), "pmem_m_values": baseline_m_values(s.n, s.m_values)}


# ----------------------------------------------------------------------------------------------------
# Run functions (executed in sweep workers)
# ----------------------------------------------------------------------------------------------------


def _setup(config: dict):
    from memlab._jaxcfg import enable_compilation_cache, enable_float64

    enable_float64()  # run functions are entry points (like the CLI): evaluation is float64
    enable_compilation_cache()  # also in pool / submitit workers
    import jax

    from memlab import numerics

    ds = numerics.make_gmm_dataset(d=config["d"], k=config["k"], n=config["n"], n_test=config["n_test"],
                                   sigma2=config["sigma2"], seed=config["seed"])
    keys = jax.random.split(jax.random.key(config["seed"]), 5)  # init, noise, sample, eval, excess
    t = numerics.timestep_grid(config["steps"])
    alphas, sigmas, _ = numerics.schedule_coefficients(t, config["schedule"])
    return ds, tuple(keys), alphas, sigmas


def _eval_noise(eval_key, ds, draws: int):
    """Evaluation noise for the train and held-out rows, (N, R, d) and (N_test, R, d), drawn on the host."""
    from memlab.gpu_kernels import host_generator

    rng = host_generator(eval_key)
    return rng.standard_normal((ds.n, draws, ds.d)), rng.standard_normal((ds.x_test.shape[0], draws, ds.d))


def _losses(params, ds, noise_train, noise_test, alpha, sigma, apply=None) -> dict[str, float]:
    import jax.numpy as jnp

    from memlab import gpu_kernels

    apply = gpu_kernels.gmm_apply if apply is None else apply
    train, train_se = gpu_kernels.mc_time_loss(apply, params, jnp.asarray(ds.x_train), noise_train, alpha=alpha,
                                               sigma=sigma)
    test, test_se = gpu_kernels.mc_time_loss(apply, params, jnp.asarray(ds.x_test), noise_test, alpha=alpha,
                                             sigma=sigma)
    return {"train_loss": train, "train_loss_se": train_se, "test_loss": test, "test_loss_se": test_se}


def _record_log_variance(params) -> dict[str, Any]:
    """The learned log-variance after every training block (the training curves of the convergence study)."""
    return {"log_variance": params["log_variance"]}


def train_and_evaluate(config: dict, run_dir: Path) -> dict[str, Any]:
    """Sweep run function: train one M-component model, sample, measure. Writes ``model.npz`` in ``run_dir``.

    Training checkpoints to ``run_dir / memlab._sweep.CHECKPOINT_FILE`` every ``gpu_kernels.checkpoint_seconds()`` of work
    and resumes from it, so a killed run (preempted job, interrupted sweep) continues where it stopped and
    ends with the result of an uninterrupted run. ``model.npz`` also holds the learned log-variance after
    every training block (``log_variance_history`` at ``log_variance_epochs``).
    """
    import jax
    import jax.numpy as jnp

    from memlab import gpu_kernels, numerics
    from memlab._io import write_npz

    ds, (init_key, noise_key, sample_key, eval_key, _), alphas, sigmas = _setup(config)
    dtype = jnp.dtype(config["dtype"])
    train_config = gpu_kernels.TrainConfig(
        epochs=config["epochs"], draws=config["draws"], peak_lr=config["peak_lr"], final_lr=config["final_lr"],
        warmup_fraction=config["warmup_fraction"], adam_b1=config["adam_b1"], adam_b2=config["adam_b2"],
        adam_eps=config["adam_eps"], steps=config["steps"], schedule=config["schedule"],
        weighting=config["weighting"], chunk_size=config["chunk_size"])
    params = gpu_kernels.partial_memorization_init(ds.x_train, config["m"], key=init_key, dtype=dtype)
    checkpoint = run_dir / CHECKPOINT_FILE  # a killed run resumes here; the sweep removes it once finished
    trained = gpu_kernels.train(gpu_kernels.gmm_apply, params, jnp.asarray(ds.x_train, dtype), config=train_config,
                                key=noise_key, desc=f"train M={config['m']}", record=_record_log_variance,
                                **gpu_kernels.resumable(checkpoint))
    x_init = jnp.asarray(gpu_kernels.host_generator(sample_key).standard_normal((config["n_eval"], ds.d)), dtype)
    samples = np.asarray(gpu_kernels.ddim_sample_model(gpu_kernels.gmm_apply, trained.params, x_init, alphas=alphas,
                                                       sigmas=sigmas), dtype=np.float64)
    memorization = numerics.memorization_ratio(samples, ds.x_train, seed=config["seed"])
    means = np.asarray(trained.params["means"], dtype=np.float64)
    log_variance = float(trained.params["log_variance"])
    params64 = {"means": jnp.asarray(means), "log_variance": jnp.asarray(log_variance, jnp.float64)}
    noise_train, noise_test = _eval_noise(eval_key, ds, config["eval_draws"])
    t_index = config["eval_t_index"]
    losses = _losses(params64, ds, noise_train, noise_test, alphas[t_index], sigmas[t_index])
    write_npz(run_dir / "model.npz", means=means, log_variance=log_variance, samples=samples,
              memorized=memorization.flags, loss_history=trained.loss_history,
              history_epochs=trained.history_epochs, log_variance_history=trained.records["log_variance"],
              log_variance_epochs=trained.record_epochs)
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

    - x_hat_*, x_hat_mem and x_hat_pmem,M (first M training points, SPEC §2) at the grid ``pmem_m_values``,
      on the runs' evaluation noise (common random numbers with the trained models): ``star_*``,
      ``mem_*``, ``pmem_*``.
    - Train set, every M = 1..N: ``memlab.gpu_kernels.mc_excess_losses`` (eq. 13, its own noise):
      ``pmem_all_train_loss`` = L(x_hat_mem) + excess(x_hat_pmem,M), SE of the excess term
      (``pmem_all_train_excess_se``; the shared L(x_hat_mem) term has ``mem_all_train_loss_se``).
    """
    import jax.numpy as jnp

    from memlab import gpu_kernels

    ds, (_, _, _, eval_key, excess_key), alphas, sigmas = _setup(config)
    noise_train, noise_test = _eval_noise(eval_key, ds, config["eval_draws"])
    alpha, sigma = alphas[config["eval_t_index"]], sigmas[config["eval_t_index"]]

    def losses(means, variance):
        return _losses(gpu_kernels.gmm_params(jnp.asarray(means), variance), ds, noise_train, noise_test, alpha, sigma)

    out: dict[str, Any] = {}
    for name, record in (("star", losses(ds.means, ds.sigma2)), ("mem", losses(ds.x_train, 0.0))):
        out.update({f"{name}_{key}": value for key, value in record.items()})
    pmem = [_losses(gpu_kernels.pmem_params(ds.x_train, m), ds, noise_train, noise_test, alpha, sigma,
                    apply=gpu_kernels.pmem_apply)
            for m in config["pmem_m_values"]]  # one compiled kernel for every M
    out["pmem_m"] = list(config["pmem_m_values"])
    for key in ("train_loss", "train_loss_se", "test_loss", "test_loss_se"):
        out[f"pmem_{key}"] = [record[key] for record in pmem]
    excess = gpu_kernels.mc_excess_losses(ds.x_train, ds.means, ds.sigma2, alphas=[alpha], sigmas=[sigma],
                                          draws=config["eval_draws"], key=excess_key, dtype=jnp.float64)
    out["pmem_all_m"] = list(range(1, ds.n + 1))
    out["pmem_all_train_loss"] = (excess.loss_mem[0] + excess.excess_pmem[0]).tolist()
    out["pmem_all_train_excess_se"] = excess.excess_pmem_se[0].tolist()
    out["mem_all_train_loss"] = float(excess.loss_mem[0])
    out["mem_all_train_loss_se"] = float(excess.loss_mem_se[0])
    out["star_all_train_loss"] = float(excess.loss_mem[0] + excess.excess_gen[0])
    out["star_all_train_excess_se"] = float(excess.excess_gen_se[0])
    return out


# ----------------------------------------------------------------------------------------------------
# Command-line settings shared by Figures 2, 6, 7
# ----------------------------------------------------------------------------------------------------


def add_experiment_arguments(parser: argparse.ArgumentParser, *, figure: int, default_seeds: str) -> None:
    """Options shared by Figures 2, 6 and 7: a preset, every number as a flag, output and executor options."""

    exp = parser.add_argument_group("experiment (defaults come from --preset)")
    exp.add_argument("--preset", choices=sorted(PRESETS), default="cpu",
                     help="'cpu': minutes on a laptop (reduced epochs/draws/M grid, faster optimizer settings); "
                          "'paper': App. H.1 (N=200, d=50, K=12, 50,000 epochs, 100 draws; meant for a GPU); "
                          "'paper-small': App. H.1's optimizer and budget at N=20, d=20, K=2 (~0.5 h per model "
                          "on a CPU core). Default: cpu")
    exp.add_argument("--n", type=positive_int, help="training samples N")
    exp.add_argument("--d", type=positive_int, help="dimension d")
    exp.add_argument("--k", type=positive_int, help="true mixture components K")
    exp.add_argument("--sigma2", type=positive_float, help="true component variance sigma_*^2")
    exp.add_argument("--epochs", type=positive_int, help="full-batch Adam steps per model")
    exp.add_argument("--draws", type=positive_int, help="training noise draws per sample and timestep")
    exp.add_argument("--peak-lr", type=positive_float, help="peak learning rate (after warm-up)")
    exp.add_argument("--final-lr", type=positive_float, help="learning rate at the last epoch")
    exp.add_argument("--warmup-fraction", type=float, help="fraction of epochs of linear warm-up from 0")
    exp.add_argument("--adam-b2", type=float, help="Adam's second-moment decay b2")
    exp.add_argument("--m-values", type=positive_int_set, help="model sizes M, comma-separated")
    exp.add_argument("--refine", type=nonnegative_int,
                     help="extra models equally spaced between the start and the end of the transition")
    exp.add_argument("--seeds", type=int_list, default=None,
                     help=f"data/model seeds, comma-separated (default {default_seeds})")
    exp.add_argument("--n-eval", type=positive_int, help="DDIM samples per model for the memorization ratio")
    exp.add_argument("--eval-draws", type=positive_int, help="noise draws per sample for the t_16 losses")
    exp.add_argument("--chunk-size", type=positive_int, help="(sample, draw) points per chunk in training")
    exp.add_argument("--dtype", choices=("float32", "float64"), help="training / sampling precision")
    out = parser.add_argument_group("output and execution")
    out.add_argument("--out", type=Path, default=Path(f"figures/figure{figure}"),
                     help=f"output folder (default figures/figure{figure})")
    out.add_argument("--cache-dir", type=Path, default=Path("figures/cache/phase-transition"),
                     help="sweep cache shared by Figures 2, 3, 6, 7 (default figures/cache/phase-transition)")
    add_executor_arguments(out)
    parser.set_defaults(_default_seeds=default_seeds)


def settings_from_args(args: argparse.Namespace) -> ExperimentSettings:
    preset = dict(PRESETS[args.preset])
    for name in ("n", "d", "k", "sigma2", "epochs", "draws", "peak_lr", "final_lr", "warmup_fraction", "adam_b2",
                 "refine", "n_eval", "eval_draws", "chunk_size", "dtype"):
        value = getattr(args, name, None)
        if value is not None:
            preset[name] = value
    if args.m_values is not None:
        preset["m_values"] = list(args.m_values)
    if not 0 <= preset["warmup_fraction"] <= 1:
        raise InvalidInputError(f"--warmup-fraction must be in [0, 1], got {preset['warmup_fraction']}")
    if not 0 <= preset["adam_b2"] < 1:
        raise InvalidInputError(f"--adam-b2 must be in [0, 1), got {preset['adam_b2']}")
    if preset["n"] < 2:
        raise InvalidInputError("--n must be at least 2 (the memorization criterion needs two training points)")
    seeds = args.seeds if args.seeds is not None else int_list(args._default_seeds)
    if any(s < 0 for s in seeds):
        raise InvalidInputError(f"--seeds must be non-negative, got {seeds}")
    return ExperimentSettings(preset=args.preset, seeds=tuple(dict.fromkeys(seeds)),
                              m_values=tuple(sorted(set(preset.pop("m_values")))), **preset)


# ----------------------------------------------------------------------------------------------------
# Running the sweep and collecting the per-seed tables
# ----------------------------------------------------------------------------------------------------


@dataclass
class SeedResult:
    """One seed's sweep: per-M run results (sorted by M), the baselines and the transition points."""

    seed: int
    m_values: list[int]
    runs: list[dict]
    baselines: dict
    transition: Any  # numerics.PhaseTransition


def _refined(start: int | None, end: int | None, count: int, existing: Sequence[int]) -> list[int]:
    if count <= 0 or start is None or end is None or end - start < 2:
        return []
    grid = np.unique(np.round(np.linspace(start, end, count + 2)[1:-1]).astype(int)).tolist()
    return [m for m in grid if m not in set(existing)]


def run_experiment(s: ExperimentSettings, args: argparse.Namespace) -> list[SeedResult]:
    """Run (or load from the cache) every model and baseline for every seed; refine around the transition."""
    from memlab import _sweep, numerics

    sweep_kwargs = dict(cache_dir=args.cache_dir, executor=args.executor, max_workers=args.workers,
                        submitit_cluster=None if args.submitit_cluster == "auto" else args.submitit_cluster,
                        submitit_parameters=dict(args.submitit_param))

    def sweep(function, configs, desc):
        return _sweep.run_sweep(function, configs, desc=desc, **sweep_kwargs).records

    m_per_seed = {seed: list(s.m_values) for seed in s.seeds}
    configs = [run_config(s, m=m, seed=seed) for seed in s.seeds for m in m_per_seed[seed]]
    configs += [baseline_config(s, seed=seed) for seed in s.seeds]
    records = sweep(RUN_FUNCTION, [c for c in configs if "m" in c], "models")
    baselines = sweep(BASELINE_FUNCTION, [c for c in configs if "m" not in c], "baselines")
    by_key = {(r["config"]["seed"], r["config"]["m"]): r["result"] for r in records}
    if s.refine:
        extra = []
        for seed in s.seeds:
            flags = [by_key[(seed, m)]["memorized_flags"] for m in m_per_seed[seed]]
            transition = numerics.phase_transition(m_per_seed[seed], flags, seed=seed)
            more = _refined(transition.m_start, transition.m_end, s.refine, m_per_seed[seed])
            m_per_seed[seed] = sorted(m_per_seed[seed] + more)
            extra += [run_config(s, m=m, seed=seed) for m in more]
        if extra:
            for r in sweep(RUN_FUNCTION, extra, "refine"):
                by_key[(r["config"]["seed"], r["config"]["m"])] = r["result"]
    results = []
    for seed, baseline in zip(s.seeds, baselines):
        ms = m_per_seed[seed]
        runs = [by_key[(seed, m)] for m in ms]
        transition = numerics.phase_transition(ms, [r["memorized_flags"] for r in runs], seed=seed)
        results.append(SeedResult(seed, ms, runs, baseline["result"], transition))
    return results


def crossover_m_star(s: ExperimentSettings) -> tuple[dict[str, float], str]:
    """M* of the crossover formula (SPEC §4, ``memlab.numerics.crossover``, C = 2) for this N and sigma_*^2.

    Two weightings: ``eps`` (lambda = psi_t, the weighting the models are trained with — with the grid's
    psi up to 1e6 at t = 0.001 it puts M* within 0.002 % of N) and ``x0`` (lambda = 1) for reference.
    The paper's Section 4 instead fits lambda so that M* matches M_pt (App. H.3, Figure 3).
    """
    from memlab.numerics import crossover

    values = {w: float(crossover(s.n, c=2, sigma2=s.sigma2, weighting=w).m_star) for w in ("eps", "x0")}
    return values, ("memlab.numerics.crossover(n, c=2, sigma2, weighting): eq. 14 solved for M on the L=25 grid; "
                    "'eps' is the training weighting lambda = psi_t, 'x0' is lambda = 1")
