"""Figure 7 (App. H.5): Figure 2 over several seeds (default three), with min-max bands.

Each seed draws its own data set, initialisation, training noise, DDIM starting points and evaluation
noise. Lines are the across-seed median; bands span min to max over seeds (of the memorization ratio, of
the trained models' losses and of the baselines). Runs are shared with Figure 2 through the sweep cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from memlab._io import result_set
from memlab.paper_figs import _phase_transition_report as report
from memlab.paper_figs._phase_transition_report import PhaseTransitionResult, compute

__all__ = ["DESCRIPTION", "STEM", "compute", "describe", "plot", "save"]

DESCRIPTION = "Figure 7: Figure 2 over three seeds with min-max bands (shares cached runs with Figure 2)"
STEM = "figure7"


def _band(ax: Axes, x, values, *, color, label, marker="o") -> None:
    values = np.asarray(values, dtype=float)  # (seeds, len(x))
    ax.fill_between(x, values.min(axis=0), values.max(axis=0), color=color, alpha=0.25, lw=0)
    ax.plot(x, np.median(values, axis=0), marker=marker, ls="-", color=color, label=label, ms=4)


def plot(result: PhaseTransitionResult) -> Figure:
    seeds = result.seeds
    grid = list(result.settings.m_values)  # bands need a common M grid: refinement points differ between seeds

    def per_seed(key):
        return [[run[key] for m, run in zip(r.m_values, r.runs) if m in grid] for r in seeds]

    psi = report.psi_t16()
    fig = Figure(figsize=(15, 4.2), layout="constrained")
    axes = fig.subplots(1, 3)
    ax = axes[0]
    starts = [r.transition.m_start for r in seeds if r.transition.m_start is not None]
    ends = [
        r.transition.m_end if r.transition.m_end is not None else max(grid)
        for r in seeds
        if r.transition.m_start is not None
    ]
    if starts:
        ax.axvspan(min(starts), max(ends), color="0.85", zorder=0, label="transition (any seed)")
    _band(ax, grid, per_seed("memorization_ratio"), color="C0", label="trained model (median, min-max)")
    ax.axhline(0.5, color="0.4", lw=0.8, ls=":")
    ax.set_ylim(-0.03, 1.03)
    ax.set(xlabel="model size M", ylabel="memorization ratio", title="Memorization ratio")
    ax.legend(fontsize=7, loc="upper left")
    for ax, which in zip(axes[1:], ("train", "test")):
        if which == "train":  # every M, from gpu_kernels.mc_excess_losses
            pmem_m, pmem_values = seeds[0].baselines["pmem_all_m"], [r.baselines["pmem_all_train_loss"] for r in seeds]
        else:
            pmem_m, pmem_values = seeds[0].baselines["pmem_m"], [r.baselines["pmem_test_loss"] for r in seeds]
        _band(ax, pmem_m, pmem_values, color="C1", label=r"$\hat x_{pmem,M}$", marker="")
        for name, color, style in (("star", "C2", "--"), ("mem", "C4", ":")):
            values = [r.baselines[f"{name}_{which}_loss"] for r in seeds]
            ax.axhspan(min(values), max(values), color=color, alpha=0.25, lw=0)
            ax.axhline(
                float(np.median(values)),
                color=color,
                ls=style,
                label=r"$\hat x_*$" if name == "star" else r"$\hat x_{mem}$",
            )
        _band(ax, grid, per_seed(f"{which}_loss"), color="C0", label="trained model")
        ax.set(
            xlabel="model size M",
            ylabel=f"{'training' if which == 'train' else 'held-out test'} loss",
            title=f"{'Training' if which == 'train' else 'Test'} loss, $\\psi_t$ = {psi:.3f} ($t_{{16}}$)",
        )
    axes[1].legend(fontsize=7)
    s = result.settings
    fig.suptitle(
        f"Figure 7 — N={s.n}, d={s.d}, K={s.k}, {s.recipe.epochs} epochs, preset {s.preset}, "
        f"seeds {', '.join(map(str, s.seeds))}",
        fontsize=10,
    )
    return fig


def save(result: PhaseTransitionResult, folder: str | Path) -> list[Path]:
    seeds = result.seeds
    rows = report.figure2_rows(seeds)
    m_pts = [r.transition.m_pt for r in seeds if r.transition.m_pt is not None]
    summary = report.metadata(
        result,
        figure=7,
        transition=[report.transition_json(r) for r in seeds],
        m_pt_min_max=[min(m_pts, default=None), max(m_pts, default=None)],
        per_m=[dict(zip(report.FIGURE2_COLUMNS, row)) for row in rows],
    )
    with result_set(folder) as out:
        written = out.figure(STEM, plot(result))
        written.append(out.csv(f"{STEM}.csv", report.FIGURE2_COLUMNS, rows))
        written.append(out.csv(f"{STEM}_baselines.csv", *report.baseline_rows(seeds)))
        written.append(out.json(f"{STEM}.json", summary))
    return written


def describe(result: PhaseTransitionResult) -> str:
    return "\n".join(
        f"seed {r.seed}: M_pt = {r.transition.m_pt} (95% CI {r.transition.m_pt_ci[0]}..{r.transition.m_pt_ci[1]})"
        for r in result.seeds
    )
