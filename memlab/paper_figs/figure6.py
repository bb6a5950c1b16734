"""Figure 6 (App. H.5): what the trained models learned, vs the model size M.

Left: the learned shared variance. Middle: mean distance of a learned mean to its nearest training
sample. Right: mean distance of a learned mean to the nearest true mean. The transition (memorization
ratio > 1/10 to > 9/10) is shaded. The same runs as Figures 2 and 7 (``compute`` is theirs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from memlab._io import result_set
from memlab.paper_figs import _phase_transition_report as report
from memlab.paper_figs._phase_transition_report import PhaseTransitionResult, compute

__all__ = ["COLUMNS", "DESCRIPTION", "STEM", "compute", "describe", "plot", "save"]

DESCRIPTION = (
    "Figure 6: learned variance and distances of learned means to the nearest training sample / "
    "true mean vs model size M (same runs as Figure 2)"
)
STEM = "figure6"
COLUMNS = ["seed", "m", "learned_variance", "dist_nearest_train", "dist_nearest_true_mean", "memorization_ratio"]
_PANELS = (
    ("learned_variance", "learned variance $\\sigma^2$", "Learned variance"),
    ("dist_nearest_train", "mean distance", "Dist. to nearest sample"),
    ("dist_nearest_true_mean", "mean distance", "Dist. to nearest true mean"),
)


def plot(result: PhaseTransitionResult) -> Figure:
    fig = Figure(figsize=(15, 4.2), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (key, ylabel, title) in zip(axes, _PANELS):
        for i, seed in enumerate(result.seeds):
            report.shade_transition(ax, seed, label=(i == 0 and key == "learned_variance"))
        for i, seed in enumerate(result.seeds):
            ax.plot(seed.m_values, [run[key] for run in seed.runs], "o-", color=f"C{i}", label=f"seed {seed.seed}")
        if key == "learned_variance":
            ax.axhline(result.settings.sigma2, color="0.4", ls="--", lw=0.8, label="$\\sigma_*^2$")
            ax.set_yscale("log")
        ax.set(xlabel="model size M", ylabel=ylabel, title=title)
    axes[0].legend(fontsize=7)
    s = result.settings
    fig.suptitle(f"Figure 6 — N={s.n}, d={s.d}, K={s.k}, {s.recipe.epochs} epochs, preset {s.preset}", fontsize=10)
    return fig


def _rows(result: PhaseTransitionResult) -> list[list]:
    return [
        [seed.seed, m] + [run[c] for c in COLUMNS[2:]]
        for seed in result.seeds
        for m, run in zip(seed.m_values, seed.runs)
    ]


def save(result: PhaseTransitionResult, folder: str | Path) -> list[Path]:
    rows = _rows(result)
    summary = report.metadata(
        result,
        figure=6,
        transition=[report.transition_json(s) for s in result.seeds],
        per_m=[dict(zip(COLUMNS, row)) for row in rows],
    )
    with result_set(folder) as out:
        written = out.figure(STEM, plot(result))
        written.append(out.csv(f"{STEM}.csv", COLUMNS, rows))
        written.append(out.json(f"{STEM}.json", summary))
    return written


def describe(result: PhaseTransitionResult) -> str:
    lines = []
    for seed in result.seeds:
        variances = np.array([run["learned_variance"] for run in seed.runs])
        lines.append(
            f"seed {seed.seed}: learned variance from {variances[0]:.3g} (M={seed.m_values[0]}) "
            f"to {variances[-1]:.3g} (M={seed.m_values[-1]})"
        )
    return "\n".join(lines)
