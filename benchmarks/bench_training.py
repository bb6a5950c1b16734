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

Part 2, accuracy (``--accuracy``): float32 against float64, for today's step and the one before. (1) One step's
loss decrease from float64 states (after every tenth of a `gmm-cpu` run, and the App. H.1 initialisation at the
paper's shapes), measured with the float64 objective. (2) The `gmm-cpu` recipe (1,000 epochs, 1 draw, lr 5e-2,
b2 0.9) trained to the end from the same initialisation and noise, then 50 DDIM samples: final objective,
learned variance and memorization ratio (what Figures 2, 3 and 6 read). The recipe's large steps make the
trajectories chaotic, so per-epoch losses of two precisions drift apart; (1) isolates a step's rounding.

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
from memlab.paper_figs import RECIPES

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
            new_carry = jax.tree_util.tree_map(
                lambda new, old: jnp.where(keep, new, old), (new_params, new_opt_state), (params, opt_state)
            )
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
    params = jax.tree_util.tree_map(
        lambda leaf: leaf[None],
        gpu_kernels.partial_memorization_init(ds.x_train, m, key=jax.random.key(1), dtype=jnp.float32),
    )
    keys = jax.random.key(2)[None]
    noise = jnp.asarray(_training._stored_noise_for_runs(keys, _training._layout(config, N), D, jnp.float32))
    opt_state = _training._init_opt_state(params, config=config)
    now = functools.partial(
        _training._train_block,
        params,
        opt_state,
        x,
        keys,
        noise,
        jnp.asarray(steps),
        apply=gpu_kernels.gmm_apply,
        config=config,
        length=steps,
    )
    before = functools.partial(
        _baseline_train_block,
        params,
        opt_state,
        x,
        noise,
        jnp.asarray(steps),
        apply=gpu_kernels.gmm_apply,
        config=config,
        length=steps,
    )
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
    row["max_rel_loss_difference"] = float(
        np.max(np.abs(np.subtract(row["now_losses"], row["before_losses"])) / np.abs(row["before_losses"]))
    )
    return row


# ------------------------------------------------------------------------------------------------------------
# Part 2: float32 against float64
# ------------------------------------------------------------------------------------------------------------


def _cast(tree, dtype):
    return jax.tree_util.tree_map(
        lambda leaf: leaf.astype(dtype) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf, tree
    )


def _one_step(params, opt_state, x, noise, config, dtype, *, before: bool):
    """One Adam step of the trainer (now) or of the pre-issue-13 step, from float64 state cast to ``dtype``."""
    args = (_cast(params, dtype), _cast(opt_state, dtype), x.astype(dtype)[None], noise.astype(dtype))
    if before:
        out = _baseline_train_block(*args, jnp.asarray(1), apply=gpu_kernels.gmm_apply, config=config, length=1)
    else:
        out = _training._train_block(
            args[0],
            args[1],
            args[2],
            jax.random.key(0)[None],
            args[3],
            jnp.asarray(1),
            apply=gpu_kernels.gmm_apply,
            config=config,
            length=1,
        )
    return _cast(out[0], jnp.float64), _cast(out[1], jnp.float64)


def _decrease_errors(config, m, ds, states, key) -> dict:
    """From float64 states (params, Adam state): the loss decrease of one step in float32 (now and before)
    against float64, all decreases measured with the float64 objective; relative errors."""
    x = jnp.asarray(ds.x_train, jnp.float64)
    layout = _training._layout(config, N)
    noise = jnp.asarray(_training._stored_noise_for_runs(key[None], layout, D, jnp.float64))
    objective = jax.jit(
        lambda p: _training._loss_for_runs(p, x[None], key[None], noise, apply=gpu_kernels.gmm_apply, config=config)[0]
    )
    errors = {"now": [], "before": []}
    for params, opt_state in states:
        start = float(objective(params))
        reference = start - float(
            objective(_one_step(params, opt_state, x, noise, config, jnp.float64, before=False)[0])
        )
        for name in errors:
            got = start - float(
                objective(_one_step(params, opt_state, x, noise, config, jnp.float32, before=name == "before")[0])
            )
            errors[name].append(abs(got - reference) / abs(reference))
    return {name: float(np.max(values)) for name, values in errors.items()}


