"""Lemma E.1: the distance gap between the true cluster and every other cluster of a noised sample.

With x = α_t x^i + σ_t g, x^i = μ^{k_i} + σ_* w and n = α_t σ_* w + σ_t g ~ N(0, s² I), s² = α_t²σ_*² + σ_t²,
the gap to cluster k is exactly Gaussian:
    D_k = ‖α_t μ^k − x‖² − ‖α_t μ^{k_i} − x‖² = α_t² δ_k² + 2 α_t <Δ_k, n>,   δ_k = ‖μ^{k_i} − μ^k‖,
so P(D_k < α_t²γ²/2) = Φ((α_t²γ²/2 − α_t²δ_k²) / (2 α_t δ_k s)) =: p_k, and the failure probability of
the lemma lies in [mean_{k_i} max_k p_k, mean_{k_i} min(1, Σ_k p_k)] — an exact bracket. A Monte Carlo
simulation of the whole pipeline (draw the cluster, the sample, the noise; compute the distances)
is reported beside it with its standard error. ε is taken at the largest admissible value
(the bound 4K exp(−dε²/8) is smallest there), ε = min(α_tγ/(4√(d s²)), 1 − 1e−12).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize
from scipy.special import log_ndtr, ndtr

from memlab.numerics import schedule_coefficients, sphere_means, timestep_grid
from memlab.verification._claim import Budget, CheckResult, Rescore, quantity
from memlab.verification._common import BOUND_TIGHTENED, binomial_cross_check, fmt, loose_note, mark_error
from memlab.verification._registry import register_claim
from memlab.verification._stats import FALSE_ALARM, frequency_exceeds, frequency_test, k_sigma

__all__ = ["check_lemma_e1", "lemma_e1_eps_max", "lemma_e1_exact_bracket", "lemma_e1_monte_carlo", "simplex_means"]


def simplex_means(rng: np.random.Generator, k: int, d: int, gamma: float) -> np.ndarray:
    """K means in R^d with every pairwise distance exactly γ (regular simplex, random orientation); K <= d + 1."""
    if k > d + 1:
        raise ValueError("a regular simplex with K vertices needs d >= K - 1")
    centered = np.eye(k) - 1.0 / k  # rows: e_i − mean, pairwise distance sqrt(2)
    u, _, _ = np.linalg.svd(centered.T, full_matrices=False)
    coords = centered @ u[:, : k - 1]  # (k, k-1), same distances
    basis, _ = np.linalg.qr(rng.standard_normal((d, max(k - 1, 1))))  # random orthonormal (k-1)-frame in R^d
    return (gamma / math.sqrt(2.0)) * coords @ basis[:, : k - 1].T


def lemma_e1_eps_max(*, alpha: float, sigma: float, sigma2_star: float, gamma: float, d: int) -> float:
    return min(alpha * gamma / (4.0 * math.sqrt(d * (alpha**2 * sigma2_star + sigma**2))), 1.0 - 1e-12)


def _pairwise_distances(means: np.ndarray) -> np.ndarray:
    sq = np.sum(means * means, axis=1)
    return np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * means @ means.T, 0.0))


def lemma_e1_exact_bracket(
    means: np.ndarray,
    *,
    alpha: float,
    sigma: float,
    sigma2_star: float,
    gamma: float,
    distances: np.ndarray | None = None,
) -> tuple[float, float]:
    """[lower, upper] on P(min_{k≠k_i} D_k < α²γ²/2), averaged over the uniformly drawn cluster k_i."""
    s = math.sqrt(alpha**2 * sigma2_star + sigma**2)
    delta = _pairwise_distances(means) if distances is None else distances  # (K, K)
    k = means.shape[0]
    off = ~np.eye(k, dtype=bool)
    z = np.full((k, k), -np.inf)
    z[off] = (alpha**2 * gamma**2 / 2 - alpha**2 * delta[off] ** 2) / (2 * alpha * delta[off] * s)
    p = ndtr(z)
    lower = float(np.mean(p.max(axis=1)))
    upper = float(np.mean(np.minimum(1.0, p.sum(axis=1))))
    return lower, upper


def lemma_e1_monte_carlo(
    rng: np.random.Generator,
    means: np.ndarray,
    *,
    alpha: float,
    sigma: float,
    sigma2_star: float,
    gamma: float,
    reps: int,
) -> int:
    """Number of the ``reps`` simulated (cluster, sample, noise) draws on which the gap is below α²γ²/2."""
    k, d = means.shape
    labels = rng.integers(0, k, size=reps)
    x0 = means[labels] + math.sqrt(sigma2_star) * rng.standard_normal((reps, d))
    x = alpha * x0 + sigma * rng.standard_normal((reps, d))
    sq = (
        np.sum(x * x, axis=1)[:, None] - 2 * alpha * x @ means.T + alpha**2 * np.sum(means * means, axis=1)[None, :]
    )  # ‖α μ^k − x‖², (reps, K)
    own = sq[np.arange(reps), labels]
    sq[np.arange(reps), labels] = np.inf
    gap = sq.min(axis=1) - own
    return int(np.sum(gap < alpha**2 * gamma**2 / 2))


def tightest_two_modes() -> dict:
    """The largest exact P/bound of Lemma E.1 over all settings with a non-trivial bound, via K = 2.

    With K = 2 the bracket is an equality, P = Φ(−u/4) with u = α_tγ/s (s² = α_t²σ*² + σ_t²), and at the
    largest admissible ε the bound is 8 exp(−u²/128): the ratio depends on u only and decreases for
    u² > 128 log 8, where the bound drops below 1. (More modes add at most (K − 1)Φ(−u/4) against 4K e^{−u²/128}
    with a larger threshold, so K = 2 is the tightest.) One-dimensional maximisation over u.
    """
    u_min = math.sqrt(128.0 * math.log(8.0))

    def neg_log_ratio(u: float) -> float:
        return -(float(log_ndtr(-u / 4.0)) - (math.log(8.0) - u * u / 128.0))

    res = optimize.minimize_scalar(neg_log_ratio, bounds=(u_min, 20 * u_min), method="bounded")
    return {"ratio": math.exp(-res.fun), "u": float(res.x), "u_min": u_min, "K": 2}


def _settings(budget: Budget) -> list[dict]:
    grid = timestep_grid()
    t_idx = budget.pick([0, 6, 12, 16, 20, 25], [*list(range(0, 26, 2)), 25])
    out = []
    for d in budget.pick([2, 10, 50, 200, 1000], [2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 3000]):
        for k in budget.pick([2, 5, 12, 50], [2, 3, 4, 5, 8, 12, 20, 50]):
            for layout, c in (("simplex", 0.5), ("simplex", 2.0), ("sphere", None)):
                if layout == "simplex" and k > d + 1:
                    continue
                for sigma2_star in budget.pick([0.25, 1.0, 4.0], [0.1, 0.5, 2.0, 4.0]):
                    for i in t_idx:
                        out.append(
                            {
                                "d": d,
                                "K": k,
                                "layout": layout,
                                "gamma2_over_d": c,
                                "sigma2_star": sigma2_star,
                                "t": float(grid[i]),
                            }
                        )
    return out


@register_claim(
    id="lemma-E.1",
    paper_ref="Lemma E.1",
    statement="min_{k≠k'}‖μ^k − μ^{k'}‖ >= γ, x^i ~ (1/K)Σ N(μ^k, σ_*²I), x = α_t x^i + σ_t g: for 0 < ε < 1 with "
    "ε <= α_tγ/(4√(d(α_t²σ_*² + σ_t²))), with probability >= 1 − 4K exp(−dε²/8), "
    "min_{k≠k_i}‖α_tμ^k − x‖² − ‖α_tμ^{k_i} − x‖² >= α_t²γ²/2.",
    kind="bound",
)
def check_lemma_e1(budget: Budget, *, rng: np.random.Generator, statement_scale: float = 1.0) -> CheckResult:
    settings = _settings(budget)
    reps = budget.pick(1000, 4000)
    rows = []
    layouts: dict = {}
    for s in settings:
        d, k = s["d"], s["K"]
        key = (d, k, s["layout"], s["gamma2_over_d"])
        if key not in layouts:  # one set of means per layout, shared by every (σ*², t)
            if s["layout"] == "simplex":
                gamma = math.sqrt(s["gamma2_over_d"] * d)
                means = simplex_means(rng, k, d, gamma)
            else:
                means = sphere_means(rng, k, d)
                gamma = float(_pairwise_distances(means)[~np.eye(k, dtype=bool)].min())
            distances = _pairwise_distances(means)
            layouts[key] = (means, gamma, distances)
        means, gamma, distances = layouts[key]
        alpha, sigma, _ = (float(v) for v in schedule_coefficients(s["t"]))
        eps = lemma_e1_eps_max(alpha=alpha, sigma=sigma, sigma2_star=s["sigma2_star"], gamma=gamma, d=d)
        bound = 4.0 * k * math.exp(-d * eps * eps / 8.0) * statement_scale
        lower, upper = lemma_e1_exact_bracket(
            means, alpha=alpha, sigma=sigma, sigma2_star=s["sigma2_star"], gamma=gamma, distances=distances
        )
        rows.append(
            {
                **s,
                "gamma": gamma,
                "eps": eps,
                "bound": bound,
                "exact_lower": lower,
                "exact_upper": upper,
                "exact_violation": bool(lower > bound * (1 + 1e-9)),
                "alpha": alpha,
                "sigma": sigma,
                "frequency": None,
                "se": None,
                "exceeds": False,
            }
        )
    # Monte Carlo of the whole pipeline on the settings closest to their bound (all non-trivial ones in `full`).
    nontrivial_rows = sorted([r for r in rows if r["bound"] < 1], key=lambda r: -r["exact_upper"] / r["bound"])
    simulated = nontrivial_rows[: budget.pick(30, 300)]
    k_mc = k_sigma(max(len(simulated), 1), false_alarm=FALSE_ALARM / 2)
    per_alarm = FALSE_ALARM / 2 / max(len(simulated), 1)
    for r in simulated:
        means, gamma, _ = layouts[(r["d"], r["K"], r["layout"], r["gamma2_over_d"])]
        count = lemma_e1_monte_carlo(
            rng, means, alpha=r["alpha"], sigma=r["sigma"], sigma2_star=r["sigma2_star"], gamma=gamma, reps=reps
        )
        r.update(frequency_test(count, reps, r["bound"], k=k_mc, false_alarm_each=per_alarm))
    violations = [r for r in rows if r["exact_violation"] or r["exceeds"]]
    # Validate the exact bracket where the failure probability is large (small d, K = 2: bracket is an equality).
    # Enters the verdict: an inconsistent bracket makes the verdict 'error'. The claim's false-alarm probability
    # is split in two: half for the Monte Carlo frequencies against the bound, half for this cross-check.
    cross = []
    cases = ((2, 0.5), (10, 0.5), (5, 2.0))
    for d, gamma2 in cases:
        means = simplex_means(rng, 2, d, math.sqrt(gamma2 * d))
        alpha, sigma, _ = (float(v) for v in schedule_coefficients(0.5))
        exact, _ = lemma_e1_exact_bracket(means, alpha=alpha, sigma=sigma, sigma2_star=1.0, gamma=math.sqrt(gamma2 * d))
        mc_reps = budget.pick(10000, 200000)
        count = lemma_e1_monte_carlo(
            rng, means, alpha=alpha, sigma=sigma, sigma2_star=1.0, gamma=math.sqrt(gamma2 * d), reps=mc_reps
        )
        cross.append(
            binomial_cross_check(
                count,
                mc_reps,
                exact,
                false_alarm_each=FALSE_ALARM / 2 / len(cases),
                d=d,
                K=2,
                gamma2_over_d=gamma2,
                t=0.5,
            )
        )
    tight = tightest_two_modes()
    informative = [r for r in rows if r["bound"] / statement_scale < 1]  # power: where the stated bound says something
    exact_lower = np.array([r["exact_lower"] for r in informative])
    bounds = np.array([r["bound"] for r in informative]) / statement_scale
    sim_counts = np.array([round(r["frequency"] * reps) for r in simulated], dtype=np.float64)
    sim_bounds = np.array([r["bound"] for r in simulated]) / statement_scale

    def fails(scale: float, resample: np.random.Generator | None) -> bool:
        if np.any(exact_lower > bounds * scale * (1 + 1e-9)) or tight["ratio"] / scale > 1 + 1e-9:
            return True
        drawn = sim_counts if resample is None else resample.binomial(reps, sim_counts / reps)
        return bool(np.any(frequency_exceeds(drawn, reps, sim_bounds * scale, k=k_mc, false_alarm_each=per_alarm)))

    if tight["ratio"] / statement_scale > 1 + 1e-9:
        violations.append(
            {"d": None, "K": 2, "t": None, "u": tight["u"], "exact_ratio": tight["ratio"] / statement_scale}
        )
    nontrivial = [r for r in rows if r["bound"] < 1] or rows
    worst = max(nontrivial, key=lambda r: r["exact_upper"] / r["bound"])
    counterexample = min(violations, key=lambda r: (r["d"] or 0, r["K"], r["t"] or 0)) if violations else None
    notes = [
        "The gap D_k is exactly Gaussian given the cluster, so the bracket is rigorous; "
        "Monte Carlo vs exact where the failure probability is large (K = 2): "
        + ", ".join(f"d={c['d']}: z={c['z']:.2f}" for c in cross)
        + " (an inconsistency makes the verdict 'error').",
        "The event does not depend on ε and the bound 4K exp(−dε²/8) decreases in ε, so the largest "
        "admissible ε is the most stringent test of 'for any ε'.",
        "The proof needs max(ε, √ε) <= α_tγ/(4√(d(α_t²σ_*²+σ_t²))), stronger than the stated "
        "ε <= ...; the statement is checked with the weaker (stated) condition, at the largest ε.",
        f"Search for the tightest setting: with K = 2 the exact ratio depends on u = α_tγ/s only; its largest value "
        f"with a non-trivial bound is {tight['ratio']:.3g} (u = {tight['u']:.4g}, where the bound reaches 1); "
        "it enters the verdict.",
    ]
    note = loose_note(max(worst["exact_upper"] / worst["bound"], tight["ratio"]), "exact P/bound")
    if note:
        notes.append(note)
    inconsistent = [c for c in cross if not c["consistent"]]
    result = CheckResult(
        verdict="fails" if violations else "holds",
        measured=quantity(
            worst["exact_upper"],
            se=0.0,
            what="exact upper bracket of the failure probability (union of exact Gaussian tails) at the "
            "setting where it is closest to the bound; Monte Carlo frequency beside it",
            monte_carlo=worst["frequency"],
            monte_carlo_se=worst["se"],
            largest_monte_carlo_frequency=max(simulated, key=lambda r: r["frequency"])["frequency"]
            if simulated
            else None,
            at={k: worst[k] for k in ("d", "K", "layout", "sigma2_star", "t", "eps")},
        ),
        expected=quantity(worst["bound"], what="bound 4K exp(−dε²/8) at that setting"),
        tolerance={
            "value": k_mc,
            "why": f"exact bracket: fails if its lower end exceeds the bound; Monte Carlo: "
            f"frequency > bound + k·SE(bound) with k = {k_mc:.2f} and exact binomial tail < {per_alarm:.1e} "
            f"(half the family-wise false alarm {FALSE_ALARM:g} over the {len(simulated)} simulated settings; "
            "the other half for the cross-check of the bracket)",
            "false_alarm": FALSE_ALARM,
        },
        settings={
            "tried": len(rows),
            "summary": f"{len(rows)} (d,K,means,σ*²,t) exact, ε max; MC on {len(simulated)}",
            "monte_carlo_settings": len(simulated),
            "monte_carlo_reps": reps,
            "d": sorted({r["d"] for r in rows}),
            "K": sorted({r["K"] for r in rows}),
            "layouts": "regular simplex with γ² = d/2 or 2d (all gaps tight), sphere of radius √d",
            "sigma2_star": sorted({r["sigma2_star"] for r in rows}),
            "t": sorted({r["t"] for r in rows}),
        },
        counterexample=counterexample,
        sides={
            "statement": "Lemma E.1's bound 4K exp(−dε²/8) at the largest admissible ε, as typed from the paper",
            "measurement": "exact bracket of the failure probability (the gaps are exactly Gaussian given the mode: "
            "scipy.special.ndtr), plus a simulation of the whole pipeline (mode, sample, noise, "
            "distances) with its binomial error",
        },
        details={
            "rows": rows,
            "violations": len(violations),
            "bracket_cross_check": cross,
            "tightest_two_modes": tight,
            "nontrivial_settings": len([r for r in rows if r["bound"] < 1]),
            "notes": notes,
        },
        summary=f"max exact P/bound = {fmt(worst['exact_upper'] / worst['bound'])} (upper bracket); "
        f"{len(violations)}/{len(rows)} violate",
        rescore=Rescore(
            fails=fails,
            perturbations=(BOUND_TIGHTENED,),
            stochastic=True,
            method="exact brackets (settings with a bound < 1) fixed; the simulated counts redrawn from "
            "Binomial(reps, observed frequency)",
        ),
    )
    if inconsistent:
        bad = max(inconsistent, key=lambda c: abs(c["z"]))
        return mark_error(
            result,
            f"exact bracket {fmt(bad['exact'])} vs simulated {fmt(bad['frequency'])} at "
            f"d={bad['d']} (z = {bad['z']:.3g})",
            cross_checks=inconsistent,
        )
    return result
