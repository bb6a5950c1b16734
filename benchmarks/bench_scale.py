"""How the all-M engine's time and memory grow with the problem (issue 13): a scale table and the memory bound.

Part 1 (default): for N in {200, 1000, 4000} x d in {50, 784} (K = 12, one timestep t_16, R = 10 draws per
sample, float32), each engine in a fresh process: the time of the first call (tracing, compilation, the run)
and of a second call (the run alone), the CPU time of the second, the process's peak resident memory and its
resident memory before the engine ran (so the engine's own share is the difference), the engine's memory
estimate, and the FLOP counts (native kernel: 9 N d' + 2 K d per row, d' = d rounded up to 8; XLA path:
its matmuls, 6 N d + 2 K d per row, plus 2 N d + 2 K d per row once for the projections).

Part 2 (``--memory``): N = d = 2000 at the default chunk size for R = 1, 2 (the whole computation, one timestep)
and R = 100, 5000 (one tile, which every tile repeats: R = 5000 > chunk puts one sample's 1,024 draws in a
tile): peak resident memory against the estimate and the issue's 4 GB.

Run: ``.venv/bin/python benchmarks/bench_scale.py [--memory] [--engines native,xla] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

T_INDEX = 16
DRAWS = 10
K = 12


def _rss_mb() -> float:
    """Current resident memory of this process (MB), from /proc (Linux); peak if unavailable."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args) -> None:
    """One measurement in a fresh process; prints a JSON line."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from memlab import gpu_kernels, numerics
    from memlab.gpu_kernels import _losses

    ds = numerics.make_gmm_dataset(d=args.d, k=K, n=args.n, n_test=0, seed=0)
    alphas, sigmas, _ = numerics.schedule_coefficients(numerics.timestep_grid()[[T_INDEX]])
    native = args.engine == "native"
    jnp.zeros(1).block_until_ready()  # the runtime is up: its memory is the baseline
    before_mb = _rss_mb()
    out = {"n": args.n, "d": args.d, "draws": args.draws, "engine": args.engine, "rss_before_mb": before_mb}
    if args.one_tile:  # a single tile of the default layout: what every tile of the full computation allocates
        device = jax.devices()[:1]
        chunk = gpu_kernels.default_chunk_size(device[0].platform)
        layout = gpu_kernels.tile_layout(
            args.n, args.draws, chunk_size=chunk, devices=1, block_size=gpu_kernels.DEFAULT_BLOCK_SIZE
        )
        threads = _losses.native_threads(1)
        _, tile_fn, is_native = _losses._tile_function(tuple(device), layout, "float32", native, threads)
        f32 = jnp.float32
        tile_args = (
            jnp.asarray(ds.x_train, f32),
            jnp.asarray(ds.means, f32),
            jnp.asarray(ds.sigma2, f32),
            jnp.asarray(alphas, f32),
            jnp.asarray(sigmas, f32),
            jnp.arange(layout.samples, dtype=jnp.int32),
            jnp.ones(layout.samples, f32),
            jnp.arange(layout.draws, dtype=jnp.int32),
            jnp.ones(layout.draws, f32),
            jax.random.key(0),
        )
        start = time.perf_counter()
        jax.block_until_ready(tile_fn(*tile_args))
        out.update(
            first_s=time.perf_counter() - start,
            rows=layout.rows,
            chunk_size=chunk,
            engine_used="native" if is_native else "xla",
        )
        out["estimate_mb"] = (
            gpu_kernels.mc_memory_estimate(
                args.n, args.d, K, draws=args.draws, chunk_size=chunk, native=is_native, threads=threads, times=1
            )
            / 2**20
        )
    else:

        def run():
            return gpu_kernels.mc_excess_losses(
                ds.x_train,
                ds.means,
                ds.sigma2,
                alphas=alphas,
                sigmas=sigmas,
                draws=args.draws,
                key=jax.random.key(0),
                dtype=jnp.float32,
                native=native,
            )

        start = time.perf_counter()
        result = run()
        out["first_s"] = time.perf_counter() - start
        if not args.once:
            start, cpu = time.perf_counter(), time.process_time()
            run()
            out.update(second_s=time.perf_counter() - start, second_cpu_s=time.process_time() - cpu)
        out.update(engine_used=result.engine, chunk_size=result.chunk_size, checksum=float(np.sum(result.excess_pmem)))
        out["estimate_mb"] = (
            gpu_kernels.mc_memory_estimate(
                args.n,
                args.d,
                K,
                draws=args.draws,
                chunk_size=result.chunk_size,
                native=result.engine == "native",
                threads=_losses.native_threads(1),
                times=1,
            )
            / 2**20
        )
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def _flops(n: int, d: int, rows: int, engine: str) -> float:
    once = 2 * n * d + 2 * K * d
    if engine == "native":
        return rows * (9 * n * (-(-d // 8) * 8) + 2 * K * d + once)
    return rows * (6 * n * d + 2 * K * d + once)


def _spawn(extra: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", *extra], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=200, help=argparse.SUPPRESS)
    parser.add_argument("--d", type=int, default=50, help=argparse.SUPPRESS)
    parser.add_argument("--draws", type=int, default=DRAWS, help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="native", help=argparse.SUPPRESS)
    parser.add_argument("--one-tile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engines", default="native,xla")
    parser.add_argument("--ns", default="200,1000,4000")
    parser.add_argument("--ds", default="50,784")
    parser.add_argument("--memory", action="store_true", help="run part 2 instead of part 1")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    rows_out = []
    if not args.memory:
        print(f"\none timestep (t_{T_INDEX}), R = {DRAWS} draws per sample, K = {K}, float32, every M = 1..N\n")
        print(
            "| N | d | engine | GFLOP | first call s | second call s (CPU s) | GFLOP/s (second call) | "
            "peak RSS MB (before engine) | estimate MB |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for n in (int(v) for v in args.ns.split(",")):
            for d in (int(v) for v in args.ds.split(",")):
                for engine in args.engines.split(","):
                    r = _spawn(["--n", str(n), "--d", str(d), "--engine", engine])
                    r.update(n=n, d=d, engine=engine)
                    rows_out.append(r)
                    if "error" in r:
                        print(f"| {n} | {d} | {engine} | failed: {r['error']} |||||")
                        continue
                    flop = _flops(n, d, n * DRAWS, r["engine_used"])
                    r["gflop"] = flop / 1e9
                    print(
                        f"| {n} | {d} | {r['engine_used']} | {flop / 1e9:.1f} | {r['first_s']:.2f} | "
                        f"{r['second_s']:.2f} ({r['second_cpu_s']:.2f}) | {flop / r['second_s'] / 1e9:.1f} | "
                        f"{r['peak_rss_mb']:.0f} ({r['rss_before_mb']:.0f}) | {r['estimate_mb']:.0f} |",
                        flush=True,
                    )
    else:
        print("\nN = d = 2000, K = 12, default chunk size, float32: peak resident memory of the process\n")
        print("| draws R | measured | engine | peak RSS MB (before engine) | engine estimate MB | time s |")
        print("|---|---|---|---|---|---|")
        for draws, one_tile in ((1, False), (2, False), (100, True), (5000, True)):
            for engine in args.engines.split(","):
                extra = ["--n", "2000", "--d", "2000", "--draws", str(draws), "--engine", engine, "--once"]
                r = _spawn(extra + (["--one-tile"] if one_tile else []))
                r.update(draws=draws, engine=engine, one_tile=one_tile)
                rows_out.append(r)
                if "error" in r:
                    print(f"| {draws} | failed: {r['error']} |||||")
                    continue
                what = "one tile (every tile is alike)" if one_tile else "whole computation, 1 timestep"
                print(
                    f"| {draws} | {what} | {r['engine_used']} | {r['peak_rss_mb']:.0f} ({r['rss_before_mb']:.0f}) | "
                    f"{r['estimate_mb']:.0f} | {r['first_s']:.1f} |",
                    flush=True,
                )
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows_out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
