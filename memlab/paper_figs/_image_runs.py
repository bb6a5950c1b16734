"""Cached sweep runs of the simple image model (Figure 5): one trained model per M, and the baselines.

Run functions have the :mod:`memlab._sweep` signature ``fn(config: dict, run_dir: Path) -> dict``; every input
that changes a number is in ``config`` (so the cache key changes with it). Evaluation is float64 (NumPy
references, JAX float64 for DDIM); training runs in ``config["dtype"]``.

Common random numbers: every model and baseline of one sweep is evaluated on the same noise draws and
the same DDIM starting points (both derived from the data seed), so differences between them are not
Monte Carlo noise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from memlab import gpu_kernels, numerics
from memlab._io import write_npz
from memlab._jaxcfg import float64_scope
from memlab._readers import file_digest
from memlab._sweep import CHECKPOINT_FILE
from memlab.paper_figs._recipes import train_config
from memlab.paper_figs._settings import ImageDataSettings

__all__ = [
    "dataset_config",
    "dataset_from_config",
    "evaluate_baselines",
    "evaluation_noise",
    "image_excess_losses",
    "rank_c_generalizing_excess",
    "train_and_evaluate",
]

_EVAL_NOISE_STREAM = 7  # np.random.SeedSequence([seed, stream]) streams used for evaluation
_TEST_NOISE_STREAM = 8
_DDIM_STREAM = 9


def dataset_config(data: ImageDataSettings) -> dict[str, Any]:
    """The data part of a run config (a user file is identified by its content hash too)."""
    config: dict[str, Any] = {
        "templates": data.templates,
        "side": data.side,
        "k": data.k,
        "n": data.n,
        "n_test": data.held_out,
        "channels": data.channels,
        "color_mean": list(data.color_mean),
        "color_var": data.color_var,
        "seed": data.seed,
    }
    if data.templates != "digits":
        config["templates_sha256"] = file_digest(data.templates, "template file")
    return config


def dataset_from_config(config: dict) -> numerics.ImageDataset:
    mean = config["color_mean"]
    return numerics.make_image_dataset(
        k=config["k"],
        n=config["n"],
        n_test=config["n_test"],
        side=config["side"],
        channels=config["channels"],
        color_mean=mean if len(mean) > 1 else mean[0],
        color_var=config["color_var"],
        seed=config["seed"],
        source=config["templates"],
    )


def evaluation_noise(config: dict, dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train noise (N, R, d), test noise (N_test, R, d), DDIM starting points (n_eval, d)), all N(0, 1)."""
    seed, draws = config["seed"], config["eval_draws"]
    train = np.random.default_rng([seed, _EVAL_NOISE_STREAM]).standard_normal((dataset.n, draws, dataset.d))
    test = np.random.default_rng([seed, _TEST_NOISE_STREAM]).standard_normal(
        (dataset.x_test.shape[0], draws, dataset.d)
    )
    x_init = np.random.default_rng([seed, _DDIM_STREAM]).standard_normal((config["n_eval"], dataset.d))
    return train, test, x_init


def _coefficients(config: dict) -> tuple[float, float, float]:
    t = float(numerics.timestep_grid()[config["t_index"]])
    alpha, sigma, _psi = numerics.schedule_coefficients(t)
    return t, float(alpha), float(sigma)


def _losses(denoise, dataset, train_noise, test_noise, alpha, sigma) -> dict:
    """Eq. 6 per-time losses (x0 units) on the training and the held-out set, with standard errors."""
    out: dict[str, Any] = {}
    train = numerics.per_time_loss(denoise, dataset.x_train, alpha=alpha, sigma=sigma, noise=train_noise)
    out.update(train_loss=train.mean, train_loss_se=train.se)
    if dataset.x_test.shape[0]:
        test = numerics.per_time_loss(denoise, dataset.x_test, alpha=alpha, sigma=sigma, noise=test_noise)
        out.update(test_loss=test.mean, test_loss_se=test.se)
    return out


def _ddim(apply, params, x_init) -> np.ndarray:
    alphas, sigmas, _ = numerics.schedule_coefficients(numerics.timestep_grid())
    return np.asarray(
        gpu_kernels.ddim_sample_model(apply, params, jnp.asarray(x_init, jnp.float64), alphas=alphas, sigmas=sigmas),
        np.float64,
    )


def _ratio(samples, dataset, seed) -> dict:
    result = numerics.memorization_ratio(samples, dataset.x_train)
    return {
        "ratio": result.ratio,
        "ratio_ci_low": result.ci_low,
        "ratio_ci_high": result.ci_high,
        "memorized_flags": result.flags.astype(int).tolist(),
    }


def memorizing_apply(params, x, alpha, sigma):
    """The memorizing denoiser (eq. 7) as a model ``apply(params={"train": (N, d)}, x, alpha, sigma)``."""
    return gpu_kernels.memorizing_denoiser(x, alpha=alpha, sigma=sigma, train=params["train"])


def _record_color_var(params) -> dict:
    """The learned log colour variance after every training block (training curves)."""
    return {"log_color_var": params["log_color_var"]}


