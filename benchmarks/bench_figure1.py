"""Benchmark of the Figure 1 Monte Carlo engine (issues 3 and 13). Runs unchanged on CPU or GPU.

What it measures, in one run:

1. end to end, as a fresh process (interpreter start, imports, JIT compilation, data, compute): the full
   grid — 26 timesteps x every M = 1..N x R noise draws (default N = 200, d = 50, K = 12, R = 100, float32) —
   with an empty and with a warm persistent compilation cache, and the child's peak resident memory;
2. steady state (compiled) wall and CPU time of the same full grid for each engine (``native``: the C++ CPU
   kernel, ``xla``: the portable path GPUs run), and rates against the FLOP counts below;
3. the straightforward per-M evaluation a user would write — one jitted denoiser-loss call per (M, t),
   ``gpu_kernels.excess_pmem_single_m`` — on a subset of (t, M) pairs, and the throughput ratio;
4. a plain float32 matrix product of the kernel's main shape ((N R) x d times d x N), as the FLOP-rate bound.

FLOP counts (2 per multiply-add): the "work" count is the matmul work of the blocked all-M algorithm as
counted since issue 3 (per row and timestep 8 N d + 2 K d, plus 2 N d + 2 K d once per row), so rates stay
comparable across versions; the native kernel's own arithmetic is 9 N d' + 2 K d per row and timestep
(d' = d rounded up to 8: sub + FMA per coordinate and point for r, then sub + FMA + sub + FMA for |u_k - r|^2).

Usage: ``python benchmarks/bench_figure1.py [--n 200 --d 50 --k 12 --draws 100 --dtype float32]``
(``make bench``). Prints the device, a results table and a JSON line; paste the table into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time


def _parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--d", type=int, default=50)
    parser.add_argument("--k", type=int, default=12)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--per-m-pairs", type=int, default=24, help="(t, M) pairs timed one call each")
    parser.add_argument("--repeats", type=int, default=3, help="steady-state repetitions (best is reported)")
    parser.add_argument("--engines", default="native,xla", help="engines timed in steady state")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _problem(args):
    import numpy as np

    from memlab import numerics

    dataset = numerics.make_gmm_dataset(d=args.d, k=args.k, n=args.n, n_test=0, seed=0)
    alphas, sigmas, _ = numerics.schedule_coefficients(numerics.timestep_grid())
    return dataset, np.asarray(alphas), np.asarray(sigmas)


def _full_grid(args, dataset, alphas, sigmas, native=True):
    import jax
    import jax.numpy as jnp

    from memlab import gpu_kernels

    return gpu_kernels.mc_excess_losses(
        dataset.x_train,
        dataset.means,
        dataset.sigma2,
        alphas=alphas,
        sigmas=sigmas,
        draws=args.draws,
        key=jax.random.key(0),
        chunk_size=args.chunk_size,
        dtype=getattr(jnp, args.dtype),
        native=native,
    )


def child(args) -> None:
    """The fresh process of measurement 1: everything from imports to the numbers, once."""
    start = time.perf_counter()
    if args.dtype == "float64":
        from memlab._jaxcfg import enable_float64

        enable_float64()
    if args.cache_dir:
        from memlab._jaxcfg import enable_compilation_cache

        enable_compilation_cache(args.cache_dir)
    dataset, alphas, sigmas = _problem(args)
    result = _full_grid(args, dataset, alphas, sigmas)
    import resource

    print(
        json.dumps(
            {
                "in_process_s": time.perf_counter() - start,
                "engine": result.engine,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "checksum": float(result.excess_pmem.sum() + result.excess_gen.sum()),
            }
        )
    )


def _flops(n: int, d: int, k: int, rows: int, t_count: int) -> dict:
    """FLOPs (2 per multiply-add): the all-M work count (matmuls of the blocked algorithm, as since issue 3), the
    native kernel's own arithmetic, and the per-M baseline per (t, M)."""
    per_row_t = 8 * n * d + 2 * k * d  # x_mem mean, Y.r, P.Y, P update; x_* mean
    per_row_once = 2 * n * d + 2 * k * d  # z.Y and z.V (t-independent)
    all_m = rows * (t_count * per_row_t + per_row_once)
    d_pad = -(-d // 8) * 8
    native = rows * (t_count * (9 * n * d_pad + 2 * k * d) + per_row_once)
    per_m_call = rows * 8 * n * d  # logits + softmax mean for x_pmem,M and for x_mem
    return {"all_m_matmul_flop": all_m, "native_kernel_flop": native, "per_m_call_flop": per_m_call}


def _time(fn, repeats: int) -> tuple[float, float]:
    """Best wall and best CPU (process) seconds of ``fn()`` over ``repeats`` runs."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        best, best_cpu = min(best, time.perf_counter() - start), min(best_cpu, time.process_time() - cpu)
    return best, best_cpu


def main(argv=None) -> int:
    args = _parse(argv)
    if args.child:
        child(args)
        return 0

    # 1. Fresh processes, end to end: cold (empty compilation cache: full JIT), then warm (the persistent
    # cache that `memlab figure 1` uses, filled by the cold run).
    import tempfile

    child_cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        "--n",
        str(args.n),
        "--d",
        str(args.d),
        "--k",
        str(args.k),
        "--draws",
        str(args.draws),
        "--dtype",
        args.dtype,
    ]
    if args.chunk_size:
        child_cmd += ["--chunk-size", str(args.chunk_size)]
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    fresh = {}
    with tempfile.TemporaryDirectory(prefix="memlab-bench-cache-") as scratch:
        cache_dir = os.path.join(scratch, "jax")
        # "first": empty XLA cache and empty native-kernel cache (includes the one-time C++ build); "cold": empty
        # XLA cache, native kernel already built; "warm": both caches filled (a second `memlab` run).
        for label, jax_cache, native_cache in (
            ("first", os.path.join(scratch, "jax0"), os.path.join(scratch, "so")),
            ("cold", cache_dir, None),
            ("warm", cache_dir, None),
        ):
            env = dict(os.environ, **({"MEMLAB_NATIVE_CACHE": native_cache} if native_cache else {}))
            start = time.perf_counter()
            proc = subprocess.run(
                [*child_cmd, "--cache-dir", jax_cache], capture_output=True, text=True, check=False, env=env
            )
            fresh[label] = time.perf_counter() - start
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return proc.returncode
            child_report = json.loads(proc.stdout.strip().splitlines()[-1])
            fresh[label + "_child"] = child_report
    end_to_end_s = fresh["cold"]

    import jax
    import jax.numpy as jnp
    import numpy as np

    if args.dtype == "float64":
        from memlab._jaxcfg import enable_float64

        enable_float64()
    from memlab import gpu_kernels
    from memlab._jaxcfg import device_summary

    dataset, alphas, sigmas = _problem(args)
    dtype = getattr(jnp, args.dtype)
    n, d, k, draws, t_count = args.n, args.d, args.k, args.draws, len(alphas)
    rows = n * draws

    # 2. Steady state of the full grid per engine (compiled once here first).
    flops = _flops(n, d, k, rows, t_count)
    steady = {}
    for engine in args.engines.split(","):
        native = engine == "native"
        if _full_grid(args, dataset, alphas, sigmas, native=native).engine != engine:
            continue  # the native kernel is unavailable here (no compiler, or not a CPU)
        steady[engine] = _time(
            lambda native=native: _full_grid(args, dataset, alphas, sigmas, native=native), args.repeats
        )
    full_s = min(wall for wall, _ in steady.values())

    # 3. Per-M baseline: one jitted call per (t, M) on a spread of pairs, same noise layout.
    noise = gpu_kernels.noise_draws(jax.random.key(0), jnp.arange(n), jnp.arange(draws), d=d, dtype=dtype)
    x_train = jnp.asarray(dataset.x_train, dtype)
    rng = np.random.default_rng(0)
    pairs = [(int(rng.integers(0, t_count)), int(rng.integers(1, n + 1))) for _ in range(args.per_m_pairs)]
    call = lambda ti, m: gpu_kernels.excess_pmem_single_m(
        x_train, noise, m, jnp.asarray(alphas[ti], dtype), jnp.asarray(sigmas[ti], dtype)
    )
    jax.block_until_ready(call(*pairs[0]))  # compile
    start = time.perf_counter()
    for ti, m in pairs:
        jax.block_until_ready(call(ti, m))
    per_m_call_s = (time.perf_counter() - start) / len(pairs)
    per_m_full_grid_s = per_m_call_s * t_count * n

    # 4. A plain matrix product of the kernel's main shape, as the FLOP-rate bound.
    a = jax.random.normal(jax.random.key(1), (rows, d), dtype)
    b = jax.random.normal(jax.random.key(2), (d, n), dtype)
    matmul = jax.jit(lambda a, b: a @ b)
    jax.block_until_ready(matmul(a, b))
    matmul_s = _time(lambda: jax.block_until_ready(matmul(a, b)), 10)[0]
    matmul_gflops = 2 * rows * d * n / matmul_s / 1e9
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    all_m_gflops = flops["all_m_matmul_flop"] / full_s / 1e9
    report = {
        "device": device_summary(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "load_avg_1min_before_after": [load_before, load_after],
        "problem": {
            "n": n,
            "d": d,
            "k": k,
            "draws": draws,
            "timesteps": t_count,
            "dtype": args.dtype,
            "chunk_size": args.chunk_size or gpu_kernels.DEFAULT_CHUNK_SIZE,
        },
        "end_to_end_first_use_s": fresh["first"],
        "end_to_end_fresh_process_s": end_to_end_s,
        "end_to_end_fresh_process_warm_cache_s": fresh["warm"],
        "warm_process_in_python_s": child_report["in_process_s"],
        "fresh_process_engine": child_report["engine"],
        "fresh_process_peak_rss_mb": max(fresh[f"{label}_child"]["peak_rss_mb"] for label in ("first", "cold", "warm")),
        "steady_s_by_engine": {engine: {"wall_s": wall, "cpu_s": cpu} for engine, (wall, cpu) in steady.items()},
        "full_grid_steady_s": full_s,
        **flops,
        "all_m_gflops": all_m_gflops,
        "per_m_call_s": per_m_call_s,
        "per_m_pairs_timed": len(pairs),
        "per_m_full_grid_estimate_s": per_m_full_grid_s,
        "speedup_vs_per_m": per_m_full_grid_s / full_s,
        "speedup_vs_per_m_end_to_end": per_m_full_grid_s / end_to_end_s,
        "per_m_gflops": flops["per_m_call_flop"] / per_m_call_s / 1e9,
        "matmul_shape": [rows, d, n],
        "matmul_gflops": matmul_gflops,
        "all_m_fraction_of_matmul_rate": all_m_gflops / matmul_gflops,
    }
    dev = report["device"]
    print(
        f"device: {dev['backend']} x{dev['device_count']} ({dev['device_kind']}), jax {dev['jax_version']}, "
        f"{os.cpu_count()} CPUs, load {load_before:.2f} -> {load_after:.2f}"
    )
    print(f"problem: N={n}, d={d}, K={k}, R={draws}, {t_count} timesteps, every M, {args.dtype}")
    print("| measurement | value |\n| --- | --- |")
    print(f"| first use: fresh process, empty caches (includes the one-time C++ build) | {fresh['first']:.2f} s |")
    print(
        f"| full grid, fresh process end to end (start + import + JIT + compute; {child_report['engine']}) | "
        f"{end_to_end_s:.2f} s |"
    )
    print(f"| the same with a warm persistent compilation cache (second `memlab` run) | {fresh['warm']:.2f} s |")
    print(f"| peak resident memory of that process | {report['fresh_process_peak_rss_mb']:.0f} MB |")
    for engine, (wall, cpu) in steady.items():
        print(f"| full grid, steady state, {engine} engine: wall / CPU time | {wall:.2f} s / {cpu:.2f} s |")
    print(
        f"| all-M work count (matmul FLOPs of the blocked algorithm) | {flops['all_m_matmul_flop'] / 1e9:.1f} GFLOP |"
    )
    print(f"| native kernel's own arithmetic | {flops['native_kernel_flop'] / 1e9:.1f} GFLOP |")
    print(f"| achieved rate (work count / best steady wall time) | {all_m_gflops:.1f} GFLOP/s |")
    print(f"| plain {args.dtype} matmul ({rows}x{d} @ {d}x{n}) | {matmul_gflops:.1f} GFLOP/s |")
    print(f"| all-M rate / matmul rate | {report['all_m_fraction_of_matmul_rate']:.2f} |")
    print(
        f"| per-M baseline: one jitted call per (t, M), {len(pairs)} pairs | {per_m_call_s * 1e3:.1f} ms/call, "
        f"{report['per_m_gflops']:.1f} GFLOP/s |"
    )
    print(f"| per-M baseline extrapolated to the full grid ({t_count * n} calls) | {per_m_full_grid_s:.1f} s |")
    print(
        f"| speed-up of the all-M kernel (steady / end to end) | {report['speedup_vs_per_m']:.0f}x / "
        f"{report['speedup_vs_per_m_end_to_end']:.0f}x |"
    )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
