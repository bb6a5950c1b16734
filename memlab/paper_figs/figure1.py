"""Figure 1: Monte Carlo excess losses of the partially memorizing denoisers (every M) and of the
generalizing denoiser, against the leading-order approximations of Theorems 3.1 and 3.2.

The paper's setting (:class:`~memlab.paper_figs.Figure1Settings` defaults): d = 50, K = 12, N = 200,
sigma_*^2 = 1, 100 noise draws per training sample, t = t_16 (psi ~ 6.704), every M = 1..N.
``compute(settings)`` runs the Monte Carlo engine (:func:`memlab.gpu_kernels.mc_excess_losses`);
``plot(result)`` draws; ``save(result, folder)`` writes

- ``figure1.png`` / ``figure1.pdf`` — the plot;
- ``figure1.csv`` — one row per (t, M), columns ``t,psi,M,loss_mem,excess_pmem,excess_pmem_se,
  excess_pmem_approx_c1,excess_pmem_approx_c2,excess_gen,excess_gen_se,excess_gen_approx`` (excess =
  loss minus the memorizing denoiser's loss, x0 units; se = Monte Carlo standard error; the ``*_gen*``
  and ``loss_mem`` columns repeat over M);
- ``figure1.json`` — configuration, versions, seed, device, timings and a summary.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from memlab import gpu_kernels, numerics
from memlab._io import result_set
from memlab._jaxcfg import float64_scope
from memlab._metadata import run_metadata
from memlab.paper_figs._settings import Figure1Settings

__all__ = ["CSV_COLUMNS", "DESCRIPTION", "STEM", "Figure1Result", "compute", "describe", "plot", "save"]

DESCRIPTION = "Figure 1: excess training loss of x_pmem,M (every M) and x_* over x_mem, Monte Carlo vs Theorems 3.1/3.2"
CSV_COLUMNS = (
    "t",
    "psi",
    "M",
    "loss_mem",
    "excess_pmem",
    "excess_pmem_se",
    "excess_pmem_approx_c1",
    "excess_pmem_approx_c2",
    "excess_gen",
    "excess_gen_se",
    "excess_gen_approx",
)
STEM = "figure1"

# Plain Unicode labels rather than mathtext: matplotlib parses every "$...$" string again for each
# resolution it renders at, which was about a third of `memlab figure 1`'s wall time (issue 13).
X_HAT = "x\u0302"
X_STAR = f"{X_HAT}*"
X_MEM = f"{X_HAT}mem"
X_PMEM = f"{X_HAT}pmem,M"
SIGMA2_STAR = "σ*²"
THM31_LABEL = f"Thm 3.1: d{SIGMA2_STAR}/(ψₜ{SIGMA2_STAR} + 1)"
_SUBSCRIPT = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _subscript(number: int) -> str:
    return str(number).translate(_SUBSCRIPT)


def _power_of_ten_label(value: float, _position=None) -> str:
    """Log-axis tick label: ``10²`` for an exact power of ten, the plain number otherwise."""
    if value <= 0:
        return ""
    exponent = round(math.log10(value))
    if np.isclose(value, 10.0**exponent, rtol=1e-9):
        return "1" if exponent == 0 else f"10{str(exponent).translate(_SUPERSCRIPT)}"
    return f"{value:g}"


@dataclass(frozen=True, eq=False)
class Figure1Result:
    """Figure 1's numbers (NumPy float64; T = number of timesteps, N = training samples).

    losses: the engine's :class:`~memlab.gpu_kernels.ExcessLosses` — ``excess_pmem`` (T, N) with column
    M-1 for x_pmem,M, ``excess_gen`` (T,), ``loss_mem`` (T,), each with its standard error;
    approx_c1, approx_c2: (N,) Theorem 3.2's (1 - M/N) d sigma2 times C = 1, 2; approx_gen: (T,)
    Theorem 3.1's d sigma2 / (psi sigma2 + 1); t, psi, alpha, sigma: (T,) the timesteps.
    """

    settings: Figure1Settings
    n: int
    d: int
    k: int
    sigma2: float
    source: str
    t: np.ndarray
    psi: np.ndarray
    alpha: np.ndarray
    sigma: np.ndarray
    losses: gpu_kernels.ExcessLosses
    approx_c1: np.ndarray
    approx_c2: np.ndarray
    approx_gen: np.ndarray
    chunk_size: int  # the (sample, draw) rows per tile the engine used
    compute_seconds: float

    @property
    def representative(self) -> int:
        """Position of t_16 among the timesteps (the main panel), else 0."""
        indices = list(self.settings.t_indices)
        return indices.index(numerics.REPRESENTATIVE_T_INDEX) if numerics.REPRESENTATIVE_T_INDEX in indices else 0

    def summary(self) -> dict[str, Any]:
        """The headline numbers at the representative timestep (also in figure1.json)."""
        return _summary(
            self.representative, self.t, self.psi, self.losses, self.approx_c1, self.approx_c2, self.approx_gen
        )


def _dataset(settings: Figure1Settings) -> tuple[numerics.GMMDataset, str]:
    if settings.data is not None:
        return numerics.load_gmm_dataset(settings.data), f"data {settings.data.name}"
    dataset = numerics.make_gmm_dataset(
        d=settings.d, k=settings.k, n=settings.n, n_test=0, sigma2=settings.sigma2, seed=settings.seed
    )
    return dataset, f"synthetic, seed {settings.seed}"


def compute(settings: Figure1Settings = Figure1Settings(), *, show_progress: bool = False) -> Figure1Result:
    """Monte Carlo excess losses of x_pmem,M (every M) and x_* at the chosen timesteps, with the approximations."""
    dataset, source = _dataset(settings)
    ts = numerics.timestep_grid(numerics.DEFAULT_STEPS)[list(settings.t_indices)]
    alphas, sigmas, psis = numerics.schedule_coefficients(ts, settings.schedule)
    started = time.perf_counter()
    with float64_scope():
        losses = gpu_kernels.mc_excess_losses(
            dataset.x_train,
            dataset.means,
            dataset.sigma2,
            alphas=alphas,
            sigmas=sigmas,
            draws=settings.draws,
            key=jax.random.key(settings.seed),
            chunk_size=settings.chunk_size,
            dtype=jnp.dtype(settings.dtype),
            show_progress=show_progress,
        )
    compute_seconds = time.perf_counter() - started
    n, d = dataset.n, dataset.d
    m = np.arange(1, n + 1)
    return Figure1Result(
        settings=settings,
        n=n,
        d=d,
        k=dataset.k,
        sigma2=dataset.sigma2,
        source=source,
        t=ts,
        psi=psis,
        alpha=alphas,
        sigma=sigmas,
        losses=losses,
        approx_c1=numerics.excess_pmem_approx(m, n=n, d=d, sigma2=dataset.sigma2, c=1.0),
        approx_c2=numerics.excess_pmem_approx(m, n=n, d=d, sigma2=dataset.sigma2, c=2.0),
        approx_gen=numerics.excess_gen_approx(psis, d=d, sigma2=dataset.sigma2),
        chunk_size=losses.chunk_size,
        compute_seconds=compute_seconds,
    )


def _rows(ts, psis, result, approx_c1, approx_c2, approx_gen):
    n = result.excess_pmem.shape[1]
    for ti, (t, psi) in enumerate(zip(ts, psis)):
        for m in range(1, n + 1):
            yield (
                float(t),
                float(psi),
                m,
                result.loss_mem[ti],
                result.excess_pmem[ti, m - 1],
                result.excess_pmem_se[ti, m - 1],
                approx_c1[m - 1],
                approx_c2[m - 1],
                result.excess_gen[ti],
                result.excess_gen_se[ti],
                approx_gen[ti],
            )


def _summary(ti, ts, psis, result, approx_c1, approx_c2, approx_gen) -> dict:
    """Numbers for the one-line summary and the JSON at timestep position ``ti``."""
    pmem = result.excess_pmem[ti]
    within = (pmem >= approx_c1) & (pmem <= approx_c2)
    below_gen = np.nonzero(pmem < result.excess_gen[ti])[0]
    return {
        "t": float(ts[ti]),
        "psi": float(psis[ti]),
        "excess_gen": float(result.excess_gen[ti]),
        "excess_gen_se": float(result.excess_gen_se[ti]),
        "excess_gen_approx": float(approx_gen[ti]),
        "pmem_between_c1_and_c2": int(within.sum()),
        "n": int(pmem.shape[0]),
        "smallest_m_pmem_below_gen": int(below_gen[0] + 1) if below_gen.size else None,
        "loss_mem": float(result.loss_mem[ti]),
        "loss_mem_se": float(result.loss_mem_se[ti]),
    }


def _plot_panel(ax: Axes, ti, result, approx_c1, approx_c2, approx_gen, *, title: str, legend: bool) -> None:
    n = result.excess_pmem.shape[1]
    m = np.arange(1, n + 1)
    pmem, pmem_se = result.excess_pmem[ti], result.excess_pmem_se[ti]
    gen, gen_se = result.excess_gen[ti], result.excess_gen_se[ti]
    ax.fill_between(m, pmem - 2 * pmem_se, pmem + 2 * pmem_se, color="C0", alpha=0.25, linewidth=0)
    ax.plot(m, pmem, color="C0", linewidth=1.6, label=f"{X_PMEM}: Monte Carlo (±2 SE)")
    ax.plot(m, approx_c2, color="C0", linestyle="--", linewidth=1.2, label=f"Thm 3.2, C = 2: 2(1 − M/N) d{SIGMA2_STAR}")
    ax.plot(m, approx_c1, color="C0", linestyle=":", linewidth=1.4, label=f"Thm 3.2, C = 1: (1 − M/N) d{SIGMA2_STAR}")
    ax.axhspan(gen - 2 * gen_se, gen + 2 * gen_se, color="C3", alpha=0.25, linewidth=0)
    ax.axhline(gen, color="C3", linewidth=1.6, label=f"{X_STAR} (generalizing): Monte Carlo (±2 SE)")
    ax.axhline(
        approx_gen[ti],
        color="darkred",
        linestyle=(0, (4, 3)),
        linewidth=1.2,
        zorder=3,
        label=THM31_LABEL,
    )
    below = np.nonzero(pmem < gen)[0]
    if below.size:
        ax.axvline(
            below[0] + 1,
            color="0.4",
            linestyle=":",
            linewidth=1.0,
            label=f"{X_PMEM} beats {X_STAR} from M = {below[0] + 1}",
        )
    ax.set_xlim(0, n + 1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("model size M (training points the denoiser memorizes)")
    ax.set_ylabel(f"excess training loss L({X_HAT}) − L({X_MEM})  [x₀-MSE]")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    if legend:
        ax.legend(fontsize=8, loc="upper right", framealpha=0.9)


def _plot_over_t(ax: Axes, ts, psis, result, approx_gen, approx_c1, approx_c2, gen_curve) -> None:
    """Every timestep: x_* excess vs psi with Theorem 3.1; x_pmem at M = N/2 with its C = 1, 2 levels."""
    n = result.excess_pmem.shape[1]
    half = max(1, n // 2)
    order = np.argsort(psis)
    ax.errorbar(
        psis[order],
        result.excess_gen[order],
        yerr=2 * result.excess_gen_se[order],
        fmt="o",
        color="C3",
        markersize=3.5,
        capsize=2,
        label=f"{X_STAR}: Monte Carlo (±2 SE)",
    )
    psi_dense = np.geomspace(psis.min(), psis.max(), 400)
    ax.plot(
        psi_dense,
        gen_curve(psi_dense),
        color="darkred",
        linestyle=(0, (4, 3)),
        linewidth=1.2,
        label=THM31_LABEL,
    )
    ax.errorbar(
        psis[order],
        result.excess_pmem[order, half - 1],
        yerr=2 * result.excess_pmem_se[order, half - 1],
        fmt="s",
        color="C0",
        markersize=3.5,
        capsize=2,
        label=f"{X_PMEM}, M = {half}",
    )
    ax.axhline(approx_c2[half - 1], color="C0", linestyle="--", linewidth=1.2, label="Thm 3.2, C = 2")
    ax.axhline(approx_c1[half - 1], color="C0", linestyle=":", linewidth=1.4, label="Thm 3.2, C = 1")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(_power_of_ten_label))
    ax.set_xlabel("signal-to-noise ratio ψₜ = αₜ²/σₜ² (every tℓ of the grid)")
    ax.set_ylabel(f"excess loss over {X_MEM}  [x₀-MSE]")
    ax.set_title("All timesteps: the approximations hold at high SNR", fontsize=10)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best", framealpha=0.9)


def _figure(
    ts, psis, t_indices, rep, result, approx_c1, approx_c2, approx_gen, gen_curve: Callable, header: str
) -> Figure:
    rep_title = f"t = t{_subscript(t_indices[rep])} = {ts[rep]:.5g},  ψₜ = {psis[rep]:.4g}"
    if len(ts) == 1:
        fig = Figure(figsize=(7.5, 5.2), layout="constrained")
        ax = fig.add_subplot()
        _plot_panel(ax, rep, result, approx_c1, approx_c2, approx_gen, title=rep_title, legend=True)
    else:
        fig = Figure(figsize=(14, 5.2), layout="constrained")
        left, right = fig.subplots(1, 2)
        _plot_panel(left, rep, result, approx_c1, approx_c2, approx_gen, title=rep_title, legend=True)
        _plot_over_t(right, ts, psis, result, approx_gen, approx_c1, approx_c2, gen_curve)
    fig.suptitle(header, fontsize=11)
    return fig


def plot(result: Figure1Result) -> Figure:
    """The excess-loss panel at t_16 (and, with several timesteps, the excess of x_* against psi)."""
    r = result
    header = (
        f"Figure 1 — excess training loss over the memorizing denoiser\nN={r.n}, d={r.d}, K={r.k}, "
        f"{SIGMA2_STAR}={r.sigma2:g}, {r.settings.draws} noise draws/sample ({r.source})"
    )
    return _figure(
        r.t,
        r.psi,
        list(r.settings.t_indices),
        r.representative,
        r.losses,
        r.approx_c1,
        r.approx_c2,
        r.approx_gen,
        lambda psi: numerics.excess_gen_approx(psi, d=r.d, sigma2=r.sigma2),
        header,
    )


def save(result: Figure1Result, folder: str | Path, *, extra: Mapping[str, Any] | None = None) -> list[Path]:
    """Write figure1.png/.pdf, figure1.csv and figure1.json into ``folder`` as one set.

    extra: more JSON entries (the CLI records its set-up time and compilation cache there).
    """
    r, s = result, result.settings
    plot_start = time.perf_counter()
    fig = plot(result)
    plot_s = time.perf_counter() - plot_start
    config = {
        "figure": 1,
        "n": r.n,
        "d": r.d,
        "k": r.k,
        "sigma2": r.sigma2,
        "draws": s.draws,
        "seed": s.seed,
        "data": str(s.data.resolve()) if s.data is not None else None,
        "schedule": s.schedule,
        "t_indices": list(s.t_indices),
        "t": r.t,
        "psi": r.psi,
        "alpha": r.alpha,
        "sigma": r.sigma,
        "dtype": s.dtype,
        "chunk_size": r.chunk_size,
        "engine": r.losses.engine,
        "settings": asdict(s),
        "approximations": {
            "excess_gen_approx": "Theorem 3.1: d sigma2 / (psi sigma2 + 1)",
            "excess_pmem_approx_c1": "Theorem 3.2, C=1: (1 - M/N) d sigma2",
            "excess_pmem_approx_c2": "Theorem 3.2, C=2: 2 (1 - M/N) d sigma2",
        },
    }
    write_start = time.perf_counter()
    extra = dict(extra or {})
    timings = {"compute_s": r.compute_seconds, "plot_s": plot_s, **extra.pop("timings", {})}
    with result_set(folder) as out:
        written = out.figure(STEM, fig)
        written.append(
            out.csv(f"{STEM}.csv", CSV_COLUMNS, _rows(r.t, r.psi, r.losses, r.approx_c1, r.approx_c2, r.approx_gen))
        )
        timings["write_s"] = time.perf_counter() - write_start
        written.append(
            out.json(
                f"{STEM}.json", {"config": config, **run_metadata(timings=timings), "summary": r.summary(), **extra}
            )
        )
    return written


def describe(result: Figure1Result) -> str:
    """One line: x_*'s excess against Theorem 3.1, how often x_pmem,M lies between C = 1 and C = 2, the crossing."""
    summary = result.summary()
    first_m = summary["smallest_m_pmem_below_gen"]
    crossing = f"x_pmem,M beats x_* from M = {first_m}" if first_m else "x_pmem,M never beats x_*"
    return (
        f"t={summary['t']:.5g} (psi={summary['psi']:.4g}): excess(x_*) = {summary['excess_gen']:.4g} "
        f"± {summary['excess_gen_se']:.2g} (Thm 3.1: {summary['excess_gen_approx']:.4g}); excess(x_pmem,M) "
        f"within [C=1, C=2] for {summary['pmem_between_c1_and_c2']}/{result.n} M; {crossing}; "
        f"{result.compute_seconds:.1f} s compute"
    )
