"""Lemma C.2: concentration of ‖g‖² for g ~ N(μ, σ² I_d), against the exact noncentral χ² law.

‖g‖²/σ² ~ χ'²(d, λ) with λ = ‖μ‖²/σ², so the event
|‖g‖² − (‖μ‖² + σ² d)| >= ε σ √d (σ √d + ‖μ‖) is |Y − (λ + d)| >= ε √d (√d + √λ) for Y ~ χ'²(d, λ):
the probability depends on (d, ‖μ‖/σ, ε) only (σ is a pure scale).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from memlab.verification._claim import Budget, CheckResult
from memlab.verification._common import binomial_cross_check, exact_bound_result, fmt
from memlab.verification._registry import register_claim
from memlab.verification._stats import FALSE_ALARM

__all__ = ["check_lemma_c2", "lemma_c2_log_bound", "lemma_c2_log_probability"]

#: Settings whose bound is below e^-600 are left out: SciPy's noncentral χ² tails are not reliable there.
_LOG_BOUND_FLOOR = -600.0


def lemma_c2_log_probability(d: int, radius: float, eps: float) -> float:
    """log P(|‖g‖² − (‖μ‖² + σ²d)| >= εσ√d(σ√d + ‖μ‖)) for ‖μ‖/σ = ``radius`` (exact, noncentral χ²)."""
    lam = radius * radius
    center = lam + d
    half_width = eps * math.sqrt(d) * (math.sqrt(d) + radius)
    lo, hi = center - half_width, center + half_width
    if lam == 0:
        log_upper = float(stats.chi2.logsf(hi, d))
        log_lower = float(stats.chi2.logcdf(lo, d)) if lo > 0 else -math.inf
    else:
        log_upper = float(stats.ncx2.logsf(hi, d, lam))
        log_lower = float(stats.ncx2.logcdf(lo, d, lam)) if lo > 0 else -math.inf
    return float(np.logaddexp(log_lower, log_upper))


def lemma_c2_log_bound(d: int, eps: float) -> float:
    """log of 4 exp(−d ε² / 8)."""
    return math.log(4.0) - d * eps * eps / 8.0


def _monte_carlo_cross_check(
    rng: np.random.Generator, settings: list[tuple[int, float, float]], draws: int
) -> list[dict]:
    """Simulate g ~ N(μ, σ²I) directly (σ = 0.7, random μ direction) and test the exact law's probability.

    Two-sided exact binomial test per setting; the claim's false-alarm probability is split over the settings.
    """
    out = []
    sigma = 0.7
    for d, radius, eps in settings:
        mu = rng.standard_normal(d)
        mu *= radius * sigma / max(float(np.linalg.norm(mu)), 1e-300)
        g = mu + sigma * rng.standard_normal((draws, d))
        sq = np.sum(g * g, axis=1)
        mu_norm = np.linalg.norm(mu)
        hit = np.abs(sq - (mu_norm**2 + sigma**2 * d)) >= eps * sigma * math.sqrt(d) * (sigma * math.sqrt(d) + mu_norm)
        out.append(
            binomial_cross_check(
                int(hit.sum()),
                draws,
                math.exp(lemma_c2_log_probability(d, radius, eps)),
                false_alarm_each=FALSE_ALARM / len(settings),
                d=d,
                radius=radius,
                eps=eps,
            )
        )
    return out


def tightest_search(start: dict) -> list[dict]:
    """Nelder–Mead over (log d, log(1 + |μ|/σ), logit ε) for the largest P/bound with a non-trivial bound,
    from the best grid row; the two integer d beside the optimum are returned as rows."""

    def unpack(u):
        return math.exp(u[0]), math.expm1(u[1]), 1.0 / (1.0 + math.exp(-u[2]))

    def objective(u) -> float:
        d, radius, eps = unpack(u)
        log_bound = lemma_c2_log_bound(d, eps)
        if not (1.0 <= d <= 1e6 and radius >= 0 and 0 < eps < 1) or log_bound >= 0 or log_bound < _LOG_BOUND_FLOOR:
            return 1e3
        return -(lemma_c2_log_probability(d, radius, eps) - log_bound)

    eps0 = min(max(start["eps"], 1e-6), 1 - 1e-6)
    res = optimize.minimize(
        objective,
        np.array([math.log(start["d"]), math.log1p(start["mu_over_sigma"]), math.log(eps0) - math.log1p(-eps0)]),
        method="Nelder-Mead",
        options={"xatol": 1e-3, "fatol": 1e-6, "maxiter": 60},
    )
    d_opt, radius, eps = unpack(res.x)
    rows = []
    for d in sorted({max(1, math.floor(d_opt)), math.ceil(d_opt)}):
        rows.append(
            {
                "d": int(d),
                "mu_over_sigma": float(radius),
                "eps": float(eps),
                "family": "search",
                "log_probability": lemma_c2_log_probability(d, radius, eps),
                "log_bound": lemma_c2_log_bound(d, eps),
            }
        )
    return rows


@register_claim(
    id="lemma-C.2",
    paper_ref="Lemma C.2",
    statement="g ~ N(μ, σ² I_d), 0 < ε < 1: P(|‖g‖² − (‖μ‖² + σ²d)| >= ε σ √d (σ √d + ‖μ‖)) <= 4 exp(−d ε²/8).",
    kind="bound",
)
def check_lemma_c2(budget: Budget, *, rng: np.random.Generator, statement_scale: float = 1.0) -> CheckResult:
    ds = budget.pick(
        [1, 2, 3, 5, 10, 30, 100, 300, 1000, 10000],
        [1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50, 70, 100, 200, 300, 500, 1000, 2000, 5000, 10000, 30000, 100000],
    )
    eps_grid = budget.pick([0.01, 0.1, 0.2, 0.3, 0.5, 0.7, 0.99], list(np.round(np.linspace(0.01, 0.99, 50), 4)))
    rows, skipped = [], 0
    for d in ds:
        radii = sorted(
            {0.0, 0.1, 1.0, 0.5 * math.sqrt(d), math.sqrt(d), 2 * math.sqrt(d), 10 * math.sqrt(d), 100 * math.sqrt(d)}
        )
        for radius in radii:
            for eps in eps_grid:
                log_bound = lemma_c2_log_bound(d, eps)
                if log_bound < _LOG_BOUND_FLOOR:
                    skipped += 1
                    continue
                rows.append(
                    {
                        "d": d,
                        "mu_over_sigma": radius,
                        "eps": float(eps),
                        "family": "grid",
                        "log_probability": lemma_c2_log_probability(d, radius, eps),
                        "log_bound": log_bound,
                    }
                )
    best = max((r for r in rows if r["log_bound"] < 0), key=lambda r: r["log_probability"] - r["log_bound"])
    searched = tightest_search(best)
    rows += searched
    # Cross-check the exact law by simulation at fixed settings and at the settings where the bound is tightest.
    tight = sorted(
        (r for r in rows if r["log_bound"] < 0 and r["d"] <= 1000), key=lambda r: r["log_probability"] - r["log_bound"]
    )[-2:]
    cross = _monte_carlo_cross_check(
        rng,
        [(5, 1.0, 0.5), (50, math.sqrt(50), 0.3), (200, 0.0, 0.2)]
        + [(r["d"], r["mu_over_sigma"], r["eps"]) for r in tight],
        budget.pick(4000, 40000),
    )
    top = max(searched, key=lambda r: r["log_probability"] - r["log_bound"])
    notes = [
        "σ is a pure scale: the event and its probability depend on (d, ‖μ‖/σ, ε) only.",
        f"{skipped} settings with bound < e^-600 left out (SciPy's noncentral χ² tails are not reliable there).",
        f"search for the tightest setting (Nelder–Mead from the best grid row): P/bound = "
        f"{math.exp(top['log_probability'] - top['log_bound']):.4g} at d={top['d']}, |μ|/σ={top['mu_over_sigma']:.3g}, "
        f"ε={top['eps']:.3g} (grid: {math.exp(best['log_probability'] - best['log_bound']):.4g}).",
    ]
    result = exact_bound_result(
        rows,
        size_key=lambda r: (r["d"], r["mu_over_sigma"], r["eps"]),
        what="P(deviation)",
        bound_what="4 exp(-d ε²/8)",
        notes=notes,
        cross_checks=cross,
        statement_scale=statement_scale,
        sides={
            "statement": "Lemma C.2's bound 4 exp(−dε²/8), as typed from the paper "
            "(memlab.verification._norm_concentration.lemma_c2_log_bound)",
            "measurement": "exact law: ‖g‖²/σ² ~ noncentral χ²(d, ‖μ‖²/σ²) (scipy.stats.ncx2 / chi2 tails), "
            "cross-checked by simulating g ~ N(μ, σ²I)",
        },
        settings={
            "tried": len(rows),
            "summary": f"d in [1, {ds[-1]:.0e}] x |μ|/σ (8) x ε ({len(eps_grid)}) + search",
            "d": ds,
            "mu_over_sigma": "0, 0.1, 1, 0.5√d, √d, 2√d, 10√d, 100√d",
            "eps": [float(e) for e in eps_grid],
        },
    )
    worst = result.details["worst_setting"]
    result.summary += f" at d={worst['d']}, |μ|/σ={fmt(worst['mu_over_sigma'], 3)}, ε={fmt(worst['eps'], 2)}"
    return result