def _trained(config, m, ds, key, dtype, *, before: bool):
    """A whole training (one compiled block) from the App. H.1 initialisation -> (params, loss history)."""
    params = jax.tree_util.tree_map(
        lambda leaf: leaf[None],
        gpu_kernels.partial_memorization_init(ds.x_train, m, key=jax.random.key(1), dtype=jnp.float64),
    )
    layout = _training._layout(config, N)
    noise = jnp.asarray(_training._stored_noise_for_runs(key[None], layout, D, jnp.float64))
    opt_state = _training._init_opt_state(params, config=config)
    args = (_cast(params, dtype), _cast(opt_state, dtype), jnp.asarray(ds.x_train, dtype)[None], noise.astype(dtype))
    if before:
        out = _baseline_train_block(
            *args, jnp.asarray(config.epochs), apply=gpu_kernels.gmm_apply, config=config, length=config.epochs
        )
    else:
        out = _training._train_block(
            args[0],
            args[1],
            args[2],
            key[None],
            args[3],
            jnp.asarray(config.epochs),
            apply=gpu_kernels.gmm_apply,
            config=config,
            length=config.epochs,
        )
    return _cast(out[0], jnp.float64), np.asarray(out[2][0], np.float64)


def accuracy_m(m: int, *, epochs: int) -> dict:
    """float32 (now, and the pre-issue-13 step) against float64 where the figures look.

    1. The `gmm-cpu` recipe trained to the end in float64, float32 and float32-before from the same
       initialisation and noise: final objective (evaluated in float64), learned variance, memorization ratio
       of the same 50 DDIM starting points.
    2. The loss decrease of one step from float64 states along that run (after every tenth of it) and, at the
       paper's shapes (100 draws, lr 1e-3 with no warm-up so the first step moves), from the initialisation:
       float32 against float64, max relative error.
    """
    recipe = RECIPES["gmm-cpu"]
    ds = numerics.make_gmm_dataset(d=D, k=K, n=N, n_test=0, seed=0)
    config = gpu_kernels.TrainConfig(
        epochs=epochs,
        draws=recipe.draws,
        peak_lr=recipe.peak_lr,
        final_lr=recipe.final_lr,
        warmup_fraction=recipe.warmup_fraction,
        adam_b2=recipe.adam_b2,
        history_points=epochs,
    )
    key = jax.random.key(2)
    grid = numerics.timestep_grid(config.steps)
    alphas, sigmas, _ = numerics.schedule_coefficients(grid, config.schedule)
    x_init = gpu_kernels.host_generator(jax.random.key(7)).standard_normal((recipe.n_eval, D))
    objective = functools.partial(
        gpu_kernels.weighted_loss, gpu_kernels.gmm_apply, x_train=ds.x_train, config=config, key=key
    )
    out: dict = {"m": m, "epochs": epochs}
    for name, dtype, before in (
        ("f64", jnp.float64, False),
        ("f32", jnp.float32, False),
        ("f32_before", jnp.float32, True),
    ):
        params, _ = _trained(config, m, ds, key, dtype, before=before)
        single = jax.tree_util.tree_map(lambda leaf: leaf[0], params)
        samples = np.asarray(
            gpu_kernels.ddim_sample_model(
                gpu_kernels.gmm_apply, _cast(single, dtype), jnp.asarray(x_init, dtype), alphas=alphas, sigmas=sigmas
            ),
            dtype=np.float64,
        )
        ratio = numerics.memorization_ratio(samples, ds.x_train, seed=0)
        out[name] = {
            "objective": float(objective(single)),
            "variance": float(np.exp(float(single["log_variance"]))),
            "memorization_ratio": float(ratio.ratio),
            "flags": np.asarray(ratio.flags),
        }
    # float64 states along the run, every tenth of it: one compiled block per stretch
    params = jax.tree_util.tree_map(
        lambda leaf: leaf[None],
        gpu_kernels.partial_memorization_init(ds.x_train, m, key=jax.random.key(1), dtype=jnp.float64),
    )
    opt_state = _training._init_opt_state(params, config=config)
    noise = jnp.asarray(_training._stored_noise_for_runs(key[None], _training._layout(config, N), D, jnp.float64))
    x64 = jnp.asarray(ds.x_train, jnp.float64)[None]
    stretch = max(1, epochs // 10)
    states = []
    for _ in range(10):  # (the first state would be step 0, where the warm-up's learning rate is 0)
        params, opt_state, _, _ = _training._train_block(
            params,
            opt_state,
            x64,
            key[None],
            noise,
            jnp.asarray(stretch),
            apply=gpu_kernels.gmm_apply,
            config=config,
            length=stretch,
        )
        states.append((params, opt_state))
    along_run = _decrease_errors(config, m, ds, states, key)
    paper = gpu_kernels.TrainConfig(epochs=10, draws=DRAWS, peak_lr=1e-3, warmup_fraction=0.0)
    init = jax.tree_util.tree_map(
        lambda leaf: leaf[None],
        gpu_kernels.partial_memorization_init(ds.x_train, m, key=jax.random.key(1), dtype=jnp.float64),
    )
    at_init = _decrease_errors(paper, m, ds, [(init, _training._init_opt_state(init, config=paper))], key)
    f64, f32, f32b = out["f64"], out["f32"], out["f32_before"]
    return {
        "m": m,
        "epochs": epochs,
        "step_decrease_rel_error_along_run_now": along_run["now"],
        "step_decrease_rel_error_along_run_before": along_run["before"],
        "step_decrease_rel_error_paper_shape_now": at_init["now"],
        "step_decrease_rel_error_paper_shape_before": at_init["before"],
        **{
            f"{key_}_{name}": run[key_]
            for name, run in (("f64", f64), ("f32", f32), ("f32_before", f32b))
            for key_ in ("objective", "variance", "memorization_ratio")
        },
        "samples_flagged_differently_f32": int(np.sum(f32["flags"] != f64["flags"])),
        "samples_flagged_differently_f32_before": int(np.sum(f32b["flags"] != f64["flags"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="Adam steps per timed block")
    parser.add_argument("--repeats", type=int, default=3, help="timed blocks per implementation (best is kept)")
    parser.add_argument("--m", default="50,200,400", help="model sizes M for the speed part ('' to skip)")
    parser.add_argument("--accuracy", action="store_true", help="also run part 2 (float32 against float64)")
    parser.add_argument("--accuracy-m", default="50,200,400", help="model sizes M for part 2")
    parser.add_argument("--accuracy-epochs", type=int, default=RECIPES["gmm-cpu"].epochs)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    load = os.getloadavg()
    device = jax.devices()[0]
    print(
        f"device: {device.platform} {device.device_kind} x{len(jax.devices())}; cpus: {os.cpu_count()}; "
        f"jax {jax.__version__}; {platform.processor() or platform.machine()}; load average before: "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    report = {"device": str(device), "load_before": load}
    if args.m:
        rate = matmul_rate()
        report["matmul_gflops"] = rate / 1e9
        print(f"float32 matmul rate (2048^2): {rate / 1e9:.1f} GFLOP/s\n")
        print(
            "| M | GFLOP/step | before: s/step (wall / CPU) | now: s/step (wall / CPU) | speed-up (wall / CPU) | "
            "now: GFLOP/s, fraction of matmul rate | max rel. loss difference |"
        )
        print("|---|---|---|---|---|---|---|")
        rows = []
        for m in (int(v) for v in args.m.split(",")):
            r = bench_m(m, steps=args.steps, repeats=args.repeats)
            rows.append(r)
            gflops = r["flop_per_step"] / r["now_wall_s"] / 1e9
            print(
                f"| {m} | {r['flop_per_step'] / 1e9:.1f} | {r['before_wall_s']:.3f} / {r['before_cpu_s']:.3f} | "
                f"{r['now_wall_s']:.3f} / {r['now_cpu_s']:.3f} | "
                f"{r['speedup_wall']:.2f}x / {r['speedup_cpu']:.2f}x | "
                f"{gflops:.1f}, {gflops * 1e9 / rate:.2f} | {r['max_rel_loss_difference']:.1e} |",
                flush=True,
            )
        report["speed"] = rows
    if args.accuracy:
        enable_float64()
        print(
            "\n| M | one step's loss decrease, f32 vs f64, max rel. error: along the cpu-recipe run, now / before | "
            "the same at the paper's shapes (100 draws), now / before | final objective f64 / f32 / f32 before | "
            "learned variance f64 / f32 / f32 before | memorization ratio f64 / f32 / f32 before "
            "(samples flagged differently from f64: now, before) |"
        )
        print("|---|---|---|---|---|---|")
        rows = []
        for m in (int(v) for v in args.accuracy_m.split(",")):
            r = accuracy_m(m, epochs=args.accuracy_epochs)
            rows.append(r)
            print(
                f"| {m} | {r['step_decrease_rel_error_along_run_now']:.1e} / "
                f"{r['step_decrease_rel_error_along_run_before']:.1e} | "
                f"{r['step_decrease_rel_error_paper_shape_now']:.1e} / "
                f"{r['step_decrease_rel_error_paper_shape_before']:.1e} | "
                f"{r['objective_f64']:.6g} / {r['objective_f32']:.6g} / {r['objective_f32_before']:.6g} | "
                f"{r['variance_f64']:.4g} / {r['variance_f32']:.4g} / {r['variance_f32_before']:.4g} | "
                f"{r['memorization_ratio_f64']:.2f} / {r['memorization_ratio_f32']:.2f} / "
                f"{r['memorization_ratio_f32_before']:.2f} ({r['samples_flagged_differently_f32']}, "
                f"{r['samples_flagged_differently_f32_before']}) |",
                flush=True,
            )
        report["accuracy"] = rows
    load_after = os.getloadavg()
    report["load_after"] = load_after
    print(f"\nload average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2, default=float)


if __name__ == "__main__":
    main()
