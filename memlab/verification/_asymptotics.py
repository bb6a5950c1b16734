"""Theorems 3.1 and 3.2: the Monte Carlo excess losses against the closed forms a user gets, as d grows.

The two sides of each claim:

- statement: ``memlab.numerics.excess_gen_approx`` (Theorem 3.1's dσ*²/(ψ_tσ*² + 1), lambdified from
  ``memlab.theory.excess_generalizing``) and ``memlab.numerics.excess_pmem_approx`` with C = 1 and C = 2
  (Theorem 3.2's band C(1 − M/N)dσ*², from ``memlab.theory.excess_pmem``) — the functions Figure 1 uses;
- measurement: ``memlab.gpu_kernels.mc_excess_losses``, the Monte Carlo estimate of
  E‖x̂ − x̂_mem‖² (eq. 13) for x̂_* and for x̂_pmem,M at every M, on datasets drawn from
  π_* = (1/K) Σ_k N(μ^k, σ*² I) with the means uniform on the sphere of radius √d (App. H.1).

One experiment (shared by the three claims, cached per run) draws S independent datasets per
setting. The theorems are statements about the expectation over datasets, so every cell (d, t) or
(d, t, M) is the mean over the S datasets of the measured/stated ratio, with its standard error from
their spread (which contains the Monte Carlo error of each); the S per-dataset values are i.i.d.

Decision (a test of size FALSE_ALARM = 1e-3 per claim): per setting, Student-t intervals with S − 1
degrees of freedom, Bonferroni over every cell of the setting and over the settings, hold for every
cell at once with probability >= 1 − 1e-3. They bound the largest excursion E(d) of the measured ratio
from the stated set ({1} for Theorem 3.1, [1, 2] for the constant of Theorem 3.2) over the cells in
the theorems' regime (ψ_t >= log(d)²/d, Θ-constant 1). The claim **fails** when

(A) at the largest d (and at the tight setting of Theorem 3.2) the lower confidence bound of E(d)
    exceeds the tolerance τ (the stated quantity is off by more than τ where the theorem claims it), or
(B) for two consecutive d < d', the lower bound of E(d') exceeds max(upper bound of E(d), τ)
    (the deviation grows with d instead of shrinking);

it **holds** when neither rejects and the upper bound of E at the largest d is within τ, and is
**inconclusive** otherwise. A true statement (E(d_max) <= τ, E non-increasing beyond τ) is reported
"fails" only when some interval misses its truth: probability <= 1e-3.

Theorem 3.2's upper constant (2, the one Figure 1 draws) is approached only at high SNR, large d and
few kept points per mode; a dedicated "tight" setting (K = 2, N = 16, large d, t near 0, M from the
proof's coupon-collector threshold) is where the check has its power against it.
"""

from __future__ import annotations

import itertools
import math
import time
import zlib
from dataclasses import dataclass

import numpy as np

from memlab._jaxcfg import float64_enabled
from memlab._progress import progress
from memlab.numerics import (
    excess_gen_approx,
    excess_pmem_approx,
    make_gmm_dataset,
    schedule_coefficients,
    timestep_grid,
)
from memlab.verification._claim import Budget, CheckResult, Perturbation, Rescore, quantity
from memlab.verification._common import fmt
from memlab.verification._registry import register_claim
from memlab.verification._stats import FALSE_ALARM, excursion_bounds, replicate_mean_se, t_sigma

__all__ = [
    "TOLERANCE_3_1",
    "TOLERANCE_3_2",
    "ExperimentConfig",
    "check_theorem_3_1",
    "check_theorem_3_2",
    "check_theorem_3_2_coupon",
    "coupon_threshold",
    "excursion_decision",
    "experiment_config",
    "high_snr",
    "run_experiment",
]

