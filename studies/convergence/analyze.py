"""Convergence study (issue 15): tables, summary and figures from the cached runs of ``run_gmm.py`` / ``run_image.py``.

Reads only finished runs (sweep caches), trains nothing. Writes into ``--out`` (default studies/convergence):

- ``gmm_models.csv``: one row per (tuple, recipe, M): memorization ratio with its exact (Clopper–Pearson)
  interval (recomputed from the stored per-sample flags), learned variance, t_16 train / held-out losses
  (same evaluation noise for both recipes) with standard errors, and for every model the convergence
  measures of its training curve;
- ``gmm_transitions.csv``: per tuple and recipe, M_start / M_pt / M_end with bootstrap intervals over the
  sizes tried (for the CPU recipe also restricted to the paper-settings sizes);
- ``gmm_curves.csv``: the training curves (objective and learned variance vs epoch) of every paper-settings model;
- ``image_models.csv``, ``image_curves.csv``: the same for the image model;
- ``convergence.json``: everything above in one file plus the settings; ``convergence_gmm.png/.pdf`` and
  ``convergence_image.png/.pdf``: the figures.

    .venv/bin/python studies/convergence/analyze.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import run_gmm
import run_image

from memlab import _sweep, numerics
from memlab._io import load_npz, save_figure, write_csv, write_json
from memlab.paper_figs import _image_runs
from memlab.paper_figs._phase_transition import _with_interval, train_and_evaluate
from memlab.paper_figs._presets import IMAGE_MODEL_CACHE, PHASE_TRANSITION_CACHE
from memlab.paper_figs._recipes import train_config
from memlab.paper_figs.figure5 import _with_interval as image_with_interval

RECIPES = ("cpu", "paper-small")


def _at(epochs: np.ndarray, values: np.ndarray, epoch: float) -> float:
    """The value at the recorded epoch nearest to ``epoch``."""
    return float(values[int(np.argmin(np.abs(epochs - epoch)))])


def _settled_epoch(epochs: np.ndarray, values: np.ndarray, rtol: float) -> float:
    """The first recorded epoch from which on every value stays within ``rtol`` (relative) of the last one."""
    outside = np.abs(values - values[-1]) > rtol * abs(values[-1])
    if not outside.any():
        return float(epochs[0])
    return float(epochs[int(np.nonzero(outside)[0][-1]) + 1])


def curve_measures(loss_epochs, losses, var_epochs, variances, config: dict) -> dict:
    """When the objective and the learned variance stopped moving, and the learning rate at that moment.

    ``*_settled_epoch``: first recorded epoch after which the value stays within 1e-3 (objective) / 1 %
    (variance) of its final value; ``lr_at_*``: the schedule's learning rate there (a curve that settles
    while the learning rate is still large has converged; one that only stops when the rate has decayed
    to ~0 has been frozen). ``*_rel_change_half`` / ``_last20``: relative change over the second half /
    the last 20 % of the epochs.
    """
    loss_epochs, losses = np.asarray(loss_epochs, float), np.asarray(losses, float)
    var_epochs, variances = np.asarray(var_epochs, float), np.asarray(variances, float)
    total = config["epochs"]
    schedule = train_config(config).learning_rate_schedule()
    out = {}
    for name, fraction in (("half", 0.5), ("last20", 0.8)):
        start = _at(loss_epochs, losses, fraction * total)
        out[f"objective_rel_change_{name}"] = (start - float(losses[-1])) / abs(float(losses[-1]))
        v_start = _at(var_epochs, variances, fraction * total)
        out[f"variance_rel_change_{name}"] = (float(variances[-1]) - v_start) / float(variances[-1])
    out["objective_settled_epoch"] = _settled_epoch(loss_epochs, losses, 1e-3)
    out["variance_settled_epoch"] = _settled_epoch(var_epochs, variances, 1e-2)
    out["lr_at_objective_settled"] = float(schedule(int(out["objective_settled_epoch"])))
    out["lr_at_variance_settled"] = float(schedule(int(out["variance_settled_epoch"])))
    out["variance_at_10pct"] = _at(var_epochs, variances, 0.1 * total)
    out["variance_at_half"] = _at(var_epochs, variances, 0.5 * total)
    return out


# ----------------------------------------------------------------------------------------------------
# GMM
# ----------------------------------------------------------------------------------------------------


def gmm_records(cache_dir: Path) -> dict:
    """{(tuple, recipe): {M: (result, model arrays)}} for every finished run of the study's grids."""
    found: dict = {}
    for tup in run_gmm.TUPLES:
        for recipe in RECIPES:
            runs = {}
            for m in range(1, tup[0] + 8):
                config = run_gmm.config(recipe, *tup, m)
                record = _sweep.load_result(cache_dir, config, train_and_evaluate)
                if record is not None:
                    arrays = load_npz(_sweep.run_dir(cache_dir, config, train_and_evaluate) / "model.npz")
                    runs[m] = (_with_interval(record["result"]), arrays, config)
            found[(tup, recipe)] = runs
    return found


