"""One Figure 2 model at the `paper` preset (App. H.1), timed: train, sample, measure memorization.

N = 200, d = 50, K = 12 synthetic data; an M-component GMM denoiser from the partial-memorization
initialisation, 50,000 full-batch Adam epochs over 26 timesteps x 100 draws (float32), then 50 DDIM samples
and their memorization ratio (the quantities Figure 2 plots). Reports the training wall time, seconds per
step, the achieved GFLOP/s (10 M d FLOPs per point and step) and the results. Meant for a GPU
(``benchmarks/gpu_benchmark.sh``); ``--epochs`` shortens it for a CPU smoke test.

Run: ``python benchmarks/bench_figure2_model.py [--m 200] [--epochs 50000] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from memlab import gpu_kernels, numerics
from memlab._jaxcfg import device_summary
from memlab.paper_figs import preset


def main() -> None:
    settings = preset(2, "paper")
    recipe = settings.recipe
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=recipe.epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    load = os.getloadavg()
    ds = numerics.make_gmm_dataset(d=settings.d, k=settings.k, n=settings.n, sigma2=settings.sigma2, seed=args.seed)
    config = gpu_kernels.TrainConfig(
        epochs=args.epochs,
        draws=recipe.draws,
        peak_lr=recipe.peak_lr,
        final_lr=recipe.final_lr,
        warmup_fraction=recipe.warmup_fraction,
        adam_b2=recipe.adam_b2,
        chunk_size=recipe.chunk_size,
    )
    init_key, noise_key, sample_key = jax.random.split(jax.random.key(args.seed), 3)
    params = gpu_kernels.partial_memorization_init(ds.x_train, args.m, key=init_key, dtype=jnp.float32)
    start = time.perf_counter()
    trained = gpu_kernels.train(
        gpu_kernels.gmm_apply,
        params,
        jnp.asarray(ds.x_train, jnp.float32),
        config=config,
        key=noise_key,
        desc=f"paper preset, M={args.m}",
    )
    train_s = time.perf_counter() - start
    _, alphas, sigmas, _ = config.grid()
    x_init = jnp.asarray(gpu_kernels.host_generator(sample_key).standard_normal((recipe.n_eval, ds.d)), jnp.float32)
    start = time.perf_counter()
    samples = np.asarray(
        gpu_kernels.ddim_sample_model(gpu_kernels.gmm_apply, trained.params, x_init, alphas=alphas, sigmas=sigmas),
        dtype=np.float64,
    )
    sample_s = time.perf_counter() - start
    ratio = numerics.memorization_ratio(samples, ds.x_train, seed=args.seed)
    flop_per_step = 10.0 * args.m * ds.d * ds.n * recipe.draws * (config.steps + 1)
    report = {
        "device": device_summary(),
        "load_before": load,
        "m": args.m,
        "epochs": args.epochs,
        "train_s": train_s,
        "s_per_step": train_s / args.epochs,
        "gflops": flop_per_step * args.epochs / train_s / 1e9,
        "sample_s": sample_s,
        "final_objective": float(trained.final_loss),
        "learned_variance": float(np.exp(float(trained.params["log_variance"]))),
        "memorization_ratio": float(ratio.ratio),
        "memorization_ci": [float(ratio.ci_low), float(ratio.ci_high)],
    }
    print(
        f"paper preset, M={args.m}, {args.epochs} epochs on {jax.default_backend()}: training {train_s:.1f} s "
        f"({report['s_per_step'] * 1e3:.2f} ms/step, {report['gflops']:.0f} GFLOP/s incl. compilation), "
        f"sampling {sample_s:.2f} s; objective {report['final_objective']:.5g}, variance "
        f"{report['learned_variance']:.4g}, memorization ratio {report['memorization_ratio']:.2f} "
        f"[{ratio.ci_low:.2f}, {ratio.ci_high:.2f}]"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