K_MODES = 4
SIGMA2_STAR = 1.0
#: Theorem 3.1's tolerance at the largest d: |ratio − 1| <= 1% at every t of the regime.
TOLERANCE_3_1 = 0.01
#: Theorem 3.2's tolerance at the largest d and the tight setting: C within [1 − 0.02, 2 + 0.02].
TOLERANCE_3_2 = 0.02

_WHY_TOLERANCE_3_1 = (
    "the theorem states ratio → 1 with no rate, so the finite-d remainder needs some room: 1% at the largest d "
    "(measured remainder there: well below it, see by_d), small enough that a closed form off by 2% is "
    "detected (the power target). Not fitted: the same τ at every budget."
)
_WHY_TOLERANCE_3_2 = (
    "the theorem states the leading constant only (no rate); 0.02 = 1% of the upper constant is the finite-d "
    "room at the largest d and the tight setting, small against the 10% power target."
)


@dataclass(frozen=True)
class Setting:
    """One (d, N, K) of the experiment: ``role`` "sequence" (d grows) or "tight" (Theorem 3.2's upper constant)."""

    d: int
    n: int
    k: int
    t_indices: tuple[int, ...]
    role: str = "sequence"

    @property
    def label(self) -> str:
        return f"d={self.d}" + (f" (tight: K={self.k}, N={self.n})" if self.role == "tight" else "")


class ExperimentConfig:
    """The settings of the shared experiment for a budget."""

    def __init__(self, budget: Budget):
        self.budget = budget.name
        self.sigma2 = SIGMA2_STAR
        self.draws = budget.pick(2, 4)
        self.datasets = budget.pick(128, 128)
        t_indices = budget.pick(tuple(range(25, 0, -2)), tuple(range(25, -1, -1)))
        n_cap = budget.pick(60, 100)
        ds = budget.pick((10, 50, 200), (10, 50, 200, 800))
        self.settings = [Setting(d, int(min(2 * d, n_cap)), K_MODES, t_indices) for d in ds]
        self.settings.append(Setting(budget.pick(1000, 4000), 16, 2, (25, 23), role="tight"))

    def as_dict(self) -> dict:
        grid = timestep_grid()
        return {
            "settings": [
                {"d": s.d, "N": s.n, "K": s.k, "role": s.role, "t": [float(grid[i]) for i in s.t_indices]}
                for s in self.settings
            ],
            "sigma2_star": self.sigma2,
            "draws_per_sample": self.draws,
            "datasets_per_setting": self.datasets,
            "means": "uniform on the sphere of radius sqrt(d), drawn anew for every dataset",
        }


def experiment_config(budget: Budget) -> ExperimentConfig:
    return ExperimentConfig(budget)


def _engine_run(x_train, means, sigma2, alphas, sigmas, draws: int, seed: int) -> dict:
    """One dataset through the engine (float64 when JAX's x64 mode is on, as the CLI and tests set it)."""
    import jax  # lazy: importing memlab.verification needs only NumPy/SciPy
    import jax.numpy as jnp

    from memlab.gpu_kernels import mc_excess_losses

    dtype = jnp.float64 if float64_enabled() else jnp.float32
    out = mc_excess_losses(
        x_train, means, sigma2, alphas=alphas, sigmas=sigmas, draws=draws, key=jax.random.key(seed), dtype=dtype
    )
    return {
        "excess_gen": np.asarray(out.excess_gen),
        "excess_gen_se": np.asarray(out.excess_gen_se),
        "excess_pmem": np.asarray(out.excess_pmem),
        "engine": f"memlab.gpu_kernels.mc_excess_losses ({jnp.dtype(dtype).name}, {jax.default_backend()})",
    }


_CACHE: dict = {}


