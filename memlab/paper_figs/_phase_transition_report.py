"""Shared pieces of Figures 2, 6 and 7 (the phase-transition experiment): computing, tables, plots, JSON."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from memlab import numerics
from memlab._metadata import run_metadata
from memlab._sweep import SweepOptions
from memlab.paper_figs._phase_transition import EVAL_T_INDEX, SeedResult, crossover_m_star, run_experiment
from memlab.paper_figs._presets import PHASE_TRANSITION_CACHE
from memlab.paper_figs._settings import PhaseTransitionSettings

__all__ = [
    "FIGURE2_COLUMNS",
    "PhaseTransitionResult",
    "baseline_rows",
    "compute",
    "figure2_rows",
    "metadata",
    "plot_loss_panel",
    "plot_ratio_panel",
    "psi_t16",
    "shade_transition",
    "transition_json",
]

FIGURE2_COLUMNS = [
    "seed",
    "m",
    "memorization_ratio",
    "memorization_ci_low",
    "memorization_ci_high",
    "train_loss",
    "train_loss_se",
    "test_loss",
    "test_loss_se",
    "learned_variance",
    "dist_nearest_train",
    "dist_nearest_true_mean",
    "final_objective",
]


@dataclass(frozen=True)
class PhaseTransitionResult:
    """Figures 2, 6, 7's numbers: one :class:`SeedResult` per seed, the crossover M* beside them.

    seeds: per seed, the trained models' results by M (memorization ratio with its interval, losses with
    standard errors, learned variance, distances), the baselines and the transition; m_star: M* of eq. 14
    (C = 2) for lambda = psi_t (``eps``) and lambda = 1 (``x0``); seconds: wall time of the sweep.
    """

    settings: PhaseTransitionSettings
    seeds: list[SeedResult]
    m_star: dict[str, float]
    m_star_note: str
    sweep: SweepOptions
    seconds: float


def compute(settings: PhaseTransitionSettings, *, sweep: SweepOptions | None = None) -> PhaseTransitionResult:
    """Train (or load from the sweep cache) every model of ``settings`` and measure the transition."""
    sweep = SweepOptions(cache_dir=PHASE_TRANSITION_CACHE) if sweep is None else sweep
    started = time.perf_counter()
    seeds = run_experiment(settings, sweep)
    m_star, note = crossover_m_star(settings)
    return PhaseTransitionResult(
        settings=settings,
        seeds=seeds,
        m_star=m_star,
        m_star_note=note,
        sweep=sweep,
        seconds=time.perf_counter() - started,
    )


def figure2_rows(results: Sequence[SeedResult]) -> list[list[Any]]:
    return [[r.seed, m] + [run[c] for c in FIGURE2_COLUMNS[2:]] for r in results for m, run in zip(r.m_values, r.runs)]


def baseline_rows(results: Sequence[SeedResult]) -> tuple[list[str], list[list[Any]]]:
    """x_hat_*, x_hat_mem, x_hat_pmem,M on the evaluation noise (``source`` = eval), and the train-set curve for
    every M from ``mc_excess_losses`` (``source`` = excess_engine; its SE is the excess term's)."""
    header = ["seed", "source", "denoiser", "m", "train_loss", "train_loss_se", "test_loss", "test_loss_se"]
    rows: list[list[Any]] = []
    for r in results:
        b = r.baselines
        rows.extend(
            [r.seed, "excess_engine", "x_hat_pmem", m, loss, se, "", ""]
            for m, loss, se in zip(b["pmem_all_m"], b["pmem_all_train_loss"], b["pmem_all_train_excess_se"])
        )
        for name in ("star", "mem"):
            rows.append(
                [r.seed, "eval", f"x_hat_{name}", ""]
                + [b[f"{name}_{k}"] for k in ("train_loss", "train_loss_se", "test_loss", "test_loss_se")]
            )
        for i, m in enumerate(b["pmem_m"]):
            rows.append(
                [r.seed, "eval", "x_hat_pmem", m]
                + [b[f"pmem_{k}"][i] for k in ("train_loss", "train_loss_se", "test_loss", "test_loss_se")]
            )
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
    return {
        "seed": result.seed,
        "m_start": t.m_start,
        "m_start_ci": list(t.m_start_ci),
        "m_pt": t.m_pt,
        "m_pt_ci": list(t.m_pt_ci),
        "m_pt_grid_bracket": m_pt_bracket(result),
        "m_end": t.m_end,
        "m_end_ci": list(t.m_end_ci),
        "confidence": t.confidence,
        "note": "M_pt = first M of the sweep with memorization ratio >= 1/2; start: > 1/10; end: > 9/10; "
        "CIs: percentile bootstrap over each model's samples (they can only take grid values, so a "
        "sharp transition gives a point CI; m_pt_grid_bracket = (previous grid M, M_pt] is the grid "
        "resolution); null = not reached within the sweep",
    }


def metadata(result: PhaseTransitionResult, *, figure: int, **extra: Any) -> dict[str, Any]:
    """The JSON header of Figures 2, 6, 7: settings, weighting, cache, versions, device, timings."""
    return {
        "figure": figure,
        "settings": asdict(result.settings),
        "eval_t_index": EVAL_T_INDEX,
        "weighting": "eps (lambda = psi_t)",
        "schedule": "vp",
        "cache_dir": str(result.sweep.cache_dir),
        "executor": result.sweep.executor,
        **run_metadata(timings={"wall_seconds": result.seconds}),
        **extra,
    }


def shade_transition(ax: Axes, result: SeedResult, *, label: bool = True) -> None:
    t = result.transition
    if t.m_start is not None:
        end = t.m_end if t.m_end is not None else max(result.m_values)
        ax.axvspan(
            t.m_start, end, color="0.85", zorder=0, label="transition (ratio > 1/10 to > 9/10)" if label else None
        )


def plot_ratio_panel(ax: Axes, result: SeedResult, *, m_star: dict[str, float] | None) -> None:
    ms = np.asarray(result.m_values)
    ratio = np.array([r["memorization_ratio"] for r in result.runs])
    low = np.array([r["memorization_ci_low"] for r in result.runs])
    high = np.array([r["memorization_ci_high"] for r in result.runs])
    shade_transition(ax, result)
    ax.errorbar(
        ms,
        ratio,
        yerr=[ratio - low, high - ratio],
        fmt="o-",
        color="C0",
        capsize=2,
        label="trained model (95% Clopper-Pearson interval)",
    )
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


def plot_loss_panel(ax: Axes, result: SeedResult, *, which: str, psi: float) -> None:
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
    return float(numerics.schedule_coefficients(numerics.timestep_grid()[EVAL_T_INDEX])[2])
