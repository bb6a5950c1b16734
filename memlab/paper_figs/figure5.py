"""Figure 5: the phase transition in the simple image model (N = 100, K = 4, c = 3, templates 15 x 15).

For each model size M (default M = j floor(N/10), j = 1..10) an M-component image model is trained
(App. H.1: partial-memorization init, eps-prediction over the 26 grid times, full-batch Adam with
warm-up/decay) and evaluated at the representative time t_16 (psi ~= 6.704):

- left: the memorization ratio of N_eval DDIM samples (Definition 2.2, c = 1/9) with a bootstrap
  interval; the phase transition (first M with ratio > 1/10, >= 1/2, > 9/10) is shaded;
- middle: the training loss L_{N,t}(x_hat) (eq. 6, x0 units, Monte Carlo with standard errors) of the
  trained models, against the exact denoiser x_* of the true mixture, the memorizing x_mem and the
  partially memorizing x_pmem,M (first M samples);
- right: the same on a held-out set.

Every model run is cached (``memlab._sweep``; key = hash of its config) under ``--cache-dir`` (default
figures/cache/image-model): a re-run only trains what is missing. ``--excess`` adds the Theorem 3.1-style
table over the whole grid (excess losses of x_* and x_pmem,M over x_mem, eq. 13, with standard errors) as
figure5_excess.csv/.png/.pdf.

Writes figure5.png/.pdf, figure5.csv (one row per M), figure5.json to --out.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from memlab.cli._common import add_executor_arguments, nonnegative_int, positive_int, positive_int_set
from memlab.paper_figs import _image_common as common

DESCRIPTION = "simple image model: memorization ratio, train and test loss vs M at t_16 (Section 4.2)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_data_arguments(parser, k=4, n=100, n_test=None)
    parser.add_argument("--n-test", type=nonnegative_int, default=None, help="held-out samples (default: N)")
    parser.add_argument("--m-values", type=positive_int_set, default=None, metavar="M1,M2,...",
                        help="model sizes M, comma-separated (default: j*floor(N/10), j = 1..10, as App. H.1)")
    parser.add_argument("--t-index", type=nonnegative_int, default=16,
                        help="grid index of the representative time (default 16: t = 0.36028)")
    common.add_training_arguments(parser)
    parser.add_argument("--excess", action="store_true",
                        help="also tabulate excess losses of x_* and x_pmem,M over x_mem at every grid time")
    parser.add_argument("--excess-draws", type=positive_int, default=10,
                        help="noise draws per sample for --excess (default 10)")
    out = parser.add_argument_group("output and execution")
    out.add_argument("--out", type=Path, default=Path("figures/figure5"), help="output folder (default figures/figure5)")
    out.add_argument("--cache-dir", type=Path, default=Path("figures/cache/image-model"),
                     help="sweep cache (default figures/cache/image-model); a re-run trains only what is missing")
    add_executor_arguments(out)


def default_ms(n: int) -> tuple[int, ...]:
    step = max(n // 10, 1)
    return tuple(j * step for j in range(1, 11))


def _transition(ms, flag_lists):
    from memlab.numerics import phase_transition

    return phase_transition(ms, flag_lists)


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from memlab import _sweep
    from memlab._errors import InvalidInputError
    from memlab._io import save_figure, write_csv, write_json
    from memlab.numerics import schedule_coefficients, timestep_grid
    from memlab.paper_figs import _image_runs as runs

    started = time.perf_counter()
    preset = common.apply_preset(args)
    grid = timestep_grid()
    if args.t_index >= grid.size:
        raise InvalidInputError(f"--t-index must be in [0, {grid.size - 1}], got {args.t_index}")
    ms = args.m_values if args.m_values is not None else default_ms(args.n)
    data = runs.dataset_config(args)
    dataset = runs.dataset_from_config(data)  # validates the data options before any training
    if dataset.n < 2:
        raise InvalidInputError("need N >= 2 for the memorization criterion")
    from memlab._jaxcfg import enable_compilation_cache, enable_float64

    enable_float64()  # after validating the data: bad input fails fast, before JAX starts
    compilation_cache = enable_compilation_cache()
    evaluation = {"eval_draws": preset.eval_draws, "n_eval": preset.n_eval, "t_index": args.t_index}
    training = {"epochs": preset.epochs, "draws": preset.draws, "peak_lr": preset.peak_lr, "final_lr": preset.final_lr,
                "warmup_fraction": preset.warmup_fraction, "adam_b2": preset.adam_b2, "chunk_size": args.chunk_size,
                "dtype": args.dtype}
    out = Path(args.out)
    cache = args.cache_dir
    sweep_kwargs = dict(cache_dir=cache, executor=args.executor, max_workers=args.workers,
                        submitit_cluster=None if args.submitit_cluster == "auto" else args.submitit_cluster,
                        submitit_parameters=dict(args.submitit_param))
    timings: dict = {}

    start = time.perf_counter()
    model_configs = [{**data, **training, **evaluation, "m": int(m)} for m in ms]
    outcome = _sweep.run_sweep(runs.train_and_evaluate, model_configs, desc="figure 5 models", **sweep_kwargs)
    timings["models"] = time.perf_counter() - start
    start = time.perf_counter()
    base = _sweep.run_sweep(runs.evaluate_baselines, [{**data, **evaluation, "ms": [int(m) for m in ms]}],
                            cache_dir=cache, desc="figure 5 baselines").results[0]
    timings["baselines"] = time.perf_counter() - start
    results = outcome.results

    ratios = np.array([r["ratio"] for r in results])
    transition = _transition(np.array(ms), [np.array(r["memorized_flags"], bool) for r in results])
    t_value = float(grid[args.t_index])
    psi = float(schedule_coefficients(t_value)[2])

    # ---- CSV: one row per M
    header = ["M", "ratio", "ratio_ci_low", "ratio_ci_high", "train_loss", "train_loss_se", "test_loss",
              "test_loss_se", "pmem_train_loss", "pmem_train_loss_se", "pmem_test_loss", "pmem_test_loss_se",
              "pmem_ratio", "exact_train_loss", "exact_train_loss_se", "exact_test_loss", "exact_test_loss_se",
              "mem_train_loss", "mem_train_loss_se", "mem_test_loss", "mem_test_loss_se", "exact_ratio", "mem_ratio",
              "learned_color_var", "final_objective", "train_seconds"]
    rows = []
    for j, (m, r) in enumerate(zip(ms, results)):
        rows.append([m, r["ratio"], r["ratio_ci_low"], r["ratio_ci_high"], r["train_loss"], r["train_loss_se"],
                     r.get("test_loss", float("nan")), r.get("test_loss_se", float("nan")),
                     base["pmem_train_loss"][j], base["pmem_train_loss_se"][j],
                     base.get("pmem_test_loss", [float("nan")] * len(ms))[j],
                     base.get("pmem_test_loss_se", [float("nan")] * len(ms))[j], base["pmem_ratio"][j],
                     base["exact_train_loss"], base["exact_train_loss_se"], base.get("exact_test_loss", float("nan")),
                     base.get("exact_test_loss_se", float("nan")), base["mem_train_loss"], base["mem_train_loss_se"],
                     base.get("mem_test_loss", float("nan")), base.get("mem_test_loss_se", float("nan")),
                     base["exact_ratio"], base["mem_ratio"], r["learned_color_var"], r["final_objective"],
                     r["train_seconds"]])
    stem = out / "figure5"
    write_csv(stem.with_suffix(".csv"), header, rows)

    # ---- plot
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.8))
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
        ax.errorbar(m_arr, trained, yerr=2 * trained_se, marker="o", color="tab:blue", capsize=3,
                    label="trained model")
        ax.errorbar(m_arr, base[f"pmem_{key}"], yerr=2 * np.array(base[f"pmem_{key}_se"]), marker="s", ms=3,
                    color="tab:red", capsize=2, label=r"$\hat x_{\mathrm{pmem},M}$")
        ax.axhline(base[f"exact_{key}"], color="tab:green", ls="--", label=r"$\hat x_*$ (exact)")
        # x_mem's training loss can be ~1e-20 (it reproduces its own samples): keep the axis on the other curves
        # and draw x_mem at the bottom edge when it lies below, with its value in the legend.
        shown = np.concatenate([trained, np.asarray(base[f"pmem_{key}"]), [base[f"exact_{key}"]]])
        shown = shown[np.isfinite(shown) & (shown > 0)]
        bottom = 0.3 * float(np.min(shown[shown >= 1e-6 * shown.max()])) if shown.size else None
        mem_value = base[f"mem_{key}"]
        below = bottom is not None and mem_value < bottom
        ax.axhline(bottom if below else mem_value, color="black", ls=":",
                   label=r"$\hat x_{\mathrm{mem}}$" + (f" = {mem_value:.1e} (below axis)" if below else ""))
        ax.set_yscale("log")
        if bottom is not None:
            ax.set_ylim(bottom=bottom)
        ax.set(xlabel="model size M", ylabel=r"$L_{N,t}$ (x$_0$-MSE, ±2 SE)", title=f"{title}, $\\psi$ = {psi:.3f}")
        ax.legend(fontsize=7)
    fig.suptitle(f"Simple image model: N = {dataset.n}, K = {dataset.k}, c = {dataset.channels}, "
                 f"{dataset.side}x{dataset.side} templates ({Path(dataset.source).name}); t = {t_value:.5f}; "
                 f"preset {args.preset} ({preset.epochs} epochs, {preset.draws} draws)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, stem)
    plt.close(fig)

    meta = common.run_metadata(args, preset=preset, dataset=dataset, started=started, timings=timings)
    meta.update(ms=list(ms), t=t_value, psi=psi, cache=str(cache), jax_compilation_cache=compilation_cache,
                runs_executed=outcome.executed,
                runs_cached=outcome.cached,
                phase_transition={"m_start": transition.m_start, "m_pt": transition.m_pt, "m_end": transition.m_end,
                                  "m_start_ci": transition.m_start_ci, "m_pt_ci": transition.m_pt_ci,
                                  "m_end_ci": transition.m_end_ci, "confidence": transition.confidence},
                baselines={k: v for k, v in base.items()})

    if args.excess:
        start = time.perf_counter()
        excess = _sweep.run_sweep(runs.image_excess_losses, [{**data, "ms": [int(m) for m in ms],
                                                              "excess_draws": args.excess_draws}],
                                  cache_dir=cache, desc="excess losses").results[0]
        timings["excess"] = time.perf_counter() - start
        _write_excess(out / "figure5_excess", excess["rows"], ms, args.excess_draws, dataset.n)
        meta["excess_draws"] = args.excess_draws
    meta["timings_s"].update(timings)
    meta["timings_s"]["total"] = time.perf_counter() - started
    write_json(stem.with_suffix(".json"), meta)
    where = "" if transition.m_pt is None else f"M_pt = {transition.m_pt} (CI {transition.m_pt_ci}); "
    print(f"figure 5: ratios {', '.join(f'M={m}: {r:.2f}' for m, r in zip(ms, ratios))}; {where}"
          f"{outcome.executed} models trained, {outcome.cached} from cache; wrote {stem}.png/.pdf/.csv/.json")
    return 0


def _write_excess(stem: Path, rows: list[dict], ms, draws: int, n: int) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    from memlab._io import save_figure, write_csv

    header = ["t", "psi", "loss_mem", "loss_mem_se", "excess_gen", "excess_gen_se", "excess_gen_rank_c"]
    header += [f"excess_pmem_M{m}" for m in ms] + [f"excess_pmem_M{m}_se" for m in ms]
    table = [[r["t"], r["psi"], r["loss_mem"], r["loss_mem_se"], r["excess_gen"], r["excess_gen_se"],
              r["excess_gen_rank_c"], *r["excess_pmem"], *r["excess_pmem_se"]] for r in rows]
    write_csv(stem.with_suffix(".csv"), header, table)
    t = np.array([r["t"] for r in rows])
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    gen = np.array([r["excess_gen"] for r in rows])
    ax.errorbar(t, gen, yerr=2 * np.array([r["excess_gen_se"] for r in rows]), color="tab:green", marker="o", ms=3,
                label=r"$\hat x_*$ (MC, ±2 SE)")
    ax.plot(t, [r["excess_gen_rank_c"] for r in rows], color="tab:green", ls="--",
            label=r"$c\,\sigma_c^2 n_k/(\psi\sigma_c^2 n_k+1)$ (rank-c Thm 3.1 analogue)")
    # M >= N: x_pmem,M = x_mem, excess 0 up to rounding (not drawable on a log axis).
    drawn = [j for j, m in enumerate(ms) if m < n]
    colors = plt.cm.Reds(np.linspace(0.35, 0.95, max(len(drawn), 1)))
    for i, j in enumerate(drawn):
        ax.plot(t, [r["excess_pmem"][j] for r in rows], color=colors[i], lw=1,
                label=f"pmem, M = {ms[j]}" if i in (0, len(drawn) - 1) else None)
    ax.set_yscale("log")
    ax.set(xlabel="t", ylabel=r"excess loss over $\hat x_{\mathrm{mem}}$ (eq. 13)",
           title=f"Image model: excess losses on the grid ({draws} draws/sample)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, stem)
    plt.close(fig)