def train_and_evaluate(config: dict, run_dir: Path) -> dict:
    """Train the M-component image model (App. H.1) and evaluate it at t_{t_index}.

    config: the data fields of :func:`dataset_config` plus ``m``, ``epochs``, ``draws``, ``peak_lr``,
    ``final_lr``, ``warmup_fraction``, ``adam_b2``, ``chunk_size``, ``dtype``, ``eval_draws``, ``n_eval``, ``t_index``.
    Checkpoints and resumes like :func:`memlab.paper_figs._phase_transition.train_and_evaluate`; ``model.npz``
    holds the learned log colour variance after every block (``log_color_var_history`` at ``log_color_var_epochs``).
    """
    with float64_scope():
        return _train_and_evaluate(config, run_dir)


def _train_and_evaluate(config: dict, run_dir: Path) -> dict:
    dataset = dataset_from_config(config)
    dtype = jnp.dtype(config["dtype"])
    key = jax.random.fold_in(jax.random.key(config["seed"]), config["m"])
    init_key, noise_key = jax.random.split(key)
    params = gpu_kernels.init_image_model(
        key=init_key,
        m=config["m"],
        templates=dataset.templates,
        labels_train=dataset.labels_train,
        colors_train=dataset.colors_train,
        dtype=dtype,
    )
    checkpoint = run_dir / CHECKPOINT_FILE  # a killed run resumes here; the sweep removes it once finished
    result = gpu_kernels.train(
        gpu_kernels.image_model_apply,
        params,
        jnp.asarray(dataset.x_train, dtype),
        config=train_config(config),
        key=noise_key,
        desc=f"training M={config['m']}",
        record=_record_color_var,
        **gpu_kernels.resumable(checkpoint),
    )
    learned = {k: np.asarray(v, np.float64) for k, v in result.params.items()}
    color_var = float(np.exp(learned["log_color_var"]))
    _, alpha, sigma = _coefficients(config)
    train_noise, test_noise, x_init = evaluation_noise(config, dataset)

    def denoise(x):
        return numerics.low_rank_image_denoiser(
            x,
            alpha=alpha,
            sigma=sigma,
            templates=learned["templates"],
            color_means=learned["color_means"],
            color_var=color_var,
        )

    out = _losses(denoise, dataset, train_noise, test_noise, alpha, sigma)
    samples = _ddim(gpu_kernels.image_model_apply, {k: jnp.asarray(v) for k, v in learned.items()}, x_init)
    out.update(_ratio(samples, dataset, config["seed"]))
    out.update(
        learned_color_var=color_var,
        final_objective=float(result.final_loss),
        train_seconds=float(result.seconds),
        mean_template_norm=float(np.mean(np.linalg.norm(learned["templates"], axis=1))),
    )
    write_npz(
        run_dir / "model.npz",
        templates=learned["templates"],
        color_means=learned["color_means"],
        log_color_var=learned["log_color_var"],
        samples=samples,
        loss_history=result.loss_history,
        history_epochs=result.history_epochs,
        log_color_var_history=result.records["log_color_var"],
        log_color_var_epochs=result.record_epochs,
    )
    return out


def evaluate_baselines(config: dict, run_dir: Path) -> dict:
    """The exact (x_*), memorizing (x_mem) and partially memorizing (first M samples, each M in ``ms``) denoisers.

    config: the data fields plus ``ms``, ``eval_draws``, ``n_eval``, ``t_index``. Returns losses and
    memorization ratios; per-M values are lists aligned with ``ms``.
    """
    with float64_scope():
        return _evaluate_baselines(config, run_dir)


def _evaluate_baselines(config: dict, run_dir: Path) -> dict:
    dataset = dataset_from_config(config)
    _, alpha, sigma = _coefficients(config)
    train_noise, test_noise, x_init = evaluation_noise(config, dataset)
    out: dict = {}

    def exact(x):
        return numerics.low_rank_image_denoiser(
            x,
            alpha=alpha,
            sigma=sigma,
            templates=dataset.templates,
            color_means=dataset.color_mean,
            color_var=dataset.color_var,
        )

    def memorizing(x):
        return numerics.memorizing_denoiser(x, alpha=alpha, sigma=sigma, train=dataset.x_train)

    exact_params = {
        "templates": jnp.asarray(dataset.templates),
        "color_means": jnp.asarray(np.broadcast_to(dataset.color_mean, (dataset.k, dataset.channels))),
        "log_color_var": jnp.log(jnp.asarray(dataset.color_var)),
    }
    samples = {}
    for name, denoise, apply, params in (
        ("exact", exact, gpu_kernels.image_model_apply, exact_params),
        ("mem", memorizing, memorizing_apply, {"train": jnp.asarray(dataset.x_train)}),
    ):
        losses = _losses(denoise, dataset, train_noise, test_noise, alpha, sigma)
        samples[name] = _ddim(apply, params, x_init)
        ratio = _ratio(samples[name], dataset, config["seed"])
        out.update({f"{name}_{k}": v for k, v in {**losses, **ratio}.items()})
    per_m: dict[str, list] = {}
    for m in config["ms"]:
        m_eff = min(int(m), dataset.n)

        def pmem(x, m_eff=m_eff):
            return numerics.partial_memorizing_denoiser(x, alpha=alpha, sigma=sigma, train=dataset.x_train, m=m_eff)

        losses = _losses(pmem, dataset, train_noise, test_noise, alpha, sigma)
        pm_samples = _ddim(memorizing_apply, {"train": jnp.asarray(dataset.x_train[:m_eff])}, x_init)
        ratio = _ratio(pm_samples, dataset, config["seed"])
        for k, v in {**losses, "ratio": ratio["ratio"]}.items():
            per_m.setdefault(f"pmem_{k}", []).append(v)
    out.update(per_m)
    write_npz(run_dir / "baselines.npz", **{f"samples_{k}": v for k, v in samples.items()})
    return out


