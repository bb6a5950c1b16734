"""Figure 1: Monte Carlo excess losses of the partially memorizing denoisers (every M) and of the
generalizing denoiser, against the leading-order approximations of Theorems 3.1 and 3.2 (SPEC §5).

``memlab figure 1`` — defaults reproduce the paper: d = 50, K = 12, N = 200, sigma_*^2 = 1, 100 noise
draws per training sample, t = t_16 (psi ~ 6.704), every M = 1..N. Writes into ``--out``:

- ``figure1.png`` / ``figure1.pdf`` — the plot;
- ``figure1.csv`` — one row per (t, M), columns ``t,psi,M,loss_mem,excess_pmem,excess_pmem_se,
  excess_pmem_approx_c1,excess_pmem_approx_c2,excess_gen,excess_gen_se,excess_gen_approx`` (excess =
  loss minus the memorizing denoiser's loss, x0 units; se = Monte Carlo standard error; the ``*_gen*``
  and ``loss_mem`` columns repeat over M);
- ``figure1.json`` — configuration, versions, seed, device, timings and a summary.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DESCRIPTION = ("Figure 1: excess training loss of x_pmem,M (every M) and x_* over x_mem, Monte Carlo vs "
               "Theorems 3.1/3.2")

CSV_COLUMNS = ("t", "psi", "M", "loss_mem", "excess_pmem", "excess_pmem_se", "excess_pmem_approx_c1",
               "excess_pmem_approx_c2", "excess_gen", "excess_gen_se", "excess_gen_approx")
DEFAULT_OUT = Path("figures") / "figure1"
STEM = "figure1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from memlab.cli._common import nonnegative_int, positive_int

    data = parser.add_argument_group("data (default: the paper's synthetic mixture)")
    data.add_argument("--data", metavar="FILE.npz", default=None,
                      help="your dataset: x_train (N x d), means (K x d), optional sigma2 (scalar) and x_test")
    data.add_argument("--d", type=positive_int, default=None, help="dimension of generated data (default 50)")
    data.add_argument("--k", type=positive_int, default=None, help="mixture components of generated data (default 12)")
    data.add_argument("--n", type=positive_int, default=None, help="training samples of generated data (default 200)")
    run = parser.add_argument_group("Monte Carlo")
    run.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the data and the noise (default 0)")
    run.add_argument("--draws", type=positive_int, default=100, help="noise draws per training sample (default 100)")
    run.add_argument("--t-index", type=nonnegative_int, default=None,
                     help="timestep index l of t_l = 0.999 - 0.998 l/25 (default 16, t = 0.36028)")
    run.add_argument("--all-t", action="store_true", help="compute every timestep of the grid (26 values)")
    run.add_argument("--schedule", choices=("vp", "ve", "linear"), default="vp", help="noise schedule (default vp)")
    run.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                     help="compute precision (default float32; float64 is the reference)")
    run.add_argument("--chunk-size", type=positive_int, default=None,
                     help="(sample, draw) rows per tile: bounds memory (default 4096)")
    parser.add_argument("--out", metavar="DIR", default=str(DEFAULT_OUT),
                        help=f"output folder (default ./{DEFAULT_OUT.as_posix()})")


def _dataset(args):
    from memlab._errors import InvalidInputError
    from memlab.numerics import load_gmm_dataset, make_gmm_dataset

    if args.data is not None:
        given = [f"--{name}" for name in ("d", "k", "n") if getattr(args, name) is not None]
        if given:
            raise InvalidInputError(f"{', '.join(given)} only apply to generated data, not with --data")
        return load_gmm_dataset(args.data)
    return make_gmm_dataset(d=args.d or 50, k=args.k or 12, n=args.n or 200, n_test=0, seed=args.seed)


def _timestep_indices(args, steps: int) -> list[int]:
    from memlab._errors import InvalidInputError
    from memlab.numerics import REPRESENTATIVE_T_INDEX

    if args.all_t:
        if args.t_index is not None:
            raise InvalidInputError("--t-index and --all-t exclude each other")
        return list(range(steps + 1))
    index = REPRESENTATIVE_T_INDEX if args.t_index is None else args.t_index
    if index > steps:
        raise InvalidInputError(f"--t-index must be in 0..{steps}, got {index}")
    return [index]


def _rows(ts, psis, result, approx_c1, approx_c2, approx_gen):
    n = result.excess_pmem.shape[1]
    for ti, (t, psi) in enumerate(zip(ts, psis)):
        for m in range(1, n + 1):
            yield (float(t), float(psi), m, result.loss_mem[ti], result.excess_pmem[ti, m - 1],
                   result.excess_pmem_se[ti, m - 1], approx_c1[m - 1], approx_c2[m - 1], result.excess_gen[ti],
                   result.excess_gen_se[ti], approx_gen[ti])


def _summary(ti, ts, psis, result, approx_c1, approx_c2, approx_gen) -> dict:
    """Numbers for the one-line summary and the JSON at timestep position ``ti``."""
    import numpy as np

    pmem = result.excess_pmem[ti]
    within = (pmem >= approx_c1) & (pmem <= approx_c2)
    below_gen = np.nonzero(pmem < result.excess_gen[ti])[0]
    return {
        "t": float(ts[ti]), "psi": float(psis[ti]),
        "excess_gen": float(result.excess_gen[ti]), "excess_gen_se": float(result.excess_gen_se[ti]),
        "excess_gen_approx": float(approx_gen[ti]),
        "pmem_between_c1_and_c2": int(within.sum()), "n": int(pmem.shape[0]),
        "smallest_m_pmem_below_gen": int(below_gen[0] + 1) if below_gen.size else None,
        "loss_mem": float(result.loss_mem[ti]), "loss_mem_se": float(result.loss_mem_se[ti]),
    }


def _plot_panel(ax, ti, result, approx_c1, approx_c2, approx_gen, *, title: str, legend: bool) -> None:
    import numpy as np

    n = result.excess_pmem.shape[1]
    m = np.arange(1, n + 1)
    pmem, pmem_se = result.excess_pmem[ti], result.excess_pmem_se[ti]
    gen, gen_se = result.excess_gen[ti], result.excess_gen_se[ti]
    ax.fill_between(m, pmem - 2 * pmem_se, pmem + 2 * pmem_se, color="C0", alpha=0.25, linewidth=0)
    ax.plot(m, pmem, color="C0", linewidth=1.6, label=r"$\hat x_{\mathrm{pmem},M}$: Monte Carlo ($\pm$2 SE)")
    ax.plot(m, approx_c2, color="C0", linestyle="--", linewidth=1.2,
            label=r"Thm 3.2, $C=2$: $2(1-M/N)\,d\sigma_*^2$")
    ax.plot(m, approx_c1, color="C0", linestyle=":", linewidth=1.4, label=r"Thm 3.2, $C=1$: $(1-M/N)\,d\sigma_*^2$")
    ax.axhspan(gen - 2 * gen_se, gen + 2 * gen_se, color="C3", alpha=0.25, linewidth=0)
    ax.axhline(gen, color="C3", linewidth=1.6, label=r"$\hat x_*$ (generalizing): Monte Carlo ($\pm$2 SE)")
    ax.axhline(approx_gen[ti], color="darkred", linestyle=(0, (4, 3)), linewidth=1.2, zorder=3,
               label=r"Thm 3.1: $d\sigma_*^2/(\psi_t\sigma_*^2+1)$")
    below = np.nonzero(pmem < gen)[0]
    if below.size:
        ax.axvline(below[0] + 1, color="0.4", linestyle=":", linewidth=1.0,
                   label=f"$\\hat x_{{\\mathrm{{pmem}},M}}$ beats $\\hat x_*$ from $M={below[0] + 1}$")
    ax.set_xlim(0, n + 1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("model size $M$ (training points the denoiser memorizes)")
    ax.set_ylabel(r"excess loss $L_{N,t}(\hat x) - L_{N,t}(\hat x_{\mathrm{mem}})$  [$x_0$-MSE]")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    if legend:
        ax.legend(fontsize=8, loc="upper right", framealpha=0.9)


def _plot_over_t(ax, ts, psis, result, approx_gen, approx_c1, approx_c2, gen_curve) -> None:
    """Every timestep: x_* excess vs psi with Theorem 3.1; x_pmem at M = N/2 with its C = 1, 2 levels."""
    import numpy as np

    n = result.excess_pmem.shape[1]
    half = max(1, n // 2)
    order = np.argsort(psis)
    ax.errorbar(psis[order], result.excess_gen[order], yerr=2 * result.excess_gen_se[order], fmt="o", color="C3",
                markersize=3.5, capsize=2, label=r"$\hat x_*$: Monte Carlo ($\pm$2 SE)")
    psi_dense = np.geomspace(psis.min(), psis.max(), 400)
    ax.plot(psi_dense, gen_curve(psi_dense), color="darkred", linestyle=(0, (4, 3)), linewidth=1.2,
            label=r"Thm 3.1: $d\sigma_*^2/(\psi_t\sigma_*^2+1)$")
    ax.errorbar(psis[order], result.excess_pmem[order, half - 1], yerr=2 * result.excess_pmem_se[order, half - 1],
                fmt="s", color="C0", markersize=3.5, capsize=2, label=f"$\\hat x_{{\\mathrm{{pmem}},M}}$, $M={half}$")
    ax.axhline(approx_c2[half - 1], color="C0", linestyle="--", linewidth=1.2, label="Thm 3.2, $C=2$")
    ax.axhline(approx_c1[half - 1], color="C0", linestyle=":", linewidth=1.4, label="Thm 3.2, $C=1$")
    ax.set_xscale("log")
    ax.set_xlabel(r"signal-to-noise ratio $\psi_t = \alpha_t^2/\sigma_t^2$ (every $t_\ell$ of the grid)")
    ax.set_ylabel(r"excess loss over $\hat x_{\mathrm{mem}}$  [$x_0$-MSE]")
    ax.set_title("All timesteps: the approximations hold at high SNR", fontsize=10)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best", framealpha=0.9)


def _figure(ts, psis, t_indices, rep, result, approx_c1, approx_c2, approx_gen, gen_curve, header: str):
    from matplotlib.figure import Figure

    rep_title = (f"$t = t_{{{t_indices[rep]}}} = {ts[rep]:.5g}$,  $\\psi_t = {psis[rep]:.4g}$")
    if len(ts) == 1:
        fig = Figure(figsize=(7.5, 5.2), layout="constrained")
        ax = fig.add_subplot()
        _plot_panel(ax, rep, result, approx_c1, approx_c2, approx_gen, title=rep_title, legend=True)
    else:
        fig = Figure(figsize=(14, 5.2), layout="constrained")
        left, right = fig.subplots(1, 2)
        _plot_panel(left, rep, result, approx_c1, approx_c2, approx_gen, title=rep_title, legend=True)
        _plot_over_t(right, ts, psis, result, approx_gen, approx_c1, approx_c2, gen_curve)
    fig.suptitle(header, fontsize=11)
    return fig


def run(args) -> int:
    import platform

    from memlab import __version__
    from memlab._errors import InvalidInputError
    from memlab._jaxcfg import device_summary, enable_compilation_cache, enable_float64

    started = time.perf_counter()
    dataset = _dataset(args)  # bad files fail here, before any JAX work
    if args.draws < 2:
        raise InvalidInputError("--draws must be at least 2 (the standard error needs two draws per sample)")
    from memlab.numerics import DEFAULT_STEPS, excess_gen_approx, excess_pmem_approx, schedule_coefficients, \
        timestep_grid

    t_indices = _timestep_indices(args, DEFAULT_STEPS)
    ts = timestep_grid(DEFAULT_STEPS)[t_indices]
    alphas, sigmas, psis = schedule_coefficients(ts, args.schedule)
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInputError(f"--out {out_dir} exists and is not a folder")

    enable_float64()
    cache_dir = enable_compilation_cache()
    import jax
    import jax.numpy as jnp
    import matplotlib
    import numpy as np

    from memlab import gpu_kernels
    from memlab._io import save_figure, write_csv, write_json

    n, d, k = dataset.n, dataset.d, dataset.k
    setup_s = time.perf_counter() - started
    print(f"memlab figure 1: N={n}, d={d}, K={k}, sigma*^2={dataset.sigma2:g}, {args.draws} draws, "
          f"{len(ts)} timestep(s), every M = 1..{n}, {args.dtype} on {jax.default_backend()}", file=sys.stderr)
    compute_start = time.perf_counter()
    result = gpu_kernels.mc_excess_losses(
        dataset.x_train, dataset.means, dataset.sigma2, alphas=alphas, sigmas=sigmas, draws=args.draws,
        key=jax.random.key(args.seed), chunk_size=args.chunk_size, dtype=getattr(jnp, args.dtype),
        show_progress=True)
    compute_s = time.perf_counter() - compute_start

    m = np.arange(1, n + 1)
    approx_c1 = excess_pmem_approx(m, n=n, d=d, sigma2=dataset.sigma2, c=1.0)
    approx_c2 = excess_pmem_approx(m, n=n, d=d, sigma2=dataset.sigma2, c=2.0)
    approx_gen = excess_gen_approx(psis, d=d, sigma2=dataset.sigma2)
    from memlab.numerics import REPRESENTATIVE_T_INDEX

    rep = t_indices.index(REPRESENTATIVE_T_INDEX) if REPRESENTATIVE_T_INDEX in t_indices else 0
    summary = _summary(rep, ts, psis, result, approx_c1, approx_c2, approx_gen)
    source = f"data {Path(args.data).name}" if args.data else f"synthetic, seed {args.seed}"
    header = (f"Figure 1 — excess training loss over the memorizing denoiser: N={n}, d={d}, K={k}, "
              f"$\\sigma_*^2$={dataset.sigma2:g}, {args.draws} noise draws/sample ({source})")
    plot_start = time.perf_counter()
    fig = _figure(ts, psis, t_indices, rep, result, approx_c1, approx_c2, approx_gen,
                  lambda psi: excess_gen_approx(psi, d=d, sigma2=dataset.sigma2), header)
    plot_s = time.perf_counter() - plot_start

    config = {
        "figure": 1, "n": n, "d": d, "k": k, "sigma2": dataset.sigma2, "draws": args.draws, "seed": args.seed,
        "data": str(Path(args.data).resolve()) if args.data else None, "schedule": args.schedule,
        "t_indices": t_indices, "t": ts, "psi": psis, "alpha": alphas, "sigma": sigmas, "dtype": args.dtype,
        "chunk_size": args.chunk_size or gpu_kernels.DEFAULT_CHUNK_SIZE, "block_size": gpu_kernels.DEFAULT_BLOCK_SIZE,
        "jax_compilation_cache": cache_dir,
        "approximations": {"excess_gen_approx": "Theorem 3.1: d sigma2 / (psi sigma2 + 1)",
                           "excess_pmem_approx_c1": "Theorem 3.2, C=1: (1 - M/N) d sigma2",
                           "excess_pmem_approx_c2": "Theorem 3.2, C=2: 2 (1 - M/N) d sigma2"},
    }
    versions = {"memlab": __version__, "python": platform.python_version(), "numpy": np.__version__,
                "jax": jax.__version__, "matplotlib": matplotlib.__version__}
    write_start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / f"{STEM}.csv", CSV_COLUMNS, _rows(ts, psis, result, approx_c1, approx_c2, approx_gen))
    written = save_figure(fig, out_dir / STEM)
    timings = {"setup_s": setup_s, "compute_s": compute_s, "plot_s": plot_s,
               "write_s": time.perf_counter() - write_start, "total_s": time.perf_counter() - started}
    write_json(out_dir / f"{STEM}.json", {"config": config, "versions": versions, "device": device_summary(),
                                          "timings": timings, "summary": summary})

    print(f"wrote {out_dir.resolve()}/: {', '.join(p.name for p in written)}, {STEM}.csv, {STEM}.json")
    first_m = summary["smallest_m_pmem_below_gen"]
    crossing = f"x_pmem,M beats x_* from M = {first_m}" if first_m else "x_pmem,M never beats x_*"
    print(f"t={summary['t']:.5g} (psi={summary['psi']:.4g}): excess(x_*) = {summary['excess_gen']:.4g} "
          f"± {summary['excess_gen_se']:.2g} (Thm 3.1: {summary['excess_gen_approx']:.4g}); excess(x_pmem,M) within "
          f"[C=1, C=2] for {summary['pmem_between_c1_and_c2']}/{n} M; {crossing}; {compute_s:.1f} s compute")
    return 0