def transition_fields(ms, flags) -> dict:
    t = numerics.phase_transition(ms, flags, seed=run_gmm.SEED)
    return {
        "m_start": t.m_start,
        "m_start_ci": list(t.m_start_ci),
        "m_pt": t.m_pt,
        "m_pt_ci": list(t.m_pt_ci),
        "m_end": t.m_end,
        "m_end_ci": list(t.m_end_ci),
        "m_values": [int(m) for m in ms],
    }


def _nll(m0: float, width: float, ms, hits, counts) -> float:
    """Bernoulli negative log-likelihood of ratio(M) = 1 / (1 + exp(-(M - m0) / width))."""
    z = (ms - m0) / width
    return float(np.sum(hits * np.logaddexp(0.0, -z) + (counts - hits) * np.logaddexp(0.0, z)))


def logistic_fit(ms, hits, counts, *, width: float | None = None) -> tuple[float, float]:
    """Maximum-likelihood (m50, width) of a logistic memorization curve through ``hits`` of ``counts`` per M.

    ``width`` given: only the 50 % point m50 is fitted (the curve's shape is taken from elsewhere).
    """
    from scipy.optimize import minimize, minimize_scalar

    ms, hits, counts = (np.asarray(a, float) for a in (ms, hits, counts))
    if width is not None:
        span = (ms.min() - 20 * width, ms.max() + 20 * width)
        res = minimize_scalar(
            lambda m0: _nll(m0, width, ms, hits, counts), bounds=span, method="bounded", options={"xatol": 1e-6}
        )
        return float(res.x), float(width)
    start = [float(ms[np.argmin(np.abs(hits / counts - 0.5))]), np.log(2.0)]
    res = minimize(
        lambda th: _nll(th[0], np.exp(th[1]), ms, hits, counts),
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-6, "fatol": 1e-10, "maxiter": 4000},
    )
    return float(res.x[0]), float(np.exp(res.x[1]))