def run_experiment(budget: Budget, seed: int) -> dict:
    """Run (or fetch from this process's cache) the shared experiment for ``(budget, seed)``.

    Returns per setting: ``gen`` (S, T) excess of x̂_*, ``gen_se`` (S, T) its Monte Carlo SE within each
    dataset, ``pmem`` (S, T, N) excess of x̂_pmem,M for M = 1..N, and the schedule values at its t.
    """
    key = (budget.name, int(seed))
    if key in _CACHE:
        return _CACHE[key]
    cfg = experiment_config(budget)
    grid = timestep_grid()
    base = np.random.SeedSequence([int(seed), zlib.crc32(b"theorems-3.1-3.2")])
    results, engine = [], ""
    bar = progress(total=len(cfg.settings) * cfg.datasets, desc="Monte Carlo (Theorems 3.1/3.2)")
    for setting, ss in zip(cfg.settings, base.spawn(len(cfg.settings))):
        ts = np.array([grid[i] for i in setting.t_indices])
        alphas, sigmas, psis = (np.asarray(v, dtype=np.float64) for v in schedule_coefficients(ts))
        runs, seeds = [], []
        start = time.perf_counter()
        for ds_seq in ss.spawn(cfg.datasets):
            data_seed, noise_seed = (int(v) for v in ds_seq.generate_state(2))
            seeds.append(data_seed)
            ds = make_gmm_dataset(d=setting.d, k=setting.k, n=setting.n, n_test=0, sigma2=cfg.sigma2, seed=data_seed)
            runs.append(_engine_run(ds.x_train, ds.means, ds.sigma2, alphas, sigmas, cfg.draws, noise_seed))
            bar.update(1)
        engine = runs[0]["engine"]
        results.append(
            {
                "setting": setting,
                "t": ts,
                "alpha": alphas,
                "sigma": sigmas,
                "psi": psis,
                "dataset_seeds": seeds,
                "elapsed_s": round(time.perf_counter() - start, 3),
                "gen": np.stack([r["excess_gen"] for r in runs]),
                "gen_se": np.stack([r["excess_gen_se"] for r in runs]),
                "pmem": np.stack([r["excess_pmem"] for r in runs]),
            }
        )
    bar.close()
    result = {"config": cfg.as_dict(), "settings": results, "engine": engine}
    _CACHE[key] = result
    return result


def high_snr(psi: np.ndarray, d: int) -> np.ndarray:
    """The theorems' regime ψ_t >= log(d)²/d (the constant of Θ(·) taken as 1)."""
    return np.asarray(psi) >= math.log(d) ** 2 / d


def coupon_threshold(d: int, k: int) -> float:
    """(1 + log d) K log K: the smallest M for which the proof's coupon-collector bound (Prop. C.4) applies."""
    return (1.0 + math.log(d)) * k * math.log(k)


# ------------------------------------------------------------------------------------------- decision


@dataclass(frozen=True)
class CellGroup:
    """The cells of one setting: per-dataset measured/stated values (S, m) and the stated set [lo, hi] (m,)."""

    setting: Setting
    values: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    cells: tuple[dict, ...]


