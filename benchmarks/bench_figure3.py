"""Benchmark of Figure 3's pieces that do not train: the App. H.3 regression, and a finished run's per-run costs.

1. ``fit_weighting`` / ``predict_m_pt`` at the paper's size: 64 tuples (N in 50..200, d in 30..60, K in 3..12),
   candidates M = 1..N, 26 timesteps, approximate losses and an exact-like gap set (Theorem 3.1/3.2 with a
   t- and d-dependent tilt, so lambda matters beyond one number); wall time of one objective+gradient
   evaluation and of a whole multi-start fit.
2. With ``--figure3-json PATH`` (a ``memlab figure 3`` output): the run counts and timings recorded there and
   the per-run training time statistics from the sweep cache (``--cache-dir``), i.e. what a cold run of the
   same preset costs on this machine.

Usage: ``python benchmarks/bench_figure3.py [--figure3-json figures/figure3/figure3.json
--cache-dir figures/cache/phase-transition]``. Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np


def _exact_like(n, d, k):
    from memlab.numerics import LossGaps, timestep_grid

    t = timestep_grid(25)
    m = np.arange(1, n + 1)
    psi = (1 - t**2) / t**2
    tilt = 1 + 0.3 * np.sin(3 * t + 0.1 * d + 0.2 * k)
    pmem = 2 * (1 - m[None, :] / n) * tilt[:, None]
    gen = 1 / (psi + 1)
    return LossGaps(
        n=n,
        d=d,
        k=k,
        m_values=m,
        gaps=pmem - gen[:, None],
        gaps_se=None,
        source="exact-like",
        normalize="span",
        scale=float(d),
        sigma2=1.0,
        steps=25,
        span_target=2.0 * (n - 1) / n,
    )


def bench_regression(repeats: int) -> dict:
    from memlab import numerics

    tuples = [(n, d, k) for n in (50, 100, 150, 200) for d in (30, 40, 50, 60) for k in (3, 6, 9, 12)]
    out = {}
    for name, problems in (
        ("approx", [numerics.approx_loss_gaps(n, d=d, k=k) for n, d, k in tuples]),
        ("exact_like", [_exact_like(n, d, k) for n, d, k in tuples]),
    ):
        stack = numerics.stack_gaps(problems)
        targets = np.array([0.8 * n for n, _, _ in tuples])
        theta = np.zeros(26)
        numerics.regression_objective(theta, stack, targets)
        started = time.perf_counter()
        for _ in range(repeats * 20):
            numerics.regression_objective(theta, stack, targets)
        per_eval = (time.perf_counter() - started) / (repeats * 20)
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            fit = numerics.fit_weighting(stack, targets)
            best = min(best, time.perf_counter() - started)
        out[name] = {
            "tuples": len(tuples),
            "objective_eval_s": per_eval,
            "fit_s": best,
            "fit_iterations": fit.iterations,
            "fit_mse": fit.mse,
            "starts": len(fit.starts),
        }
    return out


def bench_run(figure3_json: Path, cache_dir: Path | None) -> dict:
    summary = json.loads(figure3_json.read_text())
    out = {
        "preset": summary["settings"]["preset"],
        "tuples": len(summary["tuples"]),
        "runs": summary["runs"],
        "timings": summary["timings"],
        "device": summary["device"].get("backend"),
    }
    if cache_dir is not None and cache_dir.is_dir():
        seconds, train = [], []
        for path in cache_dir.glob("*/result.json"):
            record = json.loads(path.read_text())
            if record["function"].endswith(":train_and_evaluate"):
                seconds.append(record["seconds"])
                train.append(record["result"].get("train_seconds", np.nan))
        if seconds:
            out["per_run_seconds"] = {
                "count": len(seconds),
                "median": float(np.median(seconds)),
                "mean": float(np.mean(seconds)),
                "max": float(np.max(seconds)),
                "median_train_seconds": float(np.nanmedian(train)),
            }
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--figure3-json", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    result = {
        "machine": platform.platform(),
        "processor": platform.processor(),
        "regression": bench_regression(args.repeats),
    }
    print("| loss set | tuples | one objective + gradient | multi-start fit (best of repeats) | iterations |")
    print("| --- | --- | --- | --- | --- |")
    for name, r in result["regression"].items():
        print(
            f"| {name} | {r['tuples']} | {1e3 * r['objective_eval_s']:.2f} ms | {r['fit_s']:.2f} s | "
            f"{r['fit_iterations']} |"
        )
    if args.figure3_json is not None:
        result["figure3"] = bench_run(args.figure3_json, args.cache_dir)
        f = result["figure3"]
        print(
            f"figure 3 ({f['preset']}, {f['tuples']} tuples, {f['device']}): {f['runs']}, "
            f"total {f['timings']['total_s']:.0f} s, sweep {f['timings']['sweep_s']:.0f} s"
        )
        if "per_run_seconds" in f:
            p = f["per_run_seconds"]
            print(
                f"per training run: median {p['median']:.1f} s, mean {p['mean']:.1f} s, max {p['max']:.1f} s "
                f"over {p['count']} runs (median training loop {p['median_train_seconds']:.1f} s)"
            )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
