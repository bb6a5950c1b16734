"""Figure 3: the memorization phase transition M_pt across (N, d, K), predicted by the crossover of the
lambda-integrated training losses (App. H.3's loss-weighting regression), tested against fixed weightings.

``memlab figure 3 [--preset cpu|paper|paper-small] [...]`` trains the models of every tuple through the cached sweep
(:mod:`memlab.paper_figs._figure3_sweep`), locates M_pt with a bootstrap interval, fits lambda on a
training subset of the tuples (approximate losses and exact Monte Carlo losses), and predicts every tuple
with the fitted and the fixed (x0, eps) weightings (:mod:`memlab.paper_figs._figure3_analysis`).
Writes into ``--out`` (default ``figures/figure3``):

- ``figure3.png`` / ``figure3.pdf``: (a) the weightings against psi_t, (b) predicted vs measured M_pt,
  (c) M_pt/N with intervals against the implied M*/N, (d) the memorization ratios against M/N;
- ``figure3.csv``: one row per tuple, its measured M_pt, interval, split, and each method's predictions
  (``<method>_m_hat`` relaxed, ``<method>_m_nearest`` nearest M, ``<method>_crossover`` continuous zero);
- ``figure3_weights.csv``: the grid, psi_t and every method's lambda (mean 1);
- ``figure3.json``: settings, versions, seed, device, timings, errors per method and split, fits.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DESCRIPTION = ("Figure 3: phase transition M_pt across (N, d, K) and the loss-weighting regression (App. H.3); "
               "--preset cpu runs on a laptop")
STEM = "figure3"
DEFAULT_OUT = Path("figures") / "figure3"
DEFAULT_CACHE = Path("figures") / "cache" / "phase-transition"
WEIGHT_FLOOR = 1e-8
METHOD_LABELS = {
    "fitted_approx": "fitted $\\lambda$, approx. losses",
    "fitted_exact": "fitted $\\lambda$, exact losses",
    "x0_approx": "$\\lambda=1$ (x0), approx.",
    "eps_approx": "$\\lambda=\\psi_t$ (eps), approx.",
    "x0_exact": "$\\lambda=1$ (x0), exact",
    "eps_exact": "$\\lambda=\\psi_t$ (eps), exact",
}


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from memlab.cli._common import (add_executor_arguments, nonnegative_int, positive_float, positive_int,
                                    positive_int_set)

    sweep = parser.add_argument_group("sweep (defaults come from --preset)")
    sweep.add_argument("--preset", choices=("cpu", "paper", "paper-small"), default="cpu",
                       help="'cpu': 12 small tuples (N in 20,30,40; d in 20,30; K in 2,4), 1,000 epochs, 12 grid "
                            "sizes + up to 6 refinements per tuple (15-21 min cold on a shared 2-core machine, "
                            "seconds when cached); 'paper': the 64 tuples "
                            "{50..200} x {30..60} x {3..12}, 50,000 epochs, 20 + 10 models per tuple (GPU/cluster); "
                            "'paper-small': the cpu tuples and grid with the paper's training recipe (100 draws, "
                            "50,000 epochs, lr 1e-3, b2 0.999; ~0.5-2 h per model on a CPU core). Default: cpu")
    sweep.add_argument("--ns", type=positive_int_set, help="training set sizes N, comma-separated")
    sweep.add_argument("--ds", type=positive_int_set, help="dimensions d, comma-separated")
    sweep.add_argument("--ks", type=positive_int_set, help="mixture components K, comma-separated")
    sweep.add_argument("--seed", type=nonnegative_int, help="data / model seed of every tuple (default 0)")
    sweep.add_argument("--multiples", type=positive_int, help="grid M = j floor(N/10), j = 1..MULTIPLES")
    sweep.add_argument("--refine", type=nonnegative_int, help="extra models over each tuple's transition")
    train = parser.add_argument_group("training recipe (defaults: the phase-transition experiment's preset)")
    train.add_argument("--epochs", type=positive_int, help="full-batch Adam steps per model")
    train.add_argument("--draws", type=positive_int, help="training noise draws per sample and timestep")
    train.add_argument("--peak-lr", type=positive_float, help="peak learning rate")
    train.add_argument("--final-lr", type=positive_float, help="final learning rate")
    train.add_argument("--warmup-fraction", type=_fraction, help="fraction of epochs of linear warm-up")
    train.add_argument("--adam-b2", type=_fraction, help="Adam's second-moment decay")
    train.add_argument("--n-eval", type=positive_int, help="DDIM samples per model for the memorization ratio")
    train.add_argument("--eval-draws", type=positive_int, help="noise draws per sample for the t_16 losses")
    train.add_argument("--dtype", choices=("float32", "float64"), help="training / sampling precision")
    exact = parser.add_argument_group("exact (Monte Carlo) losses")
    exact.add_argument("--exact-draws", type=positive_int, help="noise draws per training sample")
    exact.add_argument("--exact-dtype", choices=("float32", "float64"), help="compute precision")
    exact.add_argument("--no-exact", action="store_true", help="skip the exact-loss methods")
    reg = parser.add_argument_group("regression (App. H.3)")
    reg.add_argument("--tau", type=positive_float, default=1 / 20, help="softmax temperature (default 1/20)")
    reg.add_argument("--beta", type=float, default=1e-2, help="entropy penalty (default 1e-2)")
    reg.add_argument("--c", type=positive_float, default=2.0, help="Theorem 3.2's constant C (default 2)")
    reg.add_argument("--normalize", choices=("span", "per_dim", "none"), default="span",
                     help="loss normalisation: per_dim divides by d sigma_*^2; span (default) also rescales the "
                          "integrated gap to the approximation's drop over M (see memlab.numerics.approx_loss_gaps); "
                          "none keeps x0-MSE units")
    reg.add_argument("--test-fraction", type=_fraction, default=0.25, help="held-out tuples (default 0.25)")
    reg.add_argument("--split-seed", type=nonnegative_int, default=0, help="seed of the train/test split")
    reg.add_argument("--random-starts", type=nonnegative_int, default=2, help="random starts of the fit (+ x0, eps)")
    out = parser.add_argument_group("output and execution")
    out.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    out.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                     help=f"run cache, shared with Figures 2, 6, 7 (default {DEFAULT_CACHE})")
    add_executor_arguments(out)


def settings_from_args(args):
    """(Figure3Settings, AnalysisSettings, SweepOptions) from parsed arguments; bad values are InvalidInputError."""
    from memlab._errors import InvalidInputError
    from memlab.paper_figs._figure3_analysis import AnalysisSettings
    from memlab.paper_figs._figure3_sweep import Figure3Settings, SweepOptions

    training = {"epochs": args.epochs, "draws": args.draws, "peak_lr": args.peak_lr, "final_lr": args.final_lr,
                "warmup_fraction": args.warmup_fraction, "adam_b2": args.adam_b2, "n_eval": args.n_eval,
                "eval_draws": args.eval_draws, "dtype": args.dtype}
    settings = Figure3Settings.from_preset(
        args.preset, ns=args.ns, ds=args.ds, ks=args.ks, seed=args.seed, multiples=args.multiples, refine=args.refine,
        exact_draws=args.exact_draws, exact_dtype=args.exact_dtype, exact=False if args.no_exact else None,
        training=training)
    if settings.exact and settings.exact_draws < 2:
        raise InvalidInputError("--exact-draws must be at least 2 (standard errors need two draws per sample)")
    analysis = AnalysisSettings(tau=args.tau, beta=args.beta, c=args.c, sigma2=float(settings.training["sigma2"]),
                                normalize=args.normalize, test_fraction=args.test_fraction,
                                split_seed=args.split_seed, random_starts=args.random_starts)
    analysis.regression_config()  # validates tau and beta before any training
    options = SweepOptions(cache_dir=args.cache_dir, executor=args.executor, max_workers=args.workers,
                           submitit_cluster=None if args.submitit_cluster == "auto" else args.submitit_cluster,
                           submitit_parameters=dict(args.submitit_param))
    return settings, analysis, options


# ----------------------------------------------------------------------------------------------------
# Plot
# ----------------------------------------------------------------------------------------------------


def _plot(analysis, psi):
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 10), layout="constrained")
    (ax_w, ax_p), (ax_r, ax_m) = fig.subplots(2, 2)
    methods = analysis.methods
    order = np.argsort(psi)

    # (a) weightings against psi_t (mean 1; weights below WEIGHT_FLOOR drawn at the floor)
    for i, (name, method) in enumerate(methods.items()):
        if name.startswith("fitted") or name.endswith("_approx"):
            style = "-o" if name.startswith("fitted") else "--"
            ax_w.plot(psi[order], np.maximum(method.weights[order], WEIGHT_FLOOR), style, markersize=3,
                      color=f"C{i}", label=METHOD_LABELS.get(name, name))
    ax_w.set_xscale("log")
    ax_w.set_yscale("log")
    ax_w.set_xlabel(r"$\psi_t = \alpha_t^2/\sigma_t^2$ (grid $t_\ell$)")
    ax_w.set_ylabel(r"$\lambda(t_\ell)$, normalised to mean 1 (floored at $10^{-8}$)")
    ax_w.set_title("(a) loss weightings")
    ax_w.legend(fontsize=8)
    ax_w.grid(True, alpha=0.3, which="both")

    # (b) predicted vs measured M_pt
    targets = analysis.targets()
    split = np.array(analysis.split)
    ci = np.array([[np.nan if v is None else v for v in t.m_pt_ci] for t in analysis.tuples], dtype=float)
    for i, (name, method) in enumerate(methods.items()):
        pred = method.m_hat if name.startswith("fitted") else method.m_nearest
        for which, face in (("train", f"C{i}"), ("test", "none")):
            sel = split == which
            if sel.any():
                ax_p.errorbar(targets[sel], pred[sel], xerr=np.abs(ci[sel].T - targets[sel]), fmt="o", mfc=face,
                              mec=f"C{i}", ecolor=f"C{i}", alpha=0.8, markersize=5, capsize=0, elinewidth=0.6,
                              label=f"{METHOD_LABELS.get(name, name)} ({which})")
    finite = targets[np.isfinite(targets)]
    if finite.size:
        lo, hi = 0.0, 1.15 * float(np.nanmax(np.r_[finite, [np.nanmax(m.m_hat) for m in methods.values()]]))
        ax_p.plot([lo, hi], [lo, hi], color="0.3", lw=0.8)
    ax_p.set_xlabel(r"measured $M_{pt}$ (95% bootstrap interval)")
    ax_p.set_ylabel(r"predicted $\hat M_{pt}$ (fitted: relaxed; fixed: nearest M)")
    ax_p.set_title("(b) predicted vs measured (filled: train, open: held-out)")
    ax_p.legend(fontsize=6.5, ncol=2)
    ax_p.grid(True, alpha=0.3)

    # (c) M_pt / N against N, with implied M*/N lines
    ns = np.array([t.n for t in analysis.tuples], dtype=float)
    ds = sorted({t.d for t in analysis.tuples})
    ks = sorted({t.k for t in analysis.tuples})
    markers = "osD^v<>p*h"
    width = 0.25 * (np.min(np.diff(np.unique(ns))) if np.unique(ns).size > 1 else ns[0])
    for t_i, t in enumerate(analysis.tuples):
        if t.m_pt is None:
            continue
        jitter = width * ((ds.index(t.d) * len(ks) + ks.index(t.k)) / max(len(ds) * len(ks) - 1, 1) - 0.5)
        low, high = ci[t_i]
        ax_r.errorbar(t.n + jitter, t.m_pt / t.n,
                      yerr=[[(t.m_pt - low) / t.n if np.isfinite(low) else 0],
                            [(high - t.m_pt) / t.n if np.isfinite(high) else 0]],
                      fmt=markers[ks.index(t.k) % len(markers)], color=f"C{ds.index(t.d)}", markersize=5,
                      capsize=2, mfc="none" if analysis.split[t_i] == "test" else f"C{ds.index(t.d)}")
    for d_i, d in enumerate(ds):
        ax_r.plot([], [], "o", color=f"C{d_i}", label=f"d = {d}")
    for k_i, k in enumerate(ks):
        ax_r.plot([], [], markers[k_i % len(markers)], color="0.4", mfc="none", label=f"K = {k}")
    for name, ls in (("fitted_approx", "-"), ("x0_approx", "--"), ("eps_approx", ":")):
        if name in methods and methods[name].m_star_over_n is not None:
            value = methods[name].m_star_over_n
            ax_r.axhline(value, color="0.2", ls=ls, lw=1, label=f"M*/N, {METHOD_LABELS[name]}: {value:.3f}")
    ax_r.axhline(0.8, color="C3", lw=0.8, ls="-.", label="paper: 4/5")
    ax_r.set_xlabel("N (points jittered by d, K)")
    ax_r.set_ylabel(r"$M_{pt}/N$")
    ax_r.set_title(r"(c) measured $M_{pt}/N$ (95% bootstrap interval)")
    ax_r.legend(fontsize=7, ncol=2)
    ax_r.grid(True, alpha=0.3)

    # (d) memorization ratio curves
    unique_n = sorted({t.n for t in analysis.tuples})
    for t in analysis.tuples:
        ms = np.array(t.m_values, dtype=float)
        ax_m.plot(ms / t.n, t.ratios, "-", lw=0.8, alpha=0.7, color=f"C{unique_n.index(t.n)}")
    for i, n in enumerate(unique_n):
        ax_m.plot([], [], color=f"C{i}", label=f"N = {n}")
    ax_m.axhline(0.5, color="0.4", ls=":", lw=0.8)
    ax_m.set_xlabel("M / N")
    ax_m.set_ylabel("memorization ratio")
    ax_m.set_title("(d) memorization ratio of the trained models")
    ax_m.legend(fontsize=8)
    ax_m.grid(True, alpha=0.3)
    return fig


# ----------------------------------------------------------------------------------------------------
# Run
# ----------------------------------------------------------------------------------------------------


def _errors_json(method) -> dict:
    from dataclasses import asdict

    return {which: (None if summary is None else asdict(summary)) for which, summary in method.errors.items()}


def _summary_json(analysis, settings, analysis_settings, options, sweep, timings) -> dict:
    import platform
    from dataclasses import asdict

    import jax
    import matplotlib
    import numpy
    import scipy

    from memlab import __version__
    from memlab._jaxcfg import device_summary

    methods = {}
    for name, method in analysis.methods.items():
        entry = {"losses": method.losses, "errors": _errors_json(method), "m_star_over_n": method.m_star_over_n,
                 "mean_crossover_over_n": float(numpy.nanmean(method.crossover / numpy.array(
                     [t.n for t in analysis.tuples]))),
                 "weights": method.weights}
        if method.fit is not None:
            fit = method.fit
            entry["fit"] = {"objective": fit.objective, "mse": fit.mse, "mean_entropy": fit.mean_entropy,
                            "start": fit.start, "starts": [list(s) for s in fit.starts], "converged": fit.converged,
                            "iterations": fit.iterations, "message": fit.message}
        methods[name] = entry
    return {
        "figure": 3,
        "settings": {**{k: v for k, v in asdict(settings).items() if k != "training"},
                     "training": dict(settings.training)},
        "analysis": asdict(analysis_settings),
        "cache_dir": str(options.cache_dir),
        "executor": options.executor,
        "tuples": [{"n": t.n, "d": t.d, "k": t.k, "split": s, "m_pt": t.m_pt, "m_pt_ci": list(t.m_pt_ci),
                    "m_start": t.m_start, "m_end": t.m_end, "m_values": list(t.m_values), "ratios": list(t.ratios)}
                   for t, s in zip(analysis.tuples, analysis.split)],
        "methods": methods,
        "notes": list(analysis.notes) + [
            "m_hat: softmax-relaxed prediction (App. H.3, what the fit minimises); m_nearest: nearest M to the "
            "crossover (eq. 15); crossover: continuous zero of the integrated gap (NaN/null: outside 1..N)",
            "errors: relative (pred - M_pt)/M_pt over the tuples of each split; mse_rel is eq. 30's MSE term",
            "normalisation (span / per_dim): losses divided by d sigma_*^2 and lambda by its mean; span also "
            "rescales the integrated gap to the approximation's drop over M. With the approximate losses only "
            "E_t[lambda/(psi sigma2+1)]/E_t[lambda] is identifiable, so the fitted approx curve is one of many "
            "equivalent weightings"],
        "versions": {"memlab": __version__, "python": platform.python_version(), "jax": jax.__version__,
                     "numpy": numpy.__version__, "scipy": scipy.__version__, "matplotlib": matplotlib.__version__},
        "device": device_summary(),
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "runs": {"executed_now": sweep.executed, "from_cache": sweep.cached},
        "timings": {**timings, "sum_of_run_seconds": sweep.run_seconds, "sum_of_exact_seconds": sweep.exact_seconds},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def run(args) -> int:
    from memlab._errors import InvalidInputError
    from memlab._jaxcfg import enable_compilation_cache, enable_float64

    started = time.perf_counter()
    settings, analysis_settings, options = settings_from_args(args)
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInputError(f"--out {out_dir} exists and is not a folder")
    enable_float64()
    enable_compilation_cache()
    from memlab import numerics
    from memlab._io import save_figure, write_csv, write_json
    from memlab.paper_figs._figure3_analysis import analyze, csv_table
    from memlab.paper_figs._figure3_sweep import run_figure3_sweep

    tuples = settings.tuples()
    print(f"memlab figure 3: {len(tuples)} tuples (N in {settings.ns}, d in {settings.ds}, K in {settings.ks}), "
          f"preset {settings.preset}, {settings.training['epochs']} epochs, grid of {settings.multiples} + "
          f"{settings.refine} models per tuple, cache {options.cache_dir}", file=sys.stderr)
    sweep_start = time.perf_counter()
    sweep = run_figure3_sweep(settings, options, normalize=analysis_settings.normalize, c=analysis_settings.c)
    sweep_s = time.perf_counter() - sweep_start
    analysis_start = time.perf_counter()
    analysis = analyze(sweep.outcomes, analysis_settings)
    analysis_s = time.perf_counter() - analysis_start

    t = numerics.timestep_grid(analysis_settings.steps)
    _, _, psi = numerics.schedule_coefficients(t, analysis_settings.schedule)
    plot_start = time.perf_counter()
    fig = _plot(analysis, psi)
    fig.suptitle(f"Figure 3 — phase transition across {len(tuples)} (N, d, K) tuples, preset {settings.preset}, "
                 f"{settings.training['epochs']} epochs; regression tau={analysis_settings.tau:g}, "
                 f"beta={analysis_settings.beta:g}, C={analysis_settings.c:g}, {analysis_settings.normalize}",
                 fontsize=10)
    plot_s = time.perf_counter() - plot_start

    out_dir.mkdir(parents=True, exist_ok=True)
    written = save_figure(fig, out_dir / STEM)
    header, rows = csv_table(analysis)
    written.append(write_csv(out_dir / f"{STEM}.csv", header, rows))
    weight_header = ["l", "t", "psi"] + [f"lambda_{name}" for name in analysis.methods]
    weight_rows = [[i, float(t[i]), float(psi[i])] + [float(m.weights[i]) for m in analysis.methods.values()]
                   for i in range(t.size)]
    written.append(write_csv(out_dir / f"{STEM}_weights.csv", weight_header, weight_rows))
    timings = {"sweep_s": sweep_s, "analysis_s": analysis_s, "plot_s": plot_s,
               "total_s": time.perf_counter() - started}
    written.append(write_json(out_dir / f"{STEM}.json",
                              _summary_json(analysis, settings, analysis_settings, options, sweep, timings)))

    for tup, split in zip(analysis.tuples, analysis.split):
        ci = tup.m_pt_ci
        m_pt = "not reached" if tup.m_pt is None else f"{tup.m_pt} ({tup.m_pt / tup.n:.3f} N)"
        print(f"N={tup.n:4d} d={tup.d:3d} K={tup.k:3d} [{split:8s}] M_pt = {m_pt}, 95% CI "
              f"{ci[0]}..{ci[1] if ci[1] is not None else 'beyond sweep'}")
    print("relative error (pred - M_pt)/M_pt, RMS over tuples: relaxed M_hat | nearest M")
    for name, method in analysis.methods.items():
        parts = []
        for which in ("train", "test"):
            relaxed, nearest = method.errors[which], method.errors[f"{which}_nearest"]
            if relaxed is None:
                parts.append(f"{which} n/a")
            else:
                parts.append(f"{which} {relaxed.rmse_rel:.4f} | {nearest.rmse_rel:.4f} "
                             f"(mean |err| {relaxed.mean_abs:.2f} | {nearest.mean_abs:.2f} M)")
        extra = f"; M*/N = {method.m_star_over_n:.4f}" if method.m_star_over_n is not None else ""
        print(f"{name:14s}: " + "; ".join(parts) + extra)
    print(f"{sweep.executed} runs executed, {sweep.cached} from the cache; {timings['total_s']:.0f} s; wrote "
          + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0
