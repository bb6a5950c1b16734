"""Figure 3: the memorization phase transition M_pt across (N, d, K), predicted by the crossover of the
lambda-integrated training losses (App. H.3's loss-weighting regression), tested against fixed weightings.

``compute(settings)`` trains the models of every tuple through the cached sweep
(:mod:`memlab.paper_figs._figure3_sweep`), locates M_pt with a bootstrap interval, fits lambda on a
training subset of the tuples (approximate losses and exact Monte Carlo losses), and predicts every tuple
with the fitted and the fixed (x0, eps) weightings (:mod:`memlab.paper_figs._figure3_analysis`).
``save(result, folder)`` writes:

- ``figure3.png`` / ``figure3.pdf``: (a) the weightings against psi_t, (b) predicted vs measured M_pt,
  (c) M_pt/N with intervals against the implied M*/N, (d) the memorization ratios against M/N;
- ``figure3.csv``: one row per tuple, its measured M_pt, interval, split, and each method's predictions
  (``<method>_m_hat`` relaxed, ``<method>_m_nearest`` nearest M, ``<method>_crossover`` continuous zero);
- ``figure3_weights.csv``: the grid, psi_t and every method's lambda (mean 1);
- ``figure3.json``: settings, versions, seed, device, timings, errors per method and split, fits.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from memlab import numerics
from memlab._io import result_set
from memlab._metadata import run_metadata
from memlab._sweep import SweepOptions
from memlab.paper_figs._figure3_analysis import Figure3Analysis, analyze, csv_table, regression_config
from memlab.paper_figs._figure3_sweep import SweepResult, run_figure3_sweep
from memlab.paper_figs._presets import PHASE_TRANSITION_CACHE
from memlab.paper_figs._settings import Figure3Settings

__all__ = ["DESCRIPTION", "STEM", "Figure3Result", "compute", "describe", "plot", "save"]

DESCRIPTION = (
    "Figure 3: phase transition M_pt across (N, d, K) and the loss-weighting regression (App. H.3); "
    "--preset cpu runs on a laptop"
)
STEM = "figure3"
WEIGHT_FLOOR = 1e-8
METHOD_LABELS = {
    "fitted_approx": "fitted $\\lambda$, approx. losses",
    "fitted_exact": "fitted $\\lambda$, exact losses",
    "x0_approx": "$\\lambda=1$ (x0), approx.",
    "eps_approx": "$\\lambda=\\psi_t$ (eps), approx.",
    "x0_exact": "$\\lambda=1$ (x0), exact",
    "eps_exact": "$\\lambda=\\psi_t$ (eps), exact",
}


@dataclass(frozen=True, eq=False)
class Figure3Result:
    """Figure 3's numbers: the sweep's per-tuple outcomes and the analysis (every method's predictions).

    t, psi: (T,) the grid the weightings live on; sweep: run counts and timings; seconds: wall time of the
    sweep and of the analysis.
    """

    settings: Figure3Settings
    sweep: SweepResult
    analysis: Figure3Analysis
    t: np.ndarray
    psi: np.ndarray
    sweep_options: SweepOptions
    seconds: Mapping[str, float]


def compute(settings: Figure3Settings, *, sweep: SweepOptions | None = None) -> Figure3Result:
    """Train (or load) every tuple's models, locate M_pt, fit and test the loss weightings."""
    sweep = SweepOptions(cache_dir=PHASE_TRANSITION_CACHE) if sweep is None else sweep
    regression_config(settings.analysis)  # validates tau and beta before any training
    started = time.perf_counter()
    outcome = run_figure3_sweep(settings, sweep)
    sweep_s = time.perf_counter() - started
    started = time.perf_counter()
    analysis = analyze(outcome.outcomes, settings.analysis, sigma2=settings.sigma2)
    analysis_s = time.perf_counter() - started
    t = numerics.timestep_grid(settings.analysis.steps)
    _, _, psi = numerics.schedule_coefficients(t, settings.analysis.schedule)
    return Figure3Result(
        settings=settings,
        sweep=outcome,
        analysis=analysis,
        t=t,
        psi=psi,
        sweep_options=sweep,
        seconds={"sweep_s": sweep_s, "analysis_s": analysis_s},
    )


# ----------------------------------------------------------------------------------------------------
# Plot
# ----------------------------------------------------------------------------------------------------


def _plot(analysis: Figure3Analysis, psi: np.ndarray) -> Figure:
    fig = Figure(figsize=(13, 10), layout="constrained")
    (ax_w, ax_p), (ax_r, ax_m) = fig.subplots(2, 2)
    methods = analysis.methods
    order = np.argsort(psi)

    # (a) weightings against psi_t (mean 1; weights below WEIGHT_FLOOR drawn at the floor)
    for i, (name, method) in enumerate(methods.items()):
        if name.startswith("fitted") or name.endswith("_approx"):
            style = "-o" if name.startswith("fitted") else "--"
            ax_w.plot(
                psi[order],
                np.maximum(method.weights[order], WEIGHT_FLOOR),
                style,
                markersize=3,
                color=f"C{i}",
                label=METHOD_LABELS.get(name, name),
            )
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
                ax_p.errorbar(
                    targets[sel],
                    pred[sel],
                    xerr=np.abs(ci[sel].T - targets[sel]),
                    fmt="o",
                    mfc=face,
                    mec=f"C{i}",
                    ecolor=f"C{i}",
                    alpha=0.8,
                    markersize=5,
                    capsize=0,
                    elinewidth=0.6,
                    label=f"{METHOD_LABELS.get(name, name)} ({which})",
                )
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
        ax_r.errorbar(
            t.n + jitter,
            t.m_pt / t.n,
            yerr=[
                [(t.m_pt - low) / t.n if np.isfinite(low) else 0],
                [(high - t.m_pt) / t.n if np.isfinite(high) else 0],
            ],
            fmt=markers[ks.index(t.k) % len(markers)],
            color=f"C{ds.index(t.d)}",
            markersize=5,
            capsize=2,
            mfc="none" if analysis.split[t_i] == "test" else f"C{ds.index(t.d)}",
        )
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


def plot(result: Figure3Result) -> Figure:
    """The four panels of Figure 3."""
    s, a = result.settings, result.analysis.settings
    fig = _plot(result.analysis, result.psi)
    fig.suptitle(
        f"Figure 3 — phase transition across {len(s.tuples())} (N, d, K) tuples, preset {s.preset}, "
        f"{s.recipe.epochs} epochs; regression tau={a.tau:g}, beta={a.beta:g}, C={a.c:g}, {a.normalize}",
        fontsize=10,
    )
    return fig


def _errors_json(method) -> dict:
    return {which: (None if summary is None else asdict(summary)) for which, summary in method.errors.items()}


def _summary_json(result: Figure3Result, timings: Mapping[str, float]) -> dict:
    analysis, settings, sweep = result.analysis, result.settings, result.sweep
    methods = {}
    for name, method in analysis.methods.items():
        entry = {
            "losses": method.losses,
            "errors": _errors_json(method),
            "m_star_over_n": method.m_star_over_n,
            "mean_crossover_over_n": float(np.nanmean(method.crossover / np.array([t.n for t in analysis.tuples]))),
            "weights": method.weights,
        }
        if method.fit is not None:
            fit = method.fit
            entry["fit"] = {
                "objective": fit.objective,
                "mse": fit.mse,
                "mean_entropy": fit.mean_entropy,
                "start": fit.start,
                "starts": [list(s) for s in fit.starts],
                "converged": fit.converged,
                "iterations": fit.iterations,
                "message": fit.message,
            }
        methods[name] = entry
    return {
        "figure": 3,
        "settings": asdict(settings),
        "cache_dir": str(result.sweep_options.cache_dir),
        "executor": result.sweep_options.executor,
        "tuples": [
            {
                "n": t.n,
                "d": t.d,
                "k": t.k,
                "split": s,
                "m_pt": t.m_pt,
                "m_pt_ci": list(t.m_pt_ci),
                "m_start": t.m_start,
                "m_end": t.m_end,
                "m_values": list(t.m_values),
                "ratios": list(t.ratios),
            }
            for t, s in zip(analysis.tuples, analysis.split)
        ],
        "methods": methods,
        "notes": [
            *analysis.notes,
            "m_hat: softmax-relaxed prediction (App. H.3, what the fit minimises); m_nearest: nearest M to the "
            "crossover (eq. 15); crossover: continuous zero of the integrated gap (NaN/null: outside 1..N)",
            "errors: relative (pred - M_pt)/M_pt over the tuples of each split; mse_rel is eq. 30's MSE term",
            "normalisation (span / per_dim): losses divided by d sigma_*^2 and lambda by its mean; span also "
            "rescales the integrated gap to the approximation's drop over M. With the approximate losses only "
            "E_t[lambda/(psi sigma2+1)]/E_t[lambda] is identifiable, so the fitted approx curve is one of many "
            "equivalent weightings",
        ],
        "runs": {"executed_now": sweep.executed, "from_cache": sweep.cached},
        **run_metadata(
            timings={**timings, "sum_of_run_seconds": sweep.run_seconds, "sum_of_exact_seconds": sweep.exact_seconds}
        ),
    }


def save(result: Figure3Result, folder: str | Path) -> list[Path]:
    """Write figure3.png/.pdf, figure3.csv, figure3_weights.csv and figure3.json into ``folder`` as one set."""
    started = time.perf_counter()
    fig = plot(result)
    timings = {**result.seconds, "plot_s": time.perf_counter() - started}
    t, psi, methods = result.t, result.psi, result.analysis.methods
    weight_header = ["l", "t", "psi"] + [f"lambda_{name}" for name in methods]
    weight_rows = [
        [i, float(t[i]), float(psi[i])] + [float(m.weights[i]) for m in methods.values()] for i in range(t.size)
    ]
    with result_set(folder) as out:
        written = out.figure(STEM, fig)
        written.append(out.csv(f"{STEM}.csv", *csv_table(result.analysis)))
        written.append(out.csv(f"{STEM}_weights.csv", weight_header, weight_rows))
        written.append(out.json(f"{STEM}.json", _summary_json(result, timings)))
    return written


def describe(result: Figure3Result) -> str:
    """One line per tuple (M_pt with its interval), then each method's relative errors."""
    analysis = result.analysis
    lines = []
    for tup, split in zip(analysis.tuples, analysis.split):
        ci = tup.m_pt_ci
        m_pt = "not reached" if tup.m_pt is None else f"{tup.m_pt} ({tup.m_pt / tup.n:.3f} N)"
        lines.append(
            f"N={tup.n:4d} d={tup.d:3d} K={tup.k:3d} [{split:8s}] M_pt = {m_pt}, 95% CI "
            f"{ci[0]}..{ci[1] if ci[1] is not None else 'beyond sweep'}"
        )
    lines.append("relative error (pred - M_pt)/M_pt, RMS over tuples: relaxed M_hat | nearest M")
    for name, method in analysis.methods.items():
        parts = []
        for which in ("train", "test"):
            relaxed, nearest = method.errors[which], method.errors[f"{which}_nearest"]
            if relaxed is None or nearest is None:
                parts.append(f"{which} n/a")
            else:
                parts.append(
                    f"{which} {relaxed.rmse_rel:.4f} | {nearest.rmse_rel:.4f} "
                    f"(mean |err| {relaxed.mean_abs:.2f} | {nearest.mean_abs:.2f} M)"
                )
        extra = f"; M*/N = {method.m_star_over_n:.4f}" if method.m_star_over_n is not None else ""
        lines.append(f"{name:14s}: " + "; ".join(parts) + extra)
    lines.append(f"{result.sweep.executed} runs executed, {result.sweep.cached} from the cache")
    return "\n".join(lines)
