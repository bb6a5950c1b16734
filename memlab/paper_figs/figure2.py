"""Figure 2: trained GMM denoisers switch from generalizing to memorizing as the model size M grows.

Left: memorization ratio (Definition 2.2, c = 1/9, over n_eval DDIM samples) vs M, the transition
(ratio > 1/10 to > 9/10) shaded, M_pt (first M with ratio >= 1/2) marked with its bootstrap CI, and the
crossover formula's M* (``memlab.numerics.crossover``, C = 2) for the training weighting lambda = psi_t
and for lambda = 1. Middle / right: training and held-out test loss at t_16
(psi = 6.704) of the trained models against x_hat_*, x_hat_mem and x_hat_pmem,M (Monte Carlo, ± SE).
"""

from __future__ import annotations

import sys

DESCRIPTION = ("Figure 2: memorization ratio and train/test loss at t_16 vs model size M of trained GMM "
               "denoisers (the phase transition); --preset cpu runs in minutes")


def add_arguments(parser) -> None:
    from memlab.paper_figs._phase_transition import add_experiment_arguments

    add_experiment_arguments(parser, figure=2, default_seeds="0")


def run(args) -> int:
    from memlab.paper_figs import _phase_transition as pt
    from memlab.paper_figs import _phase_transition_report as report

    settings, (result,), seconds, plt = report.run_figure_experiment(args, single_seed_figure=2)
    m_star, m_star_note = pt.crossover_m_star(settings)

    psi = report.psi_t16()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    report.plot_ratio_panel(axes[0], result, m_star=m_star)
    report.plot_loss_panel(axes[1], result, which="train", psi=psi)
    report.plot_loss_panel(axes[2], result, which="test", psi=psi)
    axes[0].legend(fontsize=7, loc="upper left")
    axes[1].legend(fontsize=7)
    s = settings
    fig.suptitle(f"Figure 2 — N={s.n}, d={s.d}, K={s.k}, {s.epochs} epochs, {s.draws} draws, "
                 f"preset {s.preset}, seed {s.seeds[0]}", fontsize=10)
    fig.tight_layout()

    transition = report.transition_json(result)
    summary = {
        **report.metadata(settings, args, seconds=seconds, figure=2),
        "transition": transition,
        "m_star": m_star,
        "m_star_note": m_star_note,
        "baselines": {k: result.baselines[k] for k in ("star_train_loss", "star_train_loss_se", "star_test_loss",
                                                       "star_test_loss_se", "mem_train_loss", "mem_train_loss_se",
                                                       "mem_test_loss", "mem_test_loss_se", "mem_all_train_loss",
                                                       "mem_all_train_loss_se", "star_all_train_loss",
                                                       "star_all_train_excess_se")},
        "per_m": [dict(zip(report.FIGURE2_COLUMNS, row)) for row in report.figure2_rows([result])],
    }
    written = report.write_outputs(args.out, "figure2", fig, csv_header=report.FIGURE2_COLUMNS,
                                   csv_rows=report.figure2_rows([result]), json_obj=summary,
                                   extra_csv={"baselines": report.baseline_rows([result])})
    plt.close(fig)
    ci = transition["m_pt_ci"]
    m_pt = transition["m_pt"]
    bracket = transition["m_pt_grid_bracket"]
    print("memorization ratio vs M: " + ", ".join(f"{m}: {run['memorization_ratio']:.2f}"
                                                   for m, run in zip(result.m_values, result.runs)))
    print(f"M_pt = {m_pt if m_pt is not None else f'> {max(result.m_values)} (not reached)'} "
          f"(95% bootstrap CI {ci[0]}..{ci[1] if ci[1] is not None else 'beyond sweep'}; grid bracket "
          f"({bracket[0]}, {bracket[1]}]); M* (C = 2) = "
          + ", ".join(f"{value:.3f} (lambda {w})" for w, value in m_star.items()) + f"; {seconds:.0f} s")
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0
