"""Figure 7 (App. H.5): Figure 2 over several seeds (default three), with min-max bands.

Each seed draws its own data set, initialisation, training noise, DDIM starting points and evaluation
noise. Lines are the across-seed median; bands span min to max over seeds (of the memorization ratio, of
the trained models' losses and of the baselines). Runs are shared with Figure 2 through the sweep cache.
"""

from __future__ import annotations

import sys

DESCRIPTION = "Figure 7: Figure 2 over three seeds with min-max bands (shares cached runs with Figure 2)"


def add_arguments(parser) -> None:
    from memlab.paper_figs._phase_transition import add_experiment_arguments

    add_experiment_arguments(parser, figure=7, default_seeds="0,1,2")


def _band(ax, x, values, *, color, label, marker="o"):
    import numpy as np

    values = np.asarray(values, dtype=float)  # (seeds, len(x))
    ax.fill_between(x, values.min(axis=0), values.max(axis=0), color=color, alpha=0.25, lw=0)
    ax.plot(x, np.median(values, axis=0), marker=marker, ls="-", color=color, label=label, ms=4)


def run(args) -> int:
    import numpy as np

    from memlab.paper_figs import _phase_transition_report as report

    settings, results, seconds, plt = report.run_figure_experiment(args)
    # bands need a common M grid: the sweep grid (refinement points differ between seeds)
    grid = list(settings.m_values)

    def per_seed(key):
        return [[run[key] for m, run in zip(r.m_values, r.runs) if m in grid] for r in results]

    psi = report.psi_t16()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    starts = [r.transition.m_start for r in results if r.transition.m_start is not None]
    ends = [r.transition.m_end if r.transition.m_end is not None else max(grid) for r in results
            if r.transition.m_start is not None]
    if starts:
        ax.axvspan(min(starts), max(ends), color="0.85", zorder=0, label="transition (any seed)")
    _band(ax, grid, per_seed("memorization_ratio"), color="C0", label="trained model (median, min-max)")
    ax.axhline(0.5, color="0.4", lw=0.8, ls=":")
    ax.set_ylim(-0.03, 1.03)
    ax.set(xlabel="model size M", ylabel="memorization ratio", title="Memorization ratio")
    ax.legend(fontsize=7, loc="upper left")
    for ax, which in zip(axes[1:], ("train", "test")):
        if which == "train":  # every M, from gpu_kernels.mc_excess_losses
            pmem_m, pmem_values = results[0].baselines["pmem_all_m"], [r.baselines["pmem_all_train_loss"] for r in results]
        else:
            pmem_m, pmem_values = results[0].baselines["pmem_m"], [r.baselines["pmem_test_loss"] for r in results]
        _band(ax, pmem_m, pmem_values, color="C1", label=r"$\hat x_{pmem,M}$", marker="")
        for name, color, style in (("star", "C2", "--"), ("mem", "C4", ":")):
            values = [r.baselines[f"{name}_{which}_loss"] for r in results]
            ax.axhspan(min(values), max(values), color=color, alpha=0.25, lw=0)
            ax.axhline(float(np.median(values)), color=color, ls=style,
                       label=r"$\hat x_*$" if name == "star" else r"$\hat x_{mem}$")
        _band(ax, grid, per_seed(f"{which}_loss"), color="C0", label="trained model")
        ax.set(xlabel="model size M", ylabel=f"{'training' if which == 'train' else 'held-out test'} loss",
               title=f"{'Training' if which == 'train' else 'Test'} loss, $\\psi_t$ = {psi:.3f} ($t_{{16}}$)")
    axes[1].legend(fontsize=7)
    s = settings
    fig.suptitle(f"Figure 7 — N={s.n}, d={s.d}, K={s.k}, {s.epochs} epochs, preset {s.preset}, "
                 f"seeds {', '.join(map(str, s.seeds))}", fontsize=10)
    fig.tight_layout()
    rows = report.figure2_rows(results)
    summary = {**report.metadata(settings, args, seconds=seconds, figure=7),
               "transition": [report.transition_json(r) for r in results],
               "m_pt_min_max": [min((r.transition.m_pt for r in results if r.transition.m_pt is not None), default=None),
                                max((r.transition.m_pt for r in results if r.transition.m_pt is not None), default=None)],
               "per_m": [dict(zip(report.FIGURE2_COLUMNS, row)) for row in rows]}
    written = report.write_outputs(args.out, "figure7", fig, csv_header=report.FIGURE2_COLUMNS, csv_rows=rows,
                                   json_obj=summary, extra_csv={"baselines": report.baseline_rows(results)})
    plt.close(fig)
    for r in results:
        print(f"seed {r.seed}: M_pt = {r.transition.m_pt} (95% CI {r.transition.m_pt_ci[0]}..{r.transition.m_pt_ci[1]})")
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0