def rank_c_generalizing_excess(dataset, *, alpha: float, sigma: float) -> float:
    """Theorem 3.1's leading term for the image model: mean over the training samples of the posterior variance
    of their own component (:func:`memlab.numerics.low_rank_posterior_variance`)."""
    traces = numerics.low_rank_posterior_variance(
        dataset.templates, alpha=alpha, sigma=sigma, color_var=dataset.color_var, channels=dataset.channels
    )
    return float(np.mean(traces[dataset.labels_train]))


def image_excess_losses(config: dict, run_dir: Path) -> dict:
    """Excess losses over x_mem (eq. 13, common random numbers) on every grid time: x_* and x_pmem,M for every M.

    config: the data fields plus ``ms`` (the M values put in the table) and ``excess_draws`` (R).
    The memorizing loss and the excess of x_pmem,M for every M = 1..N come from the Monte Carlo engine's
    all-M kernel (:func:`memlab.gpu_kernels.mc_excess_losses`, float64; it only needs the training set);
    the excess of the image model's exact denoiser x_* from the float64 reference estimator
    :func:`memlab.numerics.excess_loss` on the same noise draws (:func:`memlab.gpu_kernels.noise_draws`:
    the same Z at every t, as the engine uses). Full (T, N) arrays go to ``excess.npz``.
    """
    with float64_scope():
        return _image_excess_losses(config, run_dir)


def _image_excess_losses(config: dict, run_dir: Path) -> dict:
    dataset = dataset_from_config(config)
    grid = numerics.timestep_grid()
    alphas, sigmas, psis = numerics.schedule_coefficients(grid)
    draws = int(config["excess_draws"])
    key = jax.random.fold_in(jax.random.key(config["seed"]), 11)
    # The engine's x_* is the isotropic eq. 11 (not this model's): its excess_gen column is not used.
    engine = gpu_kernels.mc_excess_losses(
        dataset.x_train,
        dataset.component_means,
        dataset.color_var,
        alphas=alphas,
        sigmas=sigmas,
        draws=draws,
        key=key,
        dtype=jnp.float64,
    )
    noise = np.asarray(
        gpu_kernels.noise_draws(key, jnp.arange(dataset.n), jnp.arange(draws), d=dataset.d, dtype=jnp.float64)
    )
    ms = [min(int(m), dataset.n) for m in config["ms"]]
    rows, gen_mean, gen_se = [], [], []
    for index, (t, alpha, sigma, psi) in enumerate(zip(grid, alphas, sigmas, psis)):
        alpha, sigma = float(alpha), float(sigma)

        def exact(x, alpha=alpha, sigma=sigma):
            return numerics.low_rank_image_denoiser(
                x,
                alpha=alpha,
                sigma=sigma,
                templates=dataset.templates,
                color_means=dataset.color_mean,
                color_var=dataset.color_var,
            )

        gen = numerics.excess_loss(exact, dataset.x_train, alpha=alpha, sigma=sigma, noise=noise)
        gen_mean.append(gen.mean)
        gen_se.append(gen.se)
        rows.append(
            {
                "t": float(t),
                "psi": float(psi),
                "loss_mem": float(engine.loss_mem[index]),
                "loss_mem_se": float(engine.loss_mem_se[index]),
                "excess_gen": gen.mean,
                "excess_gen_se": gen.se,
                "excess_gen_rank_c": rank_c_generalizing_excess(dataset, alpha=alpha, sigma=sigma),
                "excess_pmem": [float(engine.excess_pmem[index, m - 1]) for m in ms],
                "excess_pmem_se": [float(engine.excess_pmem_se[index, m - 1]) for m in ms],
            }
        )
    write_npz(
        run_dir / "excess.npz",
        t=grid,
        psi=psis,
        loss_mem=engine.loss_mem,
        loss_mem_se=engine.loss_mem_se,
        excess_pmem=engine.excess_pmem,
        excess_pmem_se=engine.excess_pmem_se,
        excess_gen=np.array(gen_mean),
        excess_gen_se=np.array(gen_se),
    )
    return {"rows": rows}
