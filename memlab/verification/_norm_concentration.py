"""Lemma C.2: concentration of ‖g‖² for g ~ N(μ, σ² I_d), against the exact noncentral χ² law.

‖g‖²/σ² ~ χ'²(d, λ) with λ = ‖μ‖²/σ², so the event
|‖g‖² − (‖μ‖² + σ² d)| >= ε σ √d (σ √d + ‖μ‖) is |Y − (λ + d)| >= ε √d (√d + √λ) for Y ~ χ'²(d, λ):
the probability depends on (d, ‖μ‖/σ, ε) only (σ is a pure scale).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from memlab.verification._claim import Budget, CheckResult
from memlab.verification._common import exact_bound_result, fmt
from memlab.verification._registry import register_claim

__all__ = ["lemma_c2_log_probability", "lemma_c2_log_bound", "check_lemma_c2"]

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


def _monte_carlo_cross_check(rng: np.random.Generator, settings: list[tuple[int, float, float]], draws: int) -> list[dict]:
    """Simulate g ~ N(μ, σ²I) directly (σ = 0.7, arbitrary μ direction) and compare with the exact law."""
    out = []
    sigma = 0.7
    for d, radius, eps in settings:
        mu = rng.standard_normal(d)
        mu *= radius * sigma / max(np.linalg.norm(mu), 1e-300)
        g = mu + sigma * rng.standard_normal((draws, d))
        sq = np.sum(g * g, axis=1)
        mu_norm = np.linalg.norm(mu)
        hit = np.abs(sq - (mu_norm**2 + sigma**2 * d)) >= eps * sigma * math.sqrt(d) * (sigma * math.sqrt(d) + mu_norm)
        freq = float(hit.mean())
        exact = math.exp(lemma_c2_log_probability(d, radius, eps))
        se = math.sqrt(max(exact * (1 - exact), 1e-300) / draws)
        out.append({"d": d, "radius": radius, "eps": eps, "frequency": freq, "exact": exact, "z": (freq - exact) / se})
    return out


@register_claim(
    id="lemma-C.2",
    paper_ref="Lemma C.2",
    statement="g ~ N(μ, σ² I_d), 0 < ε < 1: P(|‖g‖² − (‖μ‖² + σ²d)| >= ε σ √d (σ √d + ‖μ‖)) <= 4 exp(−d ε²/8).",
    kind="bound",
)
def check_lemma_c2(budget: Budget, *, rng: np.random.Generator) -> CheckResult:
    ds = budget.pick([1, 2, 3, 5, 10, 30, 100, 300, 1000, 10000],
                     [1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50, 70, 100, 200, 300, 500, 1000, 2000, 5000, 10000, 30000, 100000])
    eps_grid = budget.pick([0.01, 0.1, 0.2, 0.3, 0.5, 0.7, 0.99],
                           list(np.round(np.linspace(0.01, 0.99, 50), 4)))
    rows, skipped = [], 0
    for d in ds:
        radii = sorted({0.0, 0.1, 1.0, 0.5 * math.sqrt(d), math.sqrt(d), 2 * math.sqrt(d), 10 * math.sqrt(d),
                        100 * math.sqrt(d)})
        for radius in radii:
            for eps in eps_grid:
                log_bound = lemma_c2_log_bound(d, eps)
                if log_bound < _LOG_BOUND_FLOOR:
                    skipped += 1
                    continue
                rows.append({"d": d, "mu_over_sigma": radius, "eps": float(eps),
                             "log_probability": lemma_c2_log_probability(d, radius, eps), "log_bound": log_bound})
    cross = _monte_carlo_cross_check(rng, [(5, 1.0, 0.5), (50, math.sqrt(50), 0.3), (200, 0.0, 0.2)],
                                     budget.pick(4000, 40000))
    notes = [
        "σ is a pure scale: the event and its probability depend on (d, ‖μ‖/σ, ε) only.",
        f"{skipped} settings with bound < e^-600 left out (SciPy's noncentral χ² tails are not reliable there).",
        "Monte Carlo cross-check of the exact law (z-scores of simulated frequency vs exact probability): "
        + ", ".join(f"d={c['d']}: z={c['z']:.2f}" for c in cross),
    ]
    result = exact_bound_result(
        rows, size_key=lambda r: (r["d"], r["mu_over_sigma"], r["eps"]), what="P(deviation)",
        bound_what="4 exp(-d ε²/8)", notes=notes, extra_details={"monte_carlo_cross_check": cross},
        settings={"tried": len(rows), "summary": f"d in [1, {ds[-1]:.0e}] x |μ|/σ (8) x ε ({len(eps_grid)})",
                  "d": ds, "mu_over_sigma": "0, 0.1, 1, 0.5√d, √d, 2√d, 10√d, 100√d", "eps": [float(e) for e in eps_grid]})
    worst = result.details["worst_setting"]
    result.summary += f" at d={worst['d']}, |μ|/σ={fmt(worst['mu_over_sigma'], 3)}, ε={fmt(worst['eps'], 2)}"
    return result
