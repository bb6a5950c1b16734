"""Training throughput at the paper's shapes (N = 200, d = 50, 26 timesteps x 100 draws), today's step against the
step before issue 13, in the same process; and float32 against float64 where it matters.

Part 1, speed (``--m 50,200,400``): full-batch Adam steps of the M-component GMM denoiser, one compiled block of
``--steps`` steps, best of ``--repeats``, wall and CPU time per step (CPU time: the process's user + system time,
which stays meaningful when other jobs share the machine). "before" is a verbatim copy of the trainer's
loss/gradient at commit 2a6c0d5 (autodiff through the model, all N R points of a timestep in one pass) run by
the same ``_train_block`` structure; "now" is ``gpu_kernels._training._train_block`` (the fused GMM
value-and-gradient, passes of at most 2,048 points on CPU). The FLOP count is the matmul work, 10 M d per
(sample, draw, t) point (forward x.mu and p.mu, backward e.mu, p^T e, dl^T x), against a measured 2048^2 float32
matmul rate.

Part 2, accuracy (``--accuracy``): the `cpu` preset's recipe (1,000 epochs, 1 draw, lr 5e-2, b2 0.9, App. H.1
initialisation) trained in float32 and in float64 from the same initialisation and noise, then 50 DDIM samples
each: per-step loss decrease, final objective, learned variance and memorization ratio (the quantities
Figures 2, 3 and 6 read), float32 against float64.

Run: ``.venv/bin/python benchmarks/bench_training.py [--m 50,200,400] [--steps 3] [--accuracy] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from memlab import gpu_kernels, numerics
from memlab._jaxcfg import enable_float64
from memlab.gpu_kernels import _training

N, D, K, DRAWS = 200, 50, 12, 100


# ------------------------------------------------------------------------------------------------------------
# The step before issue 13 (commit 2a6c0d5; its stored-noise branch), kept for the comparison: autodiff through
# ``apply``, one pass over each chunk (chunk_size None: all N R points of a timestep).
# ------------------------------------------------------------------------------------------------------------

def _baseline_loss_and_grad(apply, config, params, x_train, noise, *, with_grad=True):
    n, _ = x_train.shape
    dtype = x_train.dtype
    layout = _training._layout(config, n)
    _, alphas, sigmas, weights = config.grid()
    alphas = jnp.asarray(alphas, dtype)
    sigmas = jnp.asarray(sigmas, dtype)
    scales = jnp.asarray(weights / (layout.n_times * layout.points), dtype)
    offsets = jnp.arange(layout.chunk)

    def chunk_body(carry, index):
        t = index // layout.n_chunks
        start = (index % layout.n_chunks) * layout.chunk
        points = start + offsets
        valid = points < layout.points
        x0 = x_train[jnp.minimum(points // layout.draws, n - 1)]
        z = jax.lax.dynamic_slice_in_dim(noise[t], start, layout.chunk, axis=0)
        alpha, sigma = alphas[t], sigmas[t]

        def chunk_loss(p):
            err = apply(p, alpha * x0 + sigma * z, alpha, sigma) - x0
            return scales[t] * jnp.sum(jnp.where(valid, jnp.sum(err * err, axis=-1), 0.0))

        if with_grad:
            value, grad = jax.value_and_grad(chunk_loss)(params)
            return (carry[0] + value, jax.tree_util.tree_map(jnp.add, carry[1], grad)), None
        return (carry[0] + chunk_loss(params), carry[1]), None

    init = (jnp.zeros((), dtype), jax.tree_util.tree_map(jnp.zeros_like, params) if with_grad else None)
    (loss, grad), _ = jax.lax.scan(chunk_body, init, jnp.arange(layout.n_times * layout.n_chunks))
    return loss, grad


@functools.partial(jax.jit, static_argnames=("apply", "config", "length"))
def _baseline_train_block(params, opt_state, x_train, noise, active_steps, *, apply, config, length):
    """``_training._train_block`` of commit 2a6c0d5 (stored noise), for one run axis of size S."""
    optimizer = _training._optimizer(config)

    def one_run(params, opt_state, x_train, noise):
        def step(carry, index):
            params, opt_state = carry
            loss, grad = _baseline_loss_and_grad(apply, config, params, x_train, noise)
            updates, new_opt_state = optimizer.update(grad, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            keep = index < active_steps
            new_carry = jax.tree_util.tree_map(lambda new, old: jnp.where(keep, new, old),
                                               (new_params, new_opt_state), (params, opt_state))
            return new_carry, loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), jnp.arange(length))
        end_loss = _baseline_loss_and_grad(apply, config, params, x_train, noise, with_grad=False)[0]
        return params, opt_state, losses, end_loss

    return jax.vmap(one_run)(params, opt_state, x_train, noise)


# ------------------------------------------------------------------------------------------------------------
# Part 1: speed
# ------------------------------------------------------------------------------------------------------------

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


def _timed(fn, repeats: int) -> tuple[float, float, object]:
    """Best (wall, CPU) seconds of ``fn()`` over ``repeats`` runs, and its last output."""
    best_wall, best_cpu, out = np.inf, np.inf, None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        out = jax.block_until_ready(fn())
        best_wall, best_cpu = min(best_wall, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
    return best_wall, best_cpu, out


def bench_m(m: int, *, steps: int, repeats: int) -> dict:
    ds = numerics.make_gmm_dataset(d=D, k=K, n=N, seed=0)
    x = jnp.asarray(ds.x_train, jnp.float32)[None]
    config = gpu_kernels.TrainConfig(epochs=steps, draws=DRAWS, block_epochs=steps, store_noise=True)
    params = jax.tree_util.tree_map(lambda leaf: leaf[None], gpu_kernels.partial_memorization_init(
        ds.x_train, m, key=jax.random.key(1), dtype=jnp.float32))
    keys = jax.random.key(2)[None]
    noise = jnp.asarray(_training._stored_noise_for_runs(keys, _training._layout(config, N), D, jnp.float32))
    opt_state = _training._init_opt_state(params, config=config)
    now = functools.partial(_training._train_block, params, opt_state, x, keys, noise, jnp.asarray(steps),
                            apply=gpu_kernels.gmm_apply, config=config, length=steps)
    before = functools.partial(_baseline_train_block, params, opt_state, x, noise, jnp.asarray(steps),
                               apply=gpu_kernels.gmm_apply, config=config, length=steps)
    compile_s = {}
    for name, fn in (("before", before), ("now", now)):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())  # compile + warm-up
        compile_s[name] = time.perf_counter() - t0
    results = {}
    for _ in range(repeats):  # interleaved, so that both see the same machine load
        for name, fn in (("before", before), ("now", now)):
            wall, cpu, out = _timed(fn, 1)
            prev = results.get(name)
            results[name] = (min(wall, prev[0]) if prev else wall, min(cpu, prev[1]) if prev else cpu, out)
    per_step = steps + 1 / 3  # a block also evaluates the objective once at its end (~1/3 of a step)
    row = {"m": m, "flop_per_step": 10.0 * m * D * N * DRAWS * 26}
    for name in ("before", "now"):
        wall, cpu, out = results[name]
        row[f"{name}_wall_s"], row[f"{name}_cpu_s"] = wall / per_step, cpu / per_step
        row[f"{name}_losses"] = np.asarray(out[2][0]).tolist()
        row[f"{name}_compile_s"] = compile_s[name]
    row["speedup_wall"] = row["before_wall_s"] / row["now_wall_s"]
    row["speedup_cpu"] = row["before_cpu_s"] / row["now_cpu_s"]
    row["max_rel_loss_difference"] = float(np.max(np.abs(np.subtract(row["now_losses"], row["before_losses"]))
                                                  / np.abs(row["before_losses"])))
    return row


# ------------------------------------------------------------------------------------------------------------
# Part 2: float32 against float64
# ------------------------------------------------------------------------------------------------------------

def accuracy_m(m: int, *, epochs: int) -> dict:
    """The `cpu` preset recipe in float32 and float64 (same init, same noise): what the figures read."""
    ds = numerics.make_gmm_dataset(d=D, k=K, n=N, n_test=0, seed=0)
    config = gpu_kernels.TrainConfig(epochs=epochs, draws=1, peak_lr=5e-2, final_lr=1e-6, warmup_fraction=0.1,
                                     adam_b2=0.9, history_points=epochs)
    grid = numerics.timestep_grid(config.steps)
    alphas, sigmas, _ = numerics.schedule_coefficients(grid, config.schedule)
    out = {"m": m, "epochs": epochs}
    x_init = gpu_kernels.host_generator(jax.random.key(7)).standard_normal((50, D))
    for dtype in (jnp.float32, jnp.float64):
        params = gpu_kernels.partial_memorization_init(ds.x_train, m, key=jax.random.key(1), dtype=dtype)
        trained = gpu_kernels.train(gpu_kernels.gmm_apply, params, jnp.asarray(ds.x_train, dtype), config=config,
                                    key=jax.random.key(2), show_progress=False)
        samples = np.asarray(gpu_kernels.ddim_sample_model(gpu_kernels.gmm_apply, trained.params,
                                                           jnp.asarray(x_init, dtype), alphas=alphas, sigmas=sigmas),
                             dtype=np.float64)
        ratio = numerics.memorization_ratio(samples, ds.x_train, seed=0)
        name = jnp.dtype(dtype).name
        out[name] = {"loss_history": np.asarray(trained.loss_history, np.float64),
                     "final_loss": float(trained.final_loss),
                     "variance": float(np.exp(float(trained.params["log_variance"]))),
                     "memorization_ratio": float(ratio.ratio), "flags": np.asarray(ratio.flags)}
    f32, f64 = out["float32"], out["float64"]
    decrease32, decrease64 = -np.diff(f32["loss_history"]), -np.diff(f64["loss_history"])
    scale = np.abs(f64["loss_history"][1:])
    return {
        "m": m, "epochs": epochs,
        "max_rel_loss_difference": float(np.max(np.abs(f32["loss_history"] - f64["loss_history"])
                                                / np.abs(f64["loss_history"]))),
        "max_step_decrease_difference_rel_to_loss": float(np.max(np.abs(decrease32 - decrease64) / scale)),
        "steps_with_opposite_sign_of_decrease": int(np.sum(np.sign(decrease32) != np.sign(decrease64))),
        "final_loss_f32": f32["final_loss"], "final_loss_f64": f64["final_loss"],
        "variance_f32": f32["variance"], "variance_f64": f64["variance"],
        "memorization_ratio_f32": f32["memorization_ratio"], "memorization_ratio_f64": f64["memorization_ratio"],
        "samples_with_different_flag": int(np.sum(f32["flags"] != f64["flags"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="Adam steps per timed block")
    parser.add_argument("--repeats", type=int, default=3, help="timed blocks per implementation (best is kept)")
    parser.add_argument("--m", default="50,200,400", help="model sizes M for the speed part ('' to skip)")
    parser.add_argument("--accuracy", action="store_true", help="also run part 2 (float32 against float64)")
    parser.add_argument("--accuracy-m", default="50,200,400", help="model sizes M for part 2")
    parser.add_argument("--accuracy-epochs", type=int, default=1000)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    load = os.getloadavg()
    device = jax.devices()[0]
    print(f"device: {device.platform} {device.device_kind} x{len(jax.devices())}; cpus: {os.cpu_count()}; "
          f"jax {jax.__version__}; {platform.processor() or platform.machine()}; load average before: "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    report = {"device": str(device), "load_before": load}
    if args.m:
        rate = matmul_rate()
        report["matmul_gflops"] = rate / 1e9
        print(f"float32 matmul rate (2048^2): {rate / 1e9:.1f} GFLOP/s\n")
        print("| M | GFLOP/step | before: s/step (wall / CPU) | now: s/step (wall / CPU) | speed-up (wall / CPU) | "
              "now: GFLOP/s, fraction of matmul rate | max rel. loss difference |")
        print("|---|---|---|---|---|---|---|")
        rows = []
        for m in (int(v) for v in args.m.split(",")):
            r = bench_m(m, steps=args.steps, repeats=args.repeats)
            rows.append(r)
            gflops = r["flop_per_step"] / r["now_wall_s"] / 1e9
            print(f"| {m} | {r['flop_per_step'] / 1e9:.1f} | {r['before_wall_s']:.3f} / {r['before_cpu_s']:.3f} | "
                  f"{r['now_wall_s']:.3f} / {r['now_cpu_s']:.3f} | "
                  f"{r['speedup_wall']:.2f}x / {r['speedup_cpu']:.2f}x | "
                  f"{gflops:.1f}, {gflops * 1e9 / rate:.2f} | {r['max_rel_loss_difference']:.1e} |", flush=True)
        report["speed"] = rows
    if args.accuracy:
        enable_float64()
        print("\n| M | max rel. loss difference (f32 vs f64, every step) | max diff. of per-step decrease / loss | "
              "steps whose decrease changes sign | final objective f32 / f64 | variance f32 / f64 | "
              "memorization ratio f32 / f64 (samples flagged differently) |")
        print("|---|---|---|---|---|---|---|")
        rows = []
        for m in (int(v) for v in args.accuracy_m.split(",")):
            r = accuracy_m(m, epochs=args.accuracy_epochs)
            rows.append(r)
            print(f"| {m} | {r['max_rel_loss_difference']:.1e} | {r['max_step_decrease_difference_rel_to_loss']:.1e} | "
                  f"{r['steps_with_opposite_sign_of_decrease']} / {r['epochs'] - 1} | "
                  f"{r['final_loss_f32']:.6g} / {r['final_loss_f64']:.6g} | {r['variance_f32']:.4g} / "
                  f"{r['variance_f64']:.4g} | {r['memorization_ratio_f32']:.2f} / {r['memorization_ratio_f64']:.2f} "
                  f"({r['samples_with_different_flag']}) |", flush=True)
        report["accuracy"] = rows
    load_after = os.getloadavg()
    report["load_after"] = load_after
    print(f"\nload average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2, default=float)


if __name__ == "__main__":
    main()
