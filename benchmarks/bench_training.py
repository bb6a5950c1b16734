"""Training throughput at the paper's shapes: N = 200, d = 50, M in {50, 200, 400}, 26 timesteps x 100 draws.

For each M: full-batch Adam steps per second (one compiled block of steps, compilation excluded), the
FLOPs of one step (analytic count of the matmul work, and XLA's cost analysis — which counts a loop body
once, so its count for one chunk is multiplied by the 26 chunks of a step), and the achieved
fraction of a measured float32 matmul rate on the same device. Prints a Markdown table; ``--json PATH``
also writes the numbers. Run: ``.venv/bin/python benchmarks/bench_training.py [--steps 3] [--m 50,200,400]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from memlab import gpu_kernels, numerics
from memlab.gpu_kernels import _training


def analytic_flops_per_step(n: int, draws: int, times: int, m: int, d: int) -> float:
    """Dominant matmul FLOPs of one step: per (sample, draw, t) point the forward pass does x @ means^T and
    posterior @ means (2 x 2Md), the backward pass grad(means) of both and grad(posterior) (3 x 2Md): 10 M d."""
    return 10.0 * m * d * n * draws * times


def matmul_rate(dtype=jnp.float32, size: int = 2048, repeats: int = 5) -> float:
    """Measured FLOP/s of a square matmul on the default device (best of ``repeats``)."""
    a = jax.random.normal(jax.random.key(0), (size, size), dtype)
    b = jax.random.normal(jax.random.key(1), (size, size), dtype)
    f = jax.jit(lambda x, y: x @ y)
    f(a, b).block_until_ready()
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(a, b).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * size**3 / best


def bench_one(m: int, *, steps: int, n: int = 200, d: int = 50, draws: int = 100, chunk_size=None) -> dict:
    ds = numerics.make_gmm_dataset(d=d, k=12, n=n, seed=0)
    x = jnp.asarray(ds.x_train, jnp.float32)
    config = gpu_kernels.TrainConfig(epochs=steps, draws=draws, block_epochs=steps, chunk_size=chunk_size,
                                     store_noise=True)
    params = gpu_kernels.partial_memorization_init(ds.x_train, m, key=jax.random.key(1), dtype=jnp.float32)
    stacked = jax.tree_util.tree_map(lambda leaf: leaf[None], params)
    keys = jax.random.key(2)[None]
    layout = _training._layout(config, n)
    noise = jnp.asarray(_training._stored_noise_for_runs(keys, layout, d, jnp.float32))
    opt_state = _training._init_opt_state(stacked, config=config)
    args = (stacked, opt_state, x[None], keys, noise, jnp.asarray(steps))
    kwargs = dict(apply=gpu_kernels.gmm_apply, config=config, length=steps)
    t0 = time.perf_counter()
    compiled = _training._train_block.lower(*args, **kwargs).compile()
    compile_s = time.perf_counter() - t0
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    xla_flops = float(cost.get("flops", float("nan"))) if cost else float("nan")
    jax.block_until_ready(compiled(*args))  # warm-up
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        best = min(best, time.perf_counter() - t0)
    # the block also evaluates the loss once at the end (value only, ~1/3 of a step): remove it from the rate
    step_seconds = best / (steps + 1 / 3)
    flops = analytic_flops_per_step(n, draws, 26, m, d)
    # XLA's cost analysis counts a loop body once: the block's count is one chunk (one t) of one step, so x 26
    return {"m": m, "steps_per_second": 1.0 / step_seconds, "seconds_per_step": step_seconds, "compile_seconds": compile_s,
            "analytic_gflop_per_step": flops / 1e9, "xla_gflop_per_step": 26 * xla_flops / 1e9,
            "achieved_gflops": flops / step_seconds / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="Adam steps per timed block")
    parser.add_argument("--m", default="50,200,400", help="model sizes M")
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    load = os.getloadavg()
    rate = matmul_rate()
    rows = [bench_one(int(m), steps=args.steps, draws=args.draws) for m in args.m.split(",")]
    device = jax.devices()[0]
    print(f"device: {device.platform} {device.device_kind} x{len(jax.devices())}; cpus: {os.cpu_count()}; "
          f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; jax {jax.__version__}; "
          f"{platform.processor() or platform.machine()}")
    print(f"measured float32 matmul rate (2048^2): {rate / 1e9:.1f} GFLOP/s")
    print(f"shapes: N=200, d=50, 26 t x {args.draws} draws = {200 * 26 * args.draws:,} points per step, float32\n")
    print("| M | steps/s | s/step | GFLOP/step (10·M·d per point) | XLA cost-analysis GFLOP/step | achieved GFLOP/s | "
          "fraction of matmul rate | compile s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['m']} | {r['steps_per_second']:.3f} | {r['seconds_per_step']:.2f} | {r['analytic_gflop_per_step']:.1f} | "
              f"{r['xla_gflop_per_step']:.1f} | {r['achieved_gflops']:.1f} | {r['achieved_gflops'] * 1e9 / rate:.2f} | "
              f"{r['compile_seconds']:.1f} |")
    load_after = os.getloadavg()
    print(f"\nload average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"matmul_gflops": rate / 1e9, "rows": rows, "load_before": load, "load_after": load_after,
                       "device": str(device)}, fh, indent=2)


if __name__ == "__main__":
    main()
