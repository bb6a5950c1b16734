"""Figure 6 (App. H.5): what the trained models learned, vs the model size M.

Left: the learned shared variance. Middle: mean distance of a learned mean to its nearest training
sample. Right: mean distance of a learned mean to the nearest true mean. The transition (memorization
ratio > 1/10 to > 9/10) is shaded. Uses the same cached runs as Figures 2 and 7.
"""

from __future__ import annotations

import sys

DESCRIPTION = ("Figure 6: learned variance and distances of learned means to the nearest training sample / "
               "true mean vs model size M (same runs as Figure 2)")

COLUMNS = ["seed", "m", "learned_variance", "dist_nearest_train", "dist_nearest_true_mean", "memorization_ratio"]


def add_arguments(parser) -> None:
    from memlab.paper_figs._phase_transition import add_experiment_arguments

    add_experiment_arguments(parser, figure=6, default_seeds="0")


def run(args) -> int:
    import numpy as np

    from memlab.paper_figs import _phase_transition_report as report

    settings, results, seconds, plt = report.run_figure_experiment(args)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    panels = (("learned_variance", "learned variance $\\sigma^2$", "Learned variance"),
              ("dist_nearest_train", "mean distance", "Dist. to nearest sample"),
              ("dist_nearest_true_mean", "mean distance", "Dist. to nearest true mean"))
    for ax, (key, ylabel, title) in zip(axes, panels):
        for i, result in enumerate(results):
            report.shade_transition(ax, result, label=(i == 0 and key == "learned_variance"))
        for i, result in enumerate(results):
            values = [run[key] for run in result.runs]
            ax.plot(result.m_values, values, "o-", color=f"C{i}", label=f"seed {result.seed}")
        if key == "learned_variance":
            ax.axhline(settings.sigma2, color="0.4", ls="--", lw=0.8, label="$\\sigma_*^2$")
            ax.set_yscale("log")
        ax.set_xlabel("model size M")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
    axes[0].legend(fontsize=7)
    s = settings
    fig.suptitle(f"Figure 6 — N={s.n}, d={s.d}, K={s.k}, {s.epochs} epochs, preset {s.preset}", fontsize=10)
    fig.tight_layout()
    rows = [[r.seed, m] + [run[c] for c in COLUMNS[2:]] for r in results for m, run in zip(r.m_values, r.runs)]
    summary = {**report.metadata(settings, args, seconds=seconds, figure=6),
               "transition": [report.transition_json(r) for r in results],
               "per_m": [dict(zip(COLUMNS, row)) for row in rows]}
    written = report.write_outputs(args.out, "figure6", fig, csv_header=COLUMNS, csv_rows=rows, json_obj=summary)
    plt.close(fig)
    for r in results:
        variances = np.array([run["learned_variance"] for run in r.runs])
        print(f"seed {r.seed}: learned variance from {variances[0]:.3g} (M={r.m_values[0]}) "
              f"to {variances[-1]:.3g} (M={r.m_values[-1]})")
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0
