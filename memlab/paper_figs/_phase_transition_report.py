"""Tables, metadata and plots shared by Figures 2, 6 and 7 (the phase-transition experiment)."""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from memlab.paper_figs._phase_transition import EVAL_T_INDEX, ExperimentSettings, SeedResult

__all__ = ["figure2_rows", "metadata", "plot_loss_panel", "plot_ratio_panel", "shade_transition", "transition_json",
           "write_outputs"]

FIGURE2_COLUMNS = ["seed", "m", "memorization_ratio", "memorization_ci_low", "memorization_ci_high",
                   "train_loss", "train_loss_se", "test_loss", "test_loss_se", "learned_variance",
                   "dist_nearest_train", "dist_nearest_true_mean", "final_objective", "train_seconds"]


def run_figure_experiment(args, *, single_seed_figure: int | None = None):
    """The common start of Figures 2, 6 and 7: JAX set-up, settings from the flags, the cached sweep.

    Enables float64 and the persistent compilation cache (CLI only), reads the settings, checks that a
    one-seed figure got one seed, runs (or reloads) the experiment. Returns
    ``(settings, results, seconds, pyplot)`` with matplotlib on the Agg backend.
    """
    from memlab._errors import InvalidInputError
    from memlab._jaxcfg import enable_compilation_cache, enable_float64
    from memlab.paper_figs._phase_transition import run_experiment, settings_from_args

    enable_float64()
    enable_compilation_cache()  # a re-run skips most JIT compilation (MEMLAB_JAX_CACHE=0: off)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = settings_from_args(args)
    if single_seed_figure is not None and len(settings.seeds) != 1:
        raise InvalidInputError(f"figure {single_seed_figure} uses one seed (--seeds S); figure 7 shows several "
                             "seeds with min-max bands")
    started = time.perf_counter()
    results = run_experiment(settings, args)
    return settings, results, time.perf_counter() - started, plt


def figure2_rows(results: Sequence[SeedResult]) -> list[list[Any]]:
    return [[r.seed, m] + [run[c] for c in FIGURE2_COLUMNS[2:]] for r in results for m, run in zip(r.m_values, r.runs)]


def baseline_rows(results: Sequence[SeedResult]) -> tuple[list[str], list[list[Any]]]:
    """x_hat_*, x_hat_mem, x_hat_pmem,M on the evaluation noise (``source`` = eval), and the train-set curve for
    every M from ``mc_excess_losses`` (``source`` = excess_engine; its SE is the excess term's)."""
    header = ["seed", "source", "denoiser", "m", "train_loss", "train_loss_se", "test_loss", "test_loss_se"]
    rows = []
    for r in results:
        b = r.baselines
        rows.extend([r.seed, "excess_engine", "x_hat_pmem", m, loss, se, "", ""] for m, loss, se in
                    zip(b["pmem_all_m"], b["pmem_all_train_loss"], b["pmem_all_train_excess_se"]))
        for name in ("star", "mem"):
            rows.append([r.seed, "eval", f"x_hat_{name}", ""] + [b[f"{name}_{k}"] for k in
                                                          ("train_loss", "train_loss_se", "test_loss", "test_loss_se")])
        for i, m in enumerate(b["pmem_m"]):
            rows.append([r.seed, "eval", "x_hat_pmem", m] + [b[f"pmem_{k}"][i] for k in
                                                     ("train_loss", "train_loss_se", "test_loss", "test_loss_se")])
    return header, rows


def m_pt_bracket(result: SeedResult) -> list[int | None]:
    """Grid resolution of M_pt: (the sweep's M just below M_pt, M_pt) — M_pt of a finer grid lies in between."""
    m_pt = result.transition.m_pt
    if m_pt is None:
        return [max(result.m_values), None]
    below = [m for m in result.m_values if m < m_pt]
    return [max(below) if below else None, m_pt]


def transition_json(result: SeedResult) -> dict[str, Any]:
    t = result.transition
    return {"seed": result.seed, "m_start": t.m_start, "m_start_ci": list(t.m_start_ci), "m_pt": t.m_pt,
            "m_pt_ci": list(t.m_pt_ci), "m_pt_grid_bracket": m_pt_bracket(result), "m_end": t.m_end,
            "m_end_ci": list(t.m_end_ci), "confidence": t.confidence,
            "note": "M_pt = first M of the sweep with memorization ratio >= 1/2; start: > 1/10; end: > 9/10; "
                    "CIs: percentile bootstrap over each model's samples (they can only take grid values, so a "
                    "sharp transition gives a point CI; m_pt_grid_bracket = (previous grid M, M_pt] is the grid "
                    "resolution); null = not reached within the sweep"}