def transition_shift(cpu_flags: dict, paper_flags: dict, *, n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """How far the paper settings move the transition, from every model of one tuple.

    The CPU models' flags give a logistic curve (m50, width); the paper models' flags give their own m50
    with the CPU curve's width (one or two paper sizes cannot fix a width). shift = m50(paper) - m50(cpu):
    positive = the paper settings memorize later. Percentile-bootstrap intervals resample every model's
    DDIM samples; ``replicates`` are returned so that tuples can be pooled.
    """
    rng = np.random.default_rng(seed)
    c_ms = np.array(sorted(cpu_flags))
    p_ms = np.array(sorted(paper_flags))
    c_flags = [np.asarray(cpu_flags[m], float) for m in c_ms]
    p_flags = [np.asarray(paper_flags[m], float) for m in p_ms]

    def fit(cf, pf):
        m50_cpu, width = logistic_fit(c_ms, [f.sum() for f in cf], [f.size for f in cf])
        m50_paper, _ = logistic_fit(p_ms, [f.sum() for f in pf], [f.size for f in pf], width=width)
        return m50_cpu, width, m50_paper

    m50_cpu, width, m50_paper = fit(c_flags, p_flags)
    reps = np.array(
        [
            fit(
                [f[rng.integers(0, f.size, f.size)] for f in c_flags],
                [f[rng.integers(0, f.size, f.size)] for f in p_flags],
            )
            for _ in range(n_bootstrap)
        ]
    )
    shift_reps = reps[:, 2] - reps[:, 0]

    def ci(values):
        return [float(v) for v in np.quantile(values, [0.025, 0.975])]

    return {
        "m50_cpu": m50_cpu,
        "m50_cpu_ci": ci(reps[:, 0]),
        "width_cpu": width,
        "m50_paper": m50_paper,
        "m50_paper_ci": ci(reps[:, 2]),
        "shift": m50_paper - m50_cpu,
        "shift_ci": ci(shift_reps),
        "replicates": shift_reps,
    }


def analyze_gmm(cache_dir: Path):
    found = gmm_records(cache_dir)
    model_rows, transitions, curves = [], [], []
    for tup in run_gmm.TUPLES:
        n, d, k = tup
        paper = found[(tup, "paper-small")]
        for recipe in RECIPES:
            runs = found[(tup, recipe)]
            if not runs:
                continue
            ms = sorted(runs)
            entry = {
                "n": n,
                "d": d,
                "k": k,
                "recipe": recipe,
                **transition_fields(ms, [runs[m][0]["memorized_flags"] for m in ms]),
            }
            if recipe == "cpu" and paper:
                same = [m for m in sorted(paper) if m in runs]
                if same:
                    entry["on_paper_sizes"] = transition_fields(same, [runs[m][0]["memorized_flags"] for m in same])
            transitions.append(entry)
            for m in ms:
                result, arrays, config = runs[m]
                variances = np.exp(np.asarray(arrays["log_variance_history"], float))
                measures = curve_measures(
                    arrays["history_epochs"], arrays["loss_history"], arrays["log_variance_epochs"], variances, config
                )
                model_rows.append(
                    {
                        "n": n,
                        "d": d,
                        "k": k,
                        "recipe": recipe,
                        "m": m,
                        "epochs": config["epochs"],
                        "draws": config["draws"],
                        "peak_lr": config["peak_lr"],
                        "adam_b2": config["adam_b2"],
                        "ratio": result["memorization_ratio"],
                        "ratio_ci_low": result["memorization_ci_low"],
                        "ratio_ci_high": result["memorization_ci_high"],
                        "learned_variance": result["learned_variance"],
                        "train_loss_t16": result["train_loss"],
                        "train_loss_t16_se": result["train_loss_se"],
                        "test_loss_t16": result["test_loss"],
                        "test_loss_t16_se": result["test_loss_se"],
                        "dist_nearest_train": result["dist_nearest_train"],
                        "final_objective": result["final_objective"],
                        "train_seconds": result["train_seconds"],
                        **measures,
                    }
                )
                if recipe == "paper-small":
                    for epoch, loss in zip(arrays["history_epochs"], arrays["loss_history"]):
                        curves.append([n, d, k, m, "objective", int(epoch), float(loss)])
                    for epoch, variance in zip(arrays["log_variance_epochs"], variances):
                        curves.append([n, d, k, m, "variance", int(epoch), float(variance)])
    shifts = []
    for tup in run_gmm.TUPLES:
        cpu, paper = found[(tup, "cpu")], found[(tup, "paper-small")]
        if cpu and paper:
            shift = transition_shift(
                {m: r[0]["memorized_flags"] for m, r in cpu.items()},
                {m: r[0]["memorized_flags"] for m, r in paper.items()},
                seed=run_gmm.SEED,
            )
            shifts.append({"n": tup[0], "d": tup[1], "k": tup[2], "paper_m_values": sorted(paper), **shift})
    pooled = None
    if shifts:
        reps = np.mean([s_["replicates"] for s_ in shifts], axis=0)
        pooled = {
            "tuples": len(shifts),
            "mean_shift": float(np.mean([s_["shift"] for s_ in shifts])),
            "mean_shift_ci": [float(v) for v in np.quantile(reps, [0.025, 0.975])],
        }
    for s_ in shifts:
        del s_["replicates"]
    return found, model_rows, transitions, curves, shifts, pooled


def plot_gmm(found, transitions, shifts, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tuples = run_gmm.TUPLES
    fig, axes = plt.subplots(len(tuples), 3, figsize=(15, 3.6 * len(tuples)), squeeze=False)
    for row, tup in enumerate(tuples):
        ax = axes[row, 0]
        for recipe, color, marker in (("cpu", "tab:blue", "o"), ("paper-small", "tab:red", "s")):
            runs = found[(tup, recipe)]
            if not runs:
                continue
            ms = np.array(sorted(runs))
            ratio = np.array([runs[m][0]["memorization_ratio"] for m in ms])
            lo = ratio - np.array([runs[m][0]["memorization_ci_low"] for m in ms])
            hi = np.array([runs[m][0]["memorization_ci_high"] for m in ms]) - ratio
            t = next(t for t in transitions if (t["n"], t["d"], t["k"]) == tup and t["recipe"] == recipe)
            label = {"cpu": "CPU preset", "paper-small": "paper settings"}[recipe]
            high = t["m_pt_ci"][1] if t["m_pt_ci"][1] is not None else f">{max(ms)}"
            ax.errorbar(
                ms,
                ratio,
                yerr=[lo, hi],
                color=color,
                marker=marker,
                capsize=3,
                lw=1,
                label=f"{label}: M_pt = {t['m_pt']} [{t['m_pt_ci'][0]}, {high}]",
            )
        ax.axhline(0.5, color="gray", lw=0.6)
        title = f"(N, d, K) = {tup}"
        shift = next((s_ for s_ in shifts if (s_["n"], s_["d"], s_["k"]) == tup), None)
        if shift is not None:
            title += (
                f": 50% point moves {shift['shift']:+.2f}\n(95% CI {shift['shift_ci'][0]:+.2f} to "
                f"{shift['shift_ci'][1]:+.2f})"
            )
        ax.set(xlabel="M", ylabel="memorization ratio")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
        paper = found[(tup, "paper-small")]
        for col, (key, ylabel, log) in enumerate(
            (("loss", "training objective", True), ("variance", "learned variance", True)), start=1
        ):
            ax = axes[row, col]
            for m in sorted(paper):
                arrays = paper[m][1]
                if key == "loss":
                    ax.plot(arrays["history_epochs"], arrays["loss_history"], label=f"M={m}")
                else:
                    ax.plot(arrays["log_variance_epochs"], np.exp(arrays["log_variance_history"]), label=f"M={m}")
            if key == "variance":
                cpu = found[(tup, "cpu")]
                for m in sorted(paper):
                    if m in cpu:
                        ax.axhline(cpu[m][0]["learned_variance"], ls=":", lw=0.8, color="gray")
                ax.axhline(1.0, color="k", lw=0.6, ls="--")
            if log:
                ax.set_yscale("log")
            ax.set(xlabel="epoch", ylabel=ylabel)
            ax.set_title(
                f"paper settings: {ylabel}" + ("\n(dotted: CPU preset's; dashed: true)" if key == "variance" else ""),
                fontsize=9,
            )
            if paper:
                ax.legend(fontsize=7)
    fig.suptitle(
        "GMM: CPU preset (1,000 epochs, 1 draw, lr 5e-2, b2 0.9) vs the paper's settings "
        "(50,000 epochs, 100 draws, lr 1e-3, b2 0.999); 95% Clopper-Pearson intervals",
        fontsize=10,
    )
    fig.tight_layout()
    save_figure(fig, out / "convergence_gmm")
    plt.close(fig)


# ----------------------------------------------------------------------------------------------------
# Image model
# ----------------------------------------------------------------------------------------------------


def analyze_image(cache_dir: Path, epoch_counts: list[int]):
    """The image study's models: the cpu recipe and the paper optimizer at each of ``epoch_counts``."""
    rows, curves, found, transitions, baselines = [], [], {}, [], {}
    recipes = [("cpu", None)] + [(f"paper-optimizer-{e}", e) for e in epoch_counts]
    for source in run_image.SOURCES:
        base = _sweep.load_result(cache_dir, run_image.baseline_config(source), _image_runs.evaluate_baselines)
        if base is not None:
            baselines[source] = base["result"]
        for recipe, epochs in recipes:
            runs = {}
            for m in run_image.M_VALUES:
                config = run_image.model_config(source, "cpu" if epochs is None else "paper-optimizer", m, epochs or 0)
                record = _sweep.load_result(cache_dir, config, _image_runs.train_and_evaluate)
                if record is None:
                    continue
                arrays = load_npz(_sweep.run_dir(cache_dir, config, _image_runs.train_and_evaluate) / "model.npz")
                runs[m] = (image_with_interval(record["result"]), arrays, config)
            found[(source, recipe)] = runs
            if runs:
                ms = sorted(runs)
                transitions.append(
                    {
                        "source": source,
                        "recipe": recipe,
                        **transition_fields(ms, [runs[m][0]["memorized_flags"] for m in ms]),
                    }
                )
            for m, (result, arrays, config) in sorted(runs.items()):
                variances = np.exp(np.asarray(arrays["log_color_var_history"], float))
                measures = curve_measures(
                    arrays["history_epochs"], arrays["loss_history"], arrays["log_color_var_epochs"], variances, config
                )
                rows.append(
                    {
                        "source": source,
                        "recipe": recipe,
                        "m": m,
                        "epochs": config["epochs"],
                        "draws": config["draws"],
                        "peak_lr": config["peak_lr"],
                        "adam_b2": config["adam_b2"],
                        "ratio": result["ratio"],
                        "ratio_ci_low": result["ratio_ci_low"],
                        "ratio_ci_high": result["ratio_ci_high"],
                        "learned_color_var": result["learned_color_var"],
                        "train_loss_t16": result["train_loss"],
                        "train_loss_t16_se": result["train_loss_se"],
                        "test_loss_t16": result.get("test_loss"),
                        "test_loss_t16_se": result.get("test_loss_se"),
                        "final_objective": result["final_objective"],
                        "train_seconds": result["train_seconds"],
                        **measures,
                    }
                )
                if recipe != "cpu":
                    for epoch, loss in zip(arrays["history_epochs"], arrays["loss_history"]):
                        curves.append([source, recipe, m, "objective", int(epoch), float(loss)])
                    for epoch, variance in zip(arrays["log_color_var_epochs"], variances):
                        curves.append([source, recipe, m, "color_variance", int(epoch), float(variance)])
    return found, rows, curves, transitions, baselines, [r for r, _ in recipes]


def plot_image(found, baselines, recipes, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = [s for s in run_image.SOURCES if any(found.get((s, r)) for r in recipes)]
    if not sources:
        return
    fig, axes = plt.subplots(len(sources), 3, figsize=(15, 3.6 * len(sources)), squeeze=False)
    for row, source in enumerate(sources):
        ax = axes[row, 0]
        styles = zip(recipes, ("tab:blue", "tab:orange", "tab:red", "tab:purple"), ("o", "s", "D", "^"))
        for recipe, color, marker in styles:
            runs = found.get((source, recipe), {})
            if not runs:
                continue
            ms = np.array(sorted(runs))
            ratio = np.array([runs[m][0]["ratio"] for m in ms])
            lo = ratio - np.array([runs[m][0]["ratio_ci_low"] for m in ms])
            hi = np.array([runs[m][0]["ratio_ci_high"] for m in ms]) - ratio
            epochs = runs[ms[0]][2]["epochs"]
            ax.errorbar(
                ms,
                ratio,
                yerr=[lo, hi],
                color=color,
                marker=marker,
                capsize=3,
                lw=1,
                label=f"{recipe} ({epochs} epochs, lr {runs[ms[0]][2]['peak_lr']:g}, b2 {runs[ms[0]][2]['adam_b2']:g})",
            )
        if source in baselines:
            ax.axhline(baselines[source]["exact_ratio"], color="tab:green", ls=":", label="exact denoiser")
        ax.axhline(0.5, color="gray", lw=0.6)
        ax.set(xlabel="M", ylabel="memorization ratio", title=f"image model, {source} templates, N={run_image.N}")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(0.0, 0.3))
        for col, key in ((1, "loss"), (2, "variance")):
            ax = axes[row, col]
            for recipe in recipes[1:]:
                paper = found.get((source, recipe), {})
                for m in sorted(paper):
                    arrays = paper[m][1]
                    label = f"M={m}, {paper[m][2]['epochs']} epochs"
                    if key == "loss":
                        ax.plot(arrays["history_epochs"], arrays["loss_history"], label=label)
                    else:
                        ax.plot(arrays["log_color_var_epochs"], np.exp(arrays["log_color_var_history"]), label=label)
            if key == "variance":
                ax.axhline(1.0, color="k", lw=0.6, ls="--")
            ax.set_yscale("log")
            ax.set(
                xlabel="epoch",
                ylabel="training objective" if key == "loss" else "learned colour variance",
                title="paper optimizer: " + ("objective" if key == "loss" else "colour variance (dashed: true)"),
            )
            if any(found.get((source, r)) for r in recipes[1:]):
                ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "convergence_image")
    plt.close(fig)


def _table(rows: list[dict]) -> tuple[list[str], list[list]]:
    header = list(rows[0]) if rows else []
    return header, [[r.get(h, "") for h in header] for r in rows]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gmm-cache", type=Path, default=PHASE_TRANSITION_CACHE)
    parser.add_argument("--image-cache", type=Path, default=IMAGE_MODEL_CACHE)
    parser.add_argument(
        "--image-epochs",
        default="6000,100000",
        help="epoch counts of the image study's paper-optimizer models, comma-separated",
    )
    parser.add_argument("--out", type=Path, default=Path("studies/convergence"))
    args = parser.parse_args(argv)
    found, model_rows, transitions, curves, shifts, pooled = analyze_gmm(args.gmm_cache)
    if shifts:
        write_csv(
            args.out / "gmm_shift.csv",
            *_table(
                [{k: (" ".join(map(str, v)) if isinstance(v, list) else v) for k, v in s_.items()} for s_ in shifts]
            ),
        )
    write_csv(args.out / "gmm_models.csv", *_table(model_rows))
    flat = []
    for t in transitions:
        row = {k: v for k, v in t.items() if k not in ("on_paper_sizes", "m_values")}
        for key in ("m_start_ci", "m_pt_ci", "m_end_ci"):
            row[f"{key}_low"], row[f"{key}_high"] = row.pop(key)
        row["m_values"] = " ".join(map(str, t["m_values"]))
        sub = t.get("on_paper_sizes", {})
        row["m_pt_on_paper_sizes"] = sub.get("m_pt", "")
        row["m_pt_on_paper_sizes_ci"] = " ".join(map(str, sub.get("m_pt_ci", [])))
        flat.append(row)
    write_csv(args.out / "gmm_transitions.csv", *_table(flat))
    write_csv(args.out / "gmm_curves.csv", ["n", "d", "k", "m", "quantity", "epoch", "value"], curves)
    plot_gmm(found, transitions, shifts, args.out)
    epoch_counts = [int(e) for e in str(args.image_epochs).split(",") if e.strip()]
    image_found, image_rows, image_curves, image_transitions, baselines, recipes = analyze_image(
        args.image_cache, epoch_counts
    )
    if image_rows:
        write_csv(args.out / "image_models.csv", *_table(image_rows))
        write_csv(args.out / "image_curves.csv", ["source", "recipe", "m", "quantity", "epoch", "value"], image_curves)
        plot_image(image_found, baselines, recipes, args.out)
    write_json(
        args.out / "convergence.json",
        {
            "gmm": {
                "tuples": [list(t) for t in run_gmm.TUPLES],
                "seed": run_gmm.SEED,
                "transitions": transitions,
                "shift": shifts,
                "pooled_shift": pooled,
                "models": model_rows,
            },
            "image": {
                "n": run_image.N,
                "k": run_image.K,
                "channels": run_image.CHANNELS,
                "side": run_image.SIDE,
                "sources": run_image.SOURCES,
                "transitions": image_transitions,
                "models": image_rows,
                "baselines": {
                    s: {k: v for k, v in b.items() if k.startswith(("exact_", "mem_"))} for s, b in baselines.items()
                },
            },
        },
    )
    for t in transitions:
        print(
            t["n"],
            t["d"],
            t["k"],
            t["recipe"],
            "M_pt",
            t["m_pt"],
            t["m_pt_ci"],
            "start",
            t["m_start"],
            "end",
            t["m_end"],
            "tried",
            t["m_values"],
            "| on paper sizes:",
            t.get("on_paper_sizes", {}).get("m_pt"),
        )
    for s_ in shifts:
        print(
            s_["n"],
            s_["d"],
            s_["k"],
            "m50 cpu",
            round(s_["m50_cpu"], 2),
            s_["m50_cpu_ci"],
            "width",
            round(s_["width_cpu"], 2),
            "m50 paper",
            round(s_["m50_paper"], 2),
            s_["m50_paper_ci"],
            "shift",
            round(s_["shift"], 2),
            s_["shift_ci"],
        )
    print("pooled", pooled)
    for t in image_transitions:
        print(t["source"], t["recipe"], "M_pt", t["m_pt"], t["m_pt_ci"], "tried", t["m_values"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