def _weighted_mean_se(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SE of bootstrap replicates given by resampling counts: values (S, m), counts (B, S) -> (B, m) x2."""
    s = values.shape[0]
    mean = counts @ values / s
    second = counts @ (values * values) / s
    variance = np.maximum(second - mean * mean, 0.0) * s / (s - 1)
    return mean, np.sqrt(variance / s)


def _rules(per_group: list[dict], groups: list[CellGroup], tolerance: float) -> list[tuple]:
    """Rules (A) and (B) on the groups' bounds (scalars, or arrays over bootstrap replicates).

    Returns ``(rule, index, previous index or None, rejects)`` for every comparison made; the claim fails
    where any ``rejects`` is True.
    """
    sequence = [i for i, g in enumerate(groups) if g.setting.role == "sequence"]
    checked = [sequence[-1]] + [i for i, g in enumerate(groups) if g.setting.role == "tight"]
    out: list[tuple[str, int, int | None, np.ndarray]] = [
        ("A", i, None, per_group[i]["lcb"] > tolerance) for i in checked
    ]
    out += [
        ("B", b, a, per_group[b]["lcb"] > np.maximum(per_group[a]["ucb"], tolerance))
        for a, b in itertools.pairwise(sequence)
    ]
    return out


def excursion_decision(
    groups: list[CellGroup],
    *,
    scale: float,
    tolerance: float,
    false_alarm: float = FALSE_ALARM,
    rng: np.random.Generator | None = None,
) -> dict:
    """The verdict of rules (A) and (B) (module docstring) for the stated set multiplied by ``scale``.

    ``rng``: resample every setting's datasets with replacement first (a bootstrap replicate, for power).
    """
    per_group = []
    alpha_each = false_alarm / len(groups)
    for g in groups:
        values = g.values
        s = values.shape[0]
        if rng is not None:
            values = values[rng.integers(0, s, size=s)]
        mean, se = replicate_mean_se(values)
        k = t_sigma(mean.size, s, false_alarm=alpha_each)
        bounds = excursion_bounds(mean / scale, se / scale, g.lo, g.hi, k)
        per_group.append({"group": g, "mean": mean, "se": se, **bounds})
    reasons = []
    for rule, i, previous, rejects in _rules(per_group, groups, tolerance):
        if rejects:
            p = per_group[i]
            reason = {
                "rule": rule,
                "setting": p["group"].setting.label,
                "lcb": float(p["lcb"]),
                "tolerance": tolerance,
                "cell": p["group"].cells[int(p["argmax_lcb"])],
            }
            if previous is not None:
                reason.update(
                    previous=per_group[previous]["group"].setting.label, previous_ucb=float(per_group[previous]["ucb"])
                )
            reasons.append(reason)
    checked = [p for p in per_group if p["group"].setting.role == "tight"] + [
        [p for p in per_group if p["group"].setting.role == "sequence"][-1]
    ]
    confirmed = all(p["ucb"] <= tolerance for p in checked)
    verdict = "fails" if reasons else ("holds" if confirmed else "inconclusive")
    return {"verdict": verdict, "reasons": reasons, "groups": per_group}


class _BootstrapRates:
    """``detection_rate(scale, seeds)`` for the excursion decision: every replicate's means/SEs computed once.

    Replicate b resamples the groups' datasets in order with ``default_rng(seeds[b])``, exactly as
    ``excursion_decision(..., rng=default_rng(seeds[b]))`` does; only the scale changes between calls.
    """

    def __init__(self, groups: list[CellGroup], tolerance: float, false_alarm: float = FALSE_ALARM):
        self.groups, self.tolerance, self.false_alarm = groups, tolerance, false_alarm
        self._seeds: tuple | None = None
        self._stats: list = []

    def _prepare(self, seeds) -> None:
        key = tuple(int(s) for s in seeds)
        if key == self._seeds:
            return
        counts = [np.zeros((len(key), g.values.shape[0])) for g in self.groups]
        for b, seed in enumerate(key):
            rng = np.random.default_rng(seed)
            for g, c in zip(self.groups, counts):
                s = g.values.shape[0]
                c[b] = np.bincount(rng.integers(0, s, size=s), minlength=s)
        alpha_each = self.false_alarm / len(self.groups)
        self._stats = [
            (*_weighted_mean_se(g.values, c), t_sigma(g.values.shape[1], g.values.shape[0], false_alarm=alpha_each))
            for g, c in zip(self.groups, counts)
        ]
        self._seeds = key

    def __call__(self, scale: float, seeds) -> float:
        self._prepare(seeds)
        per_group = [
            excursion_bounds(mean / scale, se / scale, g.lo, g.hi, k)
            for g, (mean, se, k) in zip(self.groups, self._stats)
        ]
        assert self._seeds is not None  # set by _prepare
        fails = np.zeros(len(self._seeds), dtype=np.bool_)
        for *_, rejects in _rules(per_group, self.groups, self.tolerance):
            fails = fails | rejects
        return float(np.mean(fails.astype(np.float64)))


def _group_rows(decision: dict) -> list[dict]:
    rows = []
    for p in decision["groups"]:
        g = p["group"]
        worst = int(p["argmax"])
        rows.append(
            {
                "setting": g.setting.label,
                "d": g.setting.d,
                "N": g.setting.n,
                "K": g.setting.k,
                "role": g.setting.role,
                "cells": len(g.cells),
                "datasets": int(g.values.shape[0]),
                "largest_excursion": float(p["estimate"]),
                "excursion_lcb": float(p["lcb"]),
                "excursion_ucb": float(p["ucb"]),
                "k": p["k"],
                "worst_cell": {**g.cells[worst], "mean": float(p["mean"][worst]), "se": float(p["se"][worst])},
            }
        )
    return rows


def _decision_rule_text(tolerance: float, what: str) -> str:
    return (
        f"per setting, Student-t intervals (S − 1 dof) for every cell at once, Bonferroni over the cells and the "
        f"settings (family-wise {FALSE_ALARM:g}); E(d) = largest distance of {what} from the stated set over the "
        f"regime's cells. fails if (A) lower bound of E > τ = {tolerance:g} at the largest d (and the tight "
        "setting), or (B) lower bound of E(d') > max(upper bound of E(d), τ) for consecutive d < d'; holds if "
        "neither and the upper bound of E <= τ there; else inconclusive"
    )


def _rescore(
    groups: list[CellGroup], tolerance: float, perturbations: tuple[Perturbation, ...], notes: tuple[str, ...] = ()
) -> Rescore:
    return Rescore(
        fails=lambda scale, rng: (
            excursion_decision(groups, scale=scale, tolerance=tolerance, rng=rng)["verdict"] == "fails"
        ),
        perturbations=perturbations,
        stochastic=True,
        method="the S datasets of every setting resampled with replacement, the whole decision (A)+(B) re-run",
        notes=notes,
        detection_rate=_BootstrapRates(groups, tolerance),
    )


# --------------------------------------------------------------------------------------- Theorem 3.1


def _theorem_3_1_groups(exp: dict) -> list[CellGroup]:
    groups = []
    for res in exp["settings"]:
        setting = res["setting"]
        if setting.role != "sequence":
            continue
        closed = excess_gen_approx(res["psi"], d=setting.d, sigma2=SIGMA2_STAR)  # the statement a user gets
        regime = np.nonzero(high_snr(res["psi"], setting.d))[0]
        values = res["gen"][:, regime] / closed[None, regime]
        cells = tuple({"d": setting.d, "t": float(res["t"][j]), "psi": float(res["psi"][j])} for j in regime)
        groups.append(CellGroup(setting, values, np.ones(regime.size), np.ones(regime.size), cells))
    return groups


@register_claim(
    id="thm-3.1",
    paper_ref="Theorem 3.1",
    statement="N = poly(d), separated means, σ_*² = O(1): E[L_{N,t}(x̂_*) − L_{N,t}(x̂_mem)] ≈ dσ_*²/(ψ_tσ_*² + 1) "
    "with leading coefficient 1, uniformly on t in [0, κ(d)] (ψ_t ≳ log(d)²/d): the ratio → 1 as d grows.",
    kind="asymptotic",
)
def check_theorem_3_1(
    budget: Budget, *, rng: np.random.Generator, seed: int, statement_scale: float = 1.0
) -> CheckResult:
    exp = run_experiment(budget, seed)
    groups = _theorem_3_1_groups(exp)
    decision = excursion_decision(groups, scale=statement_scale, tolerance=TOLERANCE_3_1)
    rows = _group_rows(decision)
    for row, g, p in zip(rows, groups, decision["groups"]):
        row["ratio_by_t"] = {f"{c['t']:.5g}": [float(m), float(s)] for c, m, s in zip(g.cells, p["mean"], p["se"])}
    last = rows[-1]
    verdict = decision["verdict"]
    return CheckResult(
        verdict=verdict,
        measured=quantity(
            last["largest_excursion"],
            se=None,
            what=f"E(d) = sup over the regime's t of |ratio − 1| at the largest d = {last['d']} "
            f"(ratio = mean over {last['datasets']} datasets of Monte Carlo excess / closed form), "
            "with its simultaneous confidence bounds",
            interval=[last["excursion_lcb"], last["excursion_ucb"]],
            by_d={r["d"]: [r["largest_excursion"], r["worst_cell"]["se"]] for r in rows},  # (E, SE)
            bounds_by_d={r["d"]: [r["excursion_lcb"], r["excursion_ucb"]] for r in rows},
        ),
        expected=quantity(0.0, what=f"E(d) → 0 as d grows: <= τ = {TOLERANCE_3_1:g} at the largest d and not growing"),
        tolerance={
            "value": TOLERANCE_3_1,
            "why": _WHY_TOLERANCE_3_1,
            "false_alarm": FALSE_ALARM,
            "rule": _decision_rule_text(TOLERANCE_3_1, "the ratio measured / closed form"),
        },
        sides={
            "statement": "memlab.numerics.excess_gen_approx(psi, d=d, sigma2=σ*²) — Theorem 3.1's dσ*²/(ψσ*² + 1) "
            "from memlab.theory.excess_generalizing (SymPy), as Figure 1 uses it",
            "measurement": f"{exp['engine']}: Monte Carlo E‖x̂_* − x̂_mem‖² (eq. 13) on "
            f"{exp['config']['datasets_per_setting']} independent datasets per d",
        },
        settings={
            "tried": sum(len(g.cells) for g in groups),
            "summary": f"d in {[g.setting.d for g in groups]}, K={K_MODES}, N={[g.setting.n for g in groups]}, "
            f"{exp['config']['datasets_per_setting']} datasets x {exp['config']['draws_per_sample']} "
            f"draws, regime t",
            **exp["config"],
        },
        counterexample={"reasons": decision["reasons"]} if verdict == "fails" else None,
        details={
            "by_d": rows,
            "engine": exp["engine"],
            "notes": [
                "Regime: ψ_t >= log(d)²/d (Θ-constant 1); cells outside it are not tested.",
                "Each dataset draws its own means (uniform on the sphere of radius √d), training set and "
                "noise, so the datasets are i.i.d. replicates of the estimate.",
            ],
        },
        summary="; ".join(
            f"d={r['d']}: E={fmt(r['largest_excursion'], 3)} [{fmt(r['excursion_lcb'], 2)}, "
            f"{fmt(r['excursion_ucb'], 2)}]"
            for r in rows
        )
        + f" (sup|ratio−1|, τ={TOLERANCE_3_1:g})",
        rescore=_rescore(
            groups,
            TOLERANCE_3_1,
            (Perturbation("closed form × (1 + r)", +1), Perturbation("closed form × (1 − r)", -1)),
        ),
    )


# --------------------------------------------------------------------------------------- Theorem 3.2


def _theorem_3_2_groups(exp: dict, *, restrict_coupon: bool) -> list[CellGroup]:
    groups = []
    for res in exp["settings"]:
        setting = res["setting"]
        n, d = setting.n, setting.d
        m_min = math.ceil(coupon_threshold(d, setting.k)) if restrict_coupon else 1
        if setting.role == "tight" and not restrict_coupon:
            continue
        ms = np.arange(max(m_min, 1), n)  # M < N
        if ms.size == 0:
            continue
        lower = excess_pmem_approx(ms, n=n, d=d, sigma2=SIGMA2_STAR, c=1.0)  # the statement a user gets (C = 1 ...
        upper = excess_pmem_approx(ms, n=n, d=d, sigma2=SIGMA2_STAR, c=2.0)  # ... and C = 2)
        regime = np.nonzero(high_snr(res["psi"], d))[0]
        values = res["pmem"][:, regime][:, :, ms - 1] / lower[None, None, :]  # (S, T_regime, n_M): empirical C
        cells = tuple(
            {"d": d, "N": n, "K": setting.k, "t": float(res["t"][j]), "psi": float(res["psi"][j]), "M": int(m)}
            for j in regime
            for m in ms
        )
        hi = np.broadcast_to(upper / lower, (regime.size, ms.size)).reshape(-1)
        groups.append(CellGroup(setting, values.reshape(values.shape[0], -1), np.ones(hi.size), hi.copy(), cells))
    return groups


def _theorem_3_2_result(exp: dict, *, restrict_coupon: bool, statement_scale: float) -> CheckResult:
    groups = _theorem_3_2_groups(exp, restrict_coupon=restrict_coupon)
    decision = excursion_decision(groups, scale=statement_scale, tolerance=TOLERANCE_3_2)
    rows = _group_rows(decision)
    for row, g, p in zip(rows, groups, decision["groups"]):
        row["C_range"] = [float(p["mean"].min()), float(p["mean"].max())]
        row["M_min"] = min(c["M"] for c in g.cells)
        above = [c["M"] for c, m, s in zip(g.cells, p["mean"], p["se"]) if m / statement_scale > 2.0 + p["k"] * s]
        row["largest_M_significantly_above_2"] = max(above, default=None)
    verdict = decision["verdict"]
    counterexample = None
    if verdict == "fails":
        first = decision["reasons"][0]
        p = next(p for p in decision["groups"] if p["group"].setting.label == first["setting"])
        idx = int(p["argmax_lcb"])
        counterexample = {
            **p["group"].cells[idx],
            "C": float(p["mean"][idx]),
            "se": float(p["se"][idx]),
            "rule": first["rule"],
            "excursion_lcb": first["lcb"],
            "dataset_seeds": next(r["dataset_seeds"] for r in exp["settings"] if r["setting"] == p["group"].setting),
            "reasons": decision["reasons"],
        }
    sequence_rows = [r for r in rows if r["role"] == "sequence"]
    tight_rows = [r for r in rows if r["role"] == "tight"]
    worst = max(
        [sequence_rows[-1], *tight_rows],  # farthest outside [1, 2], else nearest to its edge
        key=lambda r: (r["largest_excursion"], max(1.0 - r["worst_cell"]["mean"], r["worst_cell"]["mean"] - 2.0)),
    )
    perturbations = (
        Perturbation("upper constant 2 → 2(1 − r) (band × (1 − r))", -1),
        Perturbation("lower constant 1 → 1 + r (band × (1 + r))", +1, primary=False),
    )
    loose_note = (
        "The lower constant 1 is not approached in the regime at these d: the empirical C stays >= "
        f"{min(r['C_range'][0] for r in sequence_rows[1:] or sequence_rows):.3g} for d >= "
        f"{(sequence_rows[1:] or sequence_rows)[0]['d']} (C → 1 needs a flat softmax within a mode, "
        "ψ_t ≲ 1/√d, below the regime's log(d)²/d until d ≈ 5500); the headline power is for the upper "
        "constant 2, approached at the tight setting."
    )
    return CheckResult(
        verdict=verdict,
        measured=quantity(
            worst["worst_cell"]["mean"],
            se=worst["worst_cell"]["se"],
            what="the empirical C(M, t) = excess_pmem / ((1 − M/N) d σ*²) (mean over datasets) at the "
            "cell "
            "farthest from [1, 2] at the largest d or the tight setting; ranges of C per d and the "
            "largest excursion E from [1, 2] with its confidence bounds per d beside it",
            at=worst["worst_cell"],
            largest_excursion=worst["largest_excursion"],
            ranges_by_d={r["d"]: r["C_range"] for r in rows},
            excursion_bounds_by_d={r["d"]: [r["excursion_lcb"], r["excursion_ucb"]] for r in rows},
        ),
        expected=quantity(
            [1.0, 2.0],
            what="C in [1, 2] for every M < N"
            + (" with M >= (1 + log d) K log K" if restrict_coupon else "")
            + f" and regime t (ψ_t >= log(d)²/d); E <= τ = {TOLERANCE_3_2:g} at the largest d",
        ),
        tolerance={
            "value": TOLERANCE_3_2,
            "why": _WHY_TOLERANCE_3_2,
            "false_alarm": FALSE_ALARM,
            "rule": _decision_rule_text(TOLERANCE_3_2, "C"),
        },
        sides={
            "statement": "memlab.numerics.excess_pmem_approx(M, n=N, d=d, sigma2=σ*², c=1 and c=2) — Theorem "
            "3.2's band C(1 − M/N)dσ*² from memlab.theory.excess_pmem (SymPy)",
            "measurement": f"{exp['engine']}: Monte Carlo E‖x̂_pmem,M − x̂_mem‖² for every M (all-M kernel) on "
            f"{exp['config']['datasets_per_setting']} independent datasets per setting",
        },
        settings={
            "tried": sum(len(g.cells) for g in groups),
            "summary": f"d in {[r['d'] for r in sequence_rows]}"
            + (f" + tight d={tight_rows[0]['d']}" if tight_rows else "")
            + (", M >= (1+log d)K log K" if restrict_coupon else ", all M < N")
            + ", regime t",
            **exp["config"],
        },
        counterexample=counterexample,
        details={
            "by_d": rows,
            "engine": exp["engine"],
            "notes": [
                "C > 2 for small M (too few kept points to cover every mode: the nearest kept point is "
                "often in another mode, at squared distance ~ 2dσ*² + ‖μ^k − μ^k'‖²).",
                "The proof (Lemma E.6, Theorem F.3) uses Prop. C.4 with ℓ = M >= (1 + log d) K log K; "
                "thm-3.2-coupon is the statement restricted to that range.",
                loose_note,
            ],
        },
        summary=(
            f"C={fmt(counterexample['C'], 3)}±{fmt(counterexample['se'], 2)} at d={counterexample['d']}, "
            f"M={counterexample['M']}, t={fmt(counterexample['t'], 3)} (rule {counterexample['rule']}); "
            if counterexample
            else ""
        )
        + "; ".join(
            f"{r['setting'].split(' ')[0]}: C∈[{fmt(r['C_range'][0], 3)},{fmt(r['C_range'][1], 3)}]" for r in rows
        ),
        rescore=_rescore(groups, TOLERANCE_3_2, perturbations, notes=(loose_note,)),
    )


@register_claim(
    id="thm-3.2",
    paper_ref="Theorem 3.2",
    statement="Same regime: E[L_{N,t}(x̂_pmem,M) − L_{N,t}(x̂_mem)] = Θ((1 − M/N) dσ_*²) with leading coefficient "
    "C in [1, 2], uniformly on t in [0, κ(d)], for M < N. (As stated: every M.)",
    kind="asymptotic",
)
def check_theorem_3_2(
    budget: Budget, *, rng: np.random.Generator, seed: int, statement_scale: float = 1.0
) -> CheckResult:
    return _theorem_3_2_result(run_experiment(budget, seed), restrict_coupon=False, statement_scale=statement_scale)


@register_claim(
    id="thm-3.2-coupon",
    paper_ref="Theorem 3.2 (proof, Thm. F.3)",
    statement="Theorem 3.2 restricted to M >= (1 + log d) K log K, the range where its proof's coupon-collector step "
    "(Prop. C.4, Lemma E.6) applies.",
    kind="asymptotic",
)
def check_theorem_3_2_coupon(
    budget: Budget, *, rng: np.random.Generator, seed: int, statement_scale: float = 1.0
) -> CheckResult:
    return _theorem_3_2_result(run_experiment(budget, seed), restrict_coupon=True, statement_scale=statement_scale)
