"""Figure 2: trained GMM denoisers switch from generalizing to memorizing as the model size M grows.

Left: memorization ratio (Definition 2.2, c = 1/9, over n_eval DDIM samples) vs M, the transition
(ratio > 1/10 to > 9/10) shaded, M_pt (first M with ratio >= 1/2) marked with its interval, and the
crossover formula's M* (eq. 14, C = 2) for the training weighting lambda = psi_t and for lambda = 1.
Middle / right: training and held-out test loss at t_16 (psi = 6.704) of the trained models against
x_hat_*, x_hat_mem and x_hat_pmem,M (Monte Carlo, ± SE).

``compute(settings)`` trains (or loads) the models; ``plot(result)`` draws; ``save(result, folder)``
writes figure2.png/.pdf, figure2.csv (one row per model), figure2_baselines.csv and figure2.json.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from memlab._errors import InvalidInputError
from memlab._io import result_set
from memlab.paper_figs import _phase_transition_report as report
from memlab.paper_figs._phase_transition_report import PhaseTransitionResult, compute

__all__ = ["DESCRIPTION", "STEM", "compute", "describe", "plot", "save"]

DESCRIPTION = (
    "Figure 2: memorization ratio and train/test loss at t_16 vs model size M of trained GMM "
    "denoisers (the phase transition); --preset cpu runs in minutes"
)
STEM = "figure2"
_BASELINE_KEYS = (
    "star_train_loss",
    "star_train_loss_se",
    "star_test_loss",
    "star_test_loss_se",
    "mem_train_loss",
    "mem_train_loss_se",
    "mem_test_loss",
    "mem_test_loss_se",
    "mem_all_train_loss",
    "mem_all_train_loss_se",
    "star_all_train_loss",
    "star_all_train_excess_se",
)


def _single_seed(result: PhaseTransitionResult):
    if len(result.seeds) != 1:
        raise InvalidInputError(f"Figure 2 shows one seed, the result has {len(result.seeds)} (Figure 7 shows several)")
    return result.seeds[0]


def plot(result: PhaseTransitionResult) -> Figure:
    """The three panels of Figure 2 for the result's one seed."""
    seed = _single_seed(result)
    s = result.settings
    psi = report.psi_t16()
    fig = Figure(figsize=(15, 4.2), layout="constrained")
    axes = fig.subplots(1, 3)
    report.plot_ratio_panel(axes[0], seed, m_star=result.m_star)
    report.plot_loss_panel(axes[1], seed, which="train", psi=psi)
    report.plot_loss_panel(axes[2], seed, which="test", psi=psi)
    axes[0].legend(fontsize=7, loc="upper left")
    axes[1].legend(fontsize=7)
    fig.suptitle(
        f"Figure 2 — N={s.n}, d={s.d}, K={s.k}, {s.recipe.epochs} epochs, {s.recipe.draws} draws, "
        f"preset {s.preset}, seed {seed.seed}",
        fontsize=10,
    )
    return fig


def save(result: PhaseTransitionResult, folder: str | Path) -> list[Path]:
    """Write the figure (PNG + PDF), its data (CSV) and figure2.json into ``folder`` as one set."""
    seed = _single_seed(result)
    rows = report.figure2_rows([seed])
    summary = report.metadata(
        result,
        figure=2,
        transition=report.transition_json(seed),
        m_star=result.m_star,
        m_star_note=result.m_star_note,
        baselines={k: seed.baselines[k] for k in _BASELINE_KEYS},
        per_m=[dict(zip(report.FIGURE2_COLUMNS, row)) for row in rows],
        train_seconds={str(m): run["train_seconds"] for m, run in zip(seed.m_values, seed.runs)},
    )
    with result_set(folder) as out:
        written = out.figure(STEM, plot(result))
        written.append(out.csv(f"{STEM}.csv", report.FIGURE2_COLUMNS, rows))
        written.append(out.csv(f"{STEM}_baselines.csv", *report.baseline_rows([seed])))
        written.append(out.json(f"{STEM}.json", summary))
    return written


def describe(result: PhaseTransitionResult) -> str:
    """Two lines: the memorization ratio per M, then M_pt with its interval and M*."""
    seed = _single_seed(result)
    transition = report.transition_json(seed)
    ci, m_pt, bracket = transition["m_pt_ci"], transition["m_pt"], transition["m_pt_grid_bracket"]
    ratios = ", ".join(f"{m}: {run['memorization_ratio']:.2f}" for m, run in zip(seed.m_values, seed.runs))
    where = m_pt if m_pt is not None else f"> {max(seed.m_values)} (not reached)"
    m_star = ", ".join(f"{value:.3f} (lambda {w})" for w, value in result.m_star.items())
    return (
        f"memorization ratio vs M: {ratios}\n"
        f"M_pt = {where} (95% bootstrap CI {ci[0]}..{ci[1] if ci[1] is not None else 'beyond sweep'}; grid "
        f"bracket ({bracket[0]}, {bracket[1]}]); M* (C = 2) = {m_star}; {result.seconds:.0f} s"
    )
