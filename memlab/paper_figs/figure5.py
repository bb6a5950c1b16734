"""Figure 5: the phase transition in the simple image model (N = 100, K = 4, c = 3, templates 15 x 15).

For each model size M (default M = j floor(N/10), j = 1..10) an M-component image model is trained
(App. H.1: partial-memorization init, eps-prediction over the 26 grid times, full-batch Adam with
warm-up/decay) and evaluated at the representative time t_16 (psi ~= 6.704):

- left: the memorization ratio of N_eval DDIM samples (Definition 2.2, c = 1/9) with its interval; the
  phase transition (first M with ratio > 1/10, >= 1/2, > 9/10) is shaded;
- middle: the training loss L_{N,t}(x_hat) (eq. 6, x0 units, Monte Carlo with standard errors) of the
  trained models, against the exact denoiser x_* of the true mixture, the memorizing x_mem and the
  partially memorizing x_pmem,M (first M samples);
- right: the same on a held-out set.

Every model run is cached (:mod:`memlab._sweep`; key = hash of its config; default cache
figures/cache/image-model): a re-run only trains what is missing. ``excess=True`` adds the Theorem
3.1-style table over the whole grid (excess losses of x_* and x_pmem,M over x_mem, eq. 13, with standard
errors) as figure5_excess.csv/.png/.pdf. ``save`` writes figure5.png/.pdf, figure5.csv (one row per M),
figure5.json.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from memlab import numerics
from memlab._io import result_set
from memlab._metadata import run_metadata
from memlab._sweep import SweepOptions, run_sweep
from memlab.paper_figs import _image_runs as runs
from memlab.paper_figs._image_common import data_json
from memlab.paper_figs._presets import IMAGE_MODEL_CACHE
from memlab.paper_figs._recipes import recipe_fields
from memlab.paper_figs._settings import Figure5Settings

__all__ = ["DESCRIPTION", "STEM", "Figure5Result", "compute", "describe", "plot", "save"]

DESCRIPTION = "Figure 5: simple image model: memorization ratio, train and test loss vs M at t_16 (Section 4.2)"
STEM = "figure5"
CSV_COLUMNS = [
    "M",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
    "train_loss",
    "train_loss_se",
    "test_loss",
    "test_loss_se",
    "pmem_train_loss",
    "pmem_train_loss_se",
    "pmem_test_loss",
    "pmem_test_loss_se",
    "pmem_ratio",
    "exact_train_loss",
    "exact_train_loss_se",
    "exact_test_loss",
    "exact_test_loss_se",
    "mem_train_loss",
    "mem_train_loss_se",
    "mem_test_loss",
    "mem_test_loss_se",
    "exact_ratio",
    "mem_ratio",
    "learned_color_var",
    "final_objective",
]


@dataclass(frozen=True, eq=False)
class Figure5Result:
    """Figure 5's numbers.

    runs: per model size (``settings.model_sizes`` order) the trained model's results (ratio with its
    interval, losses with standard errors, learned colour variance, ...); baselines: x_*, x_mem and
    x_pmem,M (lists aligned with the model sizes); transition: :func:`memlab.numerics.phase_transition`;
    excess: the grid table (``excess=True``) or None; t, psi: the representative time.
    """

    settings: Figure5Settings
    dataset: numerics.ImageDataset
    runs: list[dict]
    baselines: dict
    transition: numerics.PhaseTransition
    excess: list[dict] | None
    t: float
    psi: float
    sweep: SweepOptions
    executed: int
    cached: int
    seconds: Mapping[str, float]


def compute(settings: Figure5Settings, *, sweep: SweepOptions | None = None) -> Figure5Result:
    """Train (or load) one image model per M, evaluate it and the baselines at t_{t_index}."""
    sweep = SweepOptions(cache_dir=IMAGE_MODEL_CACHE) if sweep is None else sweep
    ms = settings.model_sizes
    data = runs.dataset_config(settings.data)
    dataset = runs.dataset_from_config(data)  # validates the data before any training
    recipe = settings.recipe
    evaluation = {"eval_draws": recipe.eval_draws, "n_eval": recipe.n_eval, "t_index": settings.t_index}
    training = {**recipe_fields(recipe), "dtype": recipe.dtype}
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    outcome = run_sweep(
        runs.train_and_evaluate,
        [{**data, **training, **evaluation, "m": int(m)} for m in ms],
        options=sweep,
        desc="figure 5 models",
    )
    seconds["models"] = time.perf_counter() - started
    started = time.perf_counter()
    base = run_sweep(
        runs.evaluate_baselines,
        [{**data, **evaluation, "ms": [int(m) for m in ms]}],
        options=sweep,
        desc="figure 5 baselines",
    ).finished_results[0]
    seconds["baselines"] = time.perf_counter() - started
    results = [_with_interval(r) for r in outcome.finished_results]
    transition = numerics.phase_transition(np.array(ms), [np.array(r["memorized_flags"], bool) for r in results])
    excess = None
    if settings.excess:
        started = time.perf_counter()
        excess = run_sweep(
            runs.image_excess_losses,
            [{**data, "ms": [int(m) for m in ms], "excess_draws": settings.excess_draws}],
            options=sweep,
            desc="excess losses",
        ).finished_results[0]["rows"]
        seconds["excess"] = time.perf_counter() - started
    t_value = float(numerics.timestep_grid()[settings.t_index])
    return Figure5Result(
        settings=settings,
        dataset=dataset,
        runs=results,
        baselines=base,
        transition=transition,
        excess=excess,
        t=t_value,
        psi=float(numerics.schedule_coefficients(t_value)[2]),
        sweep=sweep,
        executed=outcome.executed,
        cached=outcome.cached,
        seconds=seconds,
    )


def _with_interval(run: dict) -> dict:
    """A model's result with its ratio interval recomputed from the stored flags (older cached runs carry a
    bootstrap interval; the flags are the measurement)."""
    ratio = numerics.ratio_with_interval(run["memorized_flags"])
    return {**run, "ratio": ratio.ratio, "ratio_ci_low": ratio.ci_low, "ratio_ci_high": ratio.ci_high}


def _rows(result: Figure5Result) -> list[list]:
    base, nan = result.baselines, float("nan")
    ms = result.settings.model_sizes
    rows = []
    for j, (m, r) in enumerate(zip(ms, result.runs)):
        rows.append(
            [
                m,
                r["ratio"],
                r["ratio_ci_low"],
                r["ratio_ci_high"],
                r["train_loss"],
                r["train_loss_se"],
                r.get("test_loss", nan),
                r.get("test_loss_se", nan),
                base["pmem_train_loss"][j],
                base["pmem_train_loss_se"][j],
                base.get("pmem_test_loss", [nan] * len(ms))[j],
                base.get("pmem_test_loss_se", [nan] * len(ms))[j],
                base["pmem_ratio"][j],
                base["exact_train_loss"],
                base["exact_train_loss_se"],
                base.get("exact_test_loss", nan),
                base.get("exact_test_loss_se", nan),
                base["mem_train_loss"],
                base["mem_train_loss_se"],
                base.get("mem_test_loss", nan),
                base.get("mem_test_loss_se", nan),
                base["exact_ratio"],
                base["mem_ratio"],
                r["learned_color_var"],
                r["final_objective"],
            ]
        )
    return rows


def plot(result: Figure5Result) -> Figure:
    """Memorization ratio, training loss and test loss against M."""
    results, base, transition = result.runs, result.baselines, result.transition
    ms, psi, dataset, s = result.settings.model_sizes, result.psi, result.dataset, result.settings
    ratios = np.array([r["ratio"] for r in results])
    fig = Figure(figsize=(13.5, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    m_arr = np.array(ms, dtype=float)
    ax = axes[0]
    lo = ratios - np.array([r["ratio_ci_low"] for r in results])
    hi = np.array([r["ratio_ci_high"] for r in results]) - ratios
    ax.errorbar(m_arr, ratios, yerr=[lo, hi], marker="o", color="tab:blue", capsize=3, label="trained model")
    ax.axhline(base["exact_ratio"], color="tab:green", ls=":", label=r"$\hat x_*$ (exact)")
    ax.axhline(0.5, color="gray", lw=0.6)
    if transition.m_start is not None:
        # From the last M before the start (the transition begins somewhere after it) to the end.
        before = m_arr[m_arr < transition.m_start]
        start = before.max() if before.size else transition.m_start
        end = transition.m_end if transition.m_end is not None else m_arr.max()
        ax.axvspan(start, end, color="tab:orange", alpha=0.15, label="phase transition (between sweep points)")
    ax.set(xlabel="model size M", ylabel="memorization ratio", ylim=(-0.03, 1.03), title="Memorization ratio")
    ax.legend(fontsize=7)
    for ax, split, title in ((axes[1], "train", "Training loss"), (axes[2], "test", "Test loss")):
        key = f"{split}_loss"
        if key not in results[0]:
            ax.set_visible(False)
            continue
        trained = np.array([r[key] for r in results])
        trained_se = np.array([r[f"{key}_se"] for r in results])
        ax.errorbar(m_arr, trained, yerr=2 * trained_se, marker="o", color="tab:blue", capsize=3, label="trained model")
        ax.errorbar(
            m_arr,
            base[f"pmem_{key}"],
            yerr=2 * np.array(base[f"pmem_{key}_se"]),
            marker="s",
            ms=3,
            color="tab:red",
            capsize=2,
            label=r"$\hat x_{\mathrm{pmem},M}$",
        )
        ax.axhline(base[f"exact_{key}"], color="tab:green", ls="--", label=r"$\hat x_*$ (exact)")
        # x_mem's training loss can be ~1e-20 (it reproduces its own samples): keep the axis on the other curves
        # and draw x_mem at the bottom edge when it lies below, with its value in the legend.
        shown = np.concatenate([trained, np.asarray(base[f"pmem_{key}"]), [base[f"exact_{key}"]]])
        shown = shown[np.isfinite(shown) & (shown > 0)]
        bottom = 0.3 * float(np.min(shown[shown >= 1e-6 * shown.max()])) if shown.size else None
        mem_value = base[f"mem_{key}"]
        below = bottom is not None and mem_value < bottom
        ax.axhline(
            bottom if below else mem_value,
            color="black",
            ls=":",
            label=r"$\hat x_{\mathrm{mem}}$" + (f" = {mem_value:.1e} (below axis)" if below else ""),
        )
        ax.set_yscale("log")
        if bottom is not None:
            ax.set_ylim(bottom=bottom)
        ax.set(xlabel="model size M", ylabel=r"$L_{N,t}$ (x$_0$-MSE, ±2 SE)", title=f"{title}, $\\psi$ = {psi:.3f}")
        ax.legend(fontsize=7)
    fig.suptitle(
        f"Simple image model: N = {dataset.n}, K = {dataset.k}, c = {dataset.channels}, "
        f"{dataset.side}x{dataset.side} templates ({Path(dataset.source).name}); t = {result.t:.5f}; "
        f"preset {s.preset} ({s.recipe.epochs} epochs, {s.recipe.draws} draws)",
        fontsize=9,
    )
    return fig


def save(result: Figure5Result, folder: str | Path) -> list[Path]:
    """Write figure5.png/.pdf/.csv/.json (and figure5_excess.* with the grid table) into ``folder`` as one set."""
    t = result.transition
    meta = {
        "settings": asdict(result.settings),
        "data": data_json(result.dataset),
        "seed": result.settings.data.seed,
        "ms": list(result.settings.model_sizes),
        "t": result.t,
        "psi": result.psi,
        "cache": str(result.sweep.cache_dir),
        "runs_executed": result.executed,
        "runs_cached": result.cached,
        "phase_transition": {
            "m_start": t.m_start,
            "m_pt": t.m_pt,
            "m_end": t.m_end,
            "m_start_ci": t.m_start_ci,
            "m_pt_ci": t.m_pt_ci,
            "m_end_ci": t.m_end_ci,
            "confidence": t.confidence,
        },
        "baselines": dict(result.baselines),
        "train_seconds": {str(m): r["train_seconds"] for m, r in zip(result.settings.model_sizes, result.runs)},
        **run_metadata(timings=dict(result.seconds)),
    }
    if result.excess is not None:
        meta["excess_draws"] = result.settings.excess_draws
    with result_set(folder) as out:
        written = out.figure(STEM, plot(result))
        written.append(out.csv(f"{STEM}.csv", CSV_COLUMNS, _rows(result)))
        if result.excess is not None:
            header, rows, fig = _excess_table(result)
            written += out.figure(f"{STEM}_excess", fig)
            written.append(out.csv(f"{STEM}_excess.csv", header, rows))
        written.append(out.json(f"{STEM}.json", meta))
    return written


def describe(result: Figure5Result) -> str:
    t = result.transition
    where = "" if t.m_pt is None else f"M_pt = {t.m_pt} (CI {t.m_pt_ci}); "
    ratios = ", ".join(f"M={m}: {r['ratio']:.2f}" for m, r in zip(result.settings.model_sizes, result.runs))
    return f"figure 5: ratios {ratios}; {where}{result.executed} models trained, {result.cached} from cache"


def _excess_table(result: Figure5Result) -> tuple[list[str], list[list], Figure]:
    """The grid table of excess losses over x_mem and its plot."""
    assert result.excess is not None  # called only when the table was computed
    rows, ms, draws, n = result.excess, result.settings.model_sizes, result.settings.excess_draws, result.dataset.n
    header = ["t", "psi", "loss_mem", "loss_mem_se", "excess_gen", "excess_gen_se", "excess_gen_rank_c"]
    header += [f"excess_pmem_M{m}" for m in ms] + [f"excess_pmem_M{m}_se" for m in ms]
    table = [
        [
            r["t"],
            r["psi"],
            r["loss_mem"],
            r["loss_mem_se"],
            r["excess_gen"],
            r["excess_gen_se"],
            r["excess_gen_rank_c"],
            *r["excess_pmem"],
            *r["excess_pmem_se"],
        ]
        for r in rows
    ]
    t = np.array([r["t"] for r in rows])
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    gen = np.array([r["excess_gen"] for r in rows])
    ax.errorbar(
        t,
        gen,
        yerr=2 * np.array([r["excess_gen_se"] for r in rows]),
        color="tab:green",
        marker="o",
        ms=3,
        label=r"$\hat x_*$ (MC, ±2 SE)",
    )
    ax.plot(
        t,
        [r["excess_gen_rank_c"] for r in rows],
        color="tab:green",
        ls="--",
        label=r"$c\,\sigma_c^2 n_k/(\psi\sigma_c^2 n_k+1)$ (rank-c Thm 3.1 analogue)",
    )
    # M >= N: x_pmem,M = x_mem, excess 0 up to rounding (not drawable on a log axis).
    drawn = [j for j, m in enumerate(ms) if m < n]
    colors = colormaps["Reds"](np.linspace(0.35, 0.95, max(len(drawn), 1)))
    for i, j in enumerate(drawn):
        ax.plot(
            t,
            [r["excess_pmem"][j] for r in rows],
            color=colors[i],
            lw=1,
            label=f"pmem, M = {ms[j]}" if i in (0, len(drawn) - 1) else None,
        )
    ax.set_yscale("log")
    ax.set(
        xlabel="t",
        ylabel=r"excess loss over $\hat x_{\mathrm{mem}}$ (eq. 13)",
        title=f"Image model: excess losses on the grid ({draws} draws/sample)",
    )
    ax.legend(fontsize=7)
    return header, table, fig