def metadata(s: ExperimentSettings, args, *, seconds: float, figure: int) -> dict[str, Any]:
    import jax
    import matplotlib
    import numpy
    import scipy

    from memlab import __version__
    from memlab._jaxcfg import device_summary
    from memlab.paper_figs._phase_transition import EVAL_T_INDEX

    return {
        "figure": figure,
        "settings": asdict(s),
        "eval_t_index": EVAL_T_INDEX,
        "weighting": "eps (lambda = psi_t)",
        "schedule": "vp",
        "cache_dir": str(args.cache_dir),
        "executor": args.executor,
        "versions": {"memlab": __version__, "python": platform.python_version(), "jax": jax.__version__,
                     "numpy": numpy.__version__, "scipy": scipy.__version__, "matplotlib": matplotlib.__version__},
        "device": device_summary(),
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "timings": {"wall_seconds": seconds},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def shade_transition(ax, result: SeedResult, *, label: bool = True) -> None:
    t = result.transition
    if t.m_start is not None:
        end = t.m_end if t.m_end is not None else max(result.m_values)
        ax.axvspan(t.m_start, end, color="0.85", zorder=0,
                   label="transition (ratio > 1/10 to > 9/10)" if label else None)


def plot_ratio_panel(ax, result: SeedResult, *, m_star: dict[str, float] | None) -> None:
    ms = np.asarray(result.m_values)
    ratio = np.array([r["memorization_ratio"] for r in result.runs])
    low = np.array([r["memorization_ci_low"] for r in result.runs])
    high = np.array([r["memorization_ci_high"] for r in result.runs])
    shade_transition(ax, result)
    ax.errorbar(ms, ratio, yerr=[ratio - low, high - ratio], fmt="o-", color="C0", capsize=2,
                label="trained model (95% bootstrap CI)")
    ax.axhline(0.5, color="0.4", lw=0.8, ls=":")
    t = result.transition
    if t.m_pt is not None:
        ax.axvline(t.m_pt, color="C3", lw=1, ls="--", label=f"$M_{{pt}}$ = {t.m_pt}")
    styles = {"eps": ("C2", "-.", r"$\lambda=\psi_t$"), "x0": ("C5", (0, (1, 1)), r"$\lambda=1$")}
    for weighting, value in (m_star or {}).items():
        color, style, label = styles.get(weighting, ("C7", "-.", weighting))
        ax.axvline(value, color=color, lw=1, ls=style, label=f"$M^*$ (eq. 14, {label}) = {value:.1f}")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("model size M")
    ax.set_ylabel("memorization ratio")
    ax.set_title("Memorization ratio")


def plot_loss_panel(ax, result: SeedResult, *, which: str, psi: float) -> None:
    """Trained-model loss at t_16 (points with SE bars) against x_hat_*, x_hat_mem and x_hat_pmem,M."""
    b = result.baselines
    ms = np.asarray(result.m_values)
    shade_transition(ax, result, label=False)
    if which == "train" and "pmem_all_m" in b:  # every M, from gpu_kernels.mc_excess_losses (eq. 13)
        ax.plot(b["pmem_all_m"], b["pmem_all_train_loss"], "-", color="C1", label=r"$\hat x_{pmem,M}$")
    else:
        ax.plot(b["pmem_m"], b[f"pmem_{which}_loss"], "-", color="C1", label=r"$\hat x_{pmem,M}$")
    ax.axhline(b[f"star_{which}_loss"], color="C2", ls="--", label=r"$\hat x_*$")
    ax.axhline(b[f"mem_{which}_loss"], color="C4", ls=":", label=r"$\hat x_{mem}$")
    values = np.array([r[f"{which}_loss"] for r in result.runs])
    errors = np.array([r[f"{which}_loss_se"] for r in result.runs])
    ax.errorbar(ms, values, yerr=errors, fmt="o", color="C0", capsize=2, label="trained model (± SE)")
    ax.set_xlabel("model size M")
    ax.set_ylabel(f"{'training' if which == 'train' else 'held-out test'} loss")
    ax.set_title(f"{'Training' if which == 'train' else 'Test'} loss, $\\psi_t$ = {psi:.3f} ($t_{{16}}$)")


def psi_t16() -> float:
    from memlab import numerics

    return float(numerics.schedule_coefficients(numerics.timestep_grid()[EVAL_T_INDEX])[2])


def write_outputs(out: Path, stem: str, fig, *, csv_header, csv_rows, json_obj, extra_csv=None) -> list[Path]:
    """PNG + PDF + CSV (+ extra CSVs) + JSON into ``out`` (atomic writes)."""
    from memlab._io import save_figure, write_csv, write_json

    out.mkdir(parents=True, exist_ok=True)
    written = save_figure(fig, out / stem)
    written.append(write_csv(out / f"{stem}.csv", csv_header, csv_rows))
    for suffix, (header, rows) in (extra_csv or {}).items():
        written.append(write_csv(out / f"{stem}_{suffix}.csv", header, rows))
    written.append(write_json(out / f"{stem}.json", json_obj))
    return written
