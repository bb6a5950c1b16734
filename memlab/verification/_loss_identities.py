"""Eq. 7 (x̂_mem minimises the training loss; it is the σ² → 0 limit of eq. 11), eq. 13 (orthogonality)
and App. B (an (M+1)-component model reproduces an M-component model's loss in the limit).

Losses are integrals over the noise, L_{N,t}(x̂) = (1/N) Σ_i E_Z ‖x̂(α_t x^i + σ_t Z) − x^i‖², estimated with R
draws per training point and common random numbers: every difference of losses is the average of
per-(i, draw) differences, with SE = sqrt(Σ_i s_i²/R)/N (the dataset is fixed: the noise is the only randomness).

Eq. 7 and eq. 13 rest on one fact: E[⟨x̂_mem(X_t) − X_0, h(X_t)⟩] = 0 for every h. Estimated naively over
(i, Z) this mean is dominated by rare events at high SNR — the off-diagonal softmax weights are
log-normal with log-scale √ψ_t ‖x^i − x^j‖, so the sample SE is unreliable and a k·SE test raises
false alarms. The checks therefore integrate the training index exactly: for each noised point X
they use the posterior P(i | X_t = X) ∝ N(X; α_t x^i, σ_t² I), computed here from the Gaussian
log-densities (independently of ``memlab.numerics``), so that
    E_i|X ‖f(X) − x^i‖² = ‖f(X) − m(X)‖² + E_i|X ‖m(X) − x^i‖²,  m(X) = Σ_i P(i|X) x^i,
and the statements become pointwise identities in X (up to rounding), checked on every point. The
naive (i, Z) Monte Carlo is reported beside them (z-scores where the log-normal scale √ψ_t min‖x^i − x^j‖
is <= 2) but does not decide: even there its per-draw terms are skewed enough that a 4σ normal tail is
not a 1e-3 test (seed 6 of the quick budget gave z = 4.37 against k = 4.03 for a true identity). Each
check also runs a negative control that must be rejected. For d = 1 the integrals are also done by
adaptive quadrature (eq. 13 to ~1e-10).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from memlab.numerics import (
    gmm_denoiser,
    isotropic_gmm_denoiser,
    make_gmm_dataset,
    mc_estimate,
    memorizing_denoiser,
    partial_memorizing_denoiser,
    schedule_coefficients,
    timestep_grid,
)
from memlab.verification._claim import Budget, CheckResult, Perturbation, Rescore, quantity
from memlab.verification._common import AllowedShifts, fmt
from memlab.verification._registry import register_claim
from memlab.verification._stats import FALSE_ALARM, k_sigma

__all__ = [
    "bounded_perturbation",
    "check_app_b",
    "check_eq_7_limit",
    "check_eq_7_minimizer",
    "check_eq_13",
    "noised",
    "per_sample_sq_error",
]

Denoiser = Callable[[np.ndarray], np.ndarray]

#: The perturbations of an identity: the statement's quantity multiplied by (1 ± r).
_BOTH_WAYS = (Perturbation("statement × (1 + r)", +1), Perturbation("statement × (1 − r)", -1))


def mc_mean_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and SE (sqrt(Σ_i s_i²/R)/N) of per-(sample, draw) values (N, R): memlab.numerics.mc_estimate."""
    estimate = mc_estimate(values)
    return estimate.mean, estimate.se


def _shift_rescore(allowed: AllowedShifts, statement_scale: float, method: str) -> Rescore:
    """Rescore of an identity whose comparisons are linear in the statement (see AllowedShifts)."""
    return Rescore(
        fails=lambda scale, _rng: not allowed.passes(scale / statement_scale - 1.0),
        perturbations=_BOTH_WAYS,
        method=method,
    )


def noised(x_train: np.ndarray, noise: np.ndarray, *, alpha: float, sigma: float) -> np.ndarray:
    """X_t = α x^i + σ Z for every (sample, draw): (N, d), (N, R, d) -> (N·R, d) (sample-major)."""
    return (alpha * x_train[:, None, :] + sigma * noise).reshape(-1, x_train.shape[1])


def per_sample_sq_error(values: np.ndarray, x_train: np.ndarray, draws: int) -> np.ndarray:
    """‖x̂ − x^i‖² per (sample, draw): (N·R, d) -> (N, R)."""
    diff = values.reshape(x_train.shape[0], draws, -1) - x_train[:, None, :]
    return np.sum(diff * diff, axis=-1)


def training_posterior(x: np.ndarray, x_train: np.ndarray, *, alpha: float, sigma: float) -> np.ndarray:
    """P(i | X_t = x) for X_0 uniform on the training set: Gaussian log-densities + log-sum-exp, (B, d) -> (B, N)."""
    from scipy.special import logsumexp

    d = x.shape[1]
    sq = (
        np.sum(x * x, axis=1)[:, None]
        - 2 * alpha * x @ x_train.T
        + alpha**2 * np.sum(x_train * x_train, axis=1)[None, :]
    )
    log_density = -np.maximum(sq, 0.0) / (2 * sigma**2) - 0.5 * d * math.log(2 * math.pi * sigma**2)
    return np.exp(log_density - logsumexp(log_density, axis=1, keepdims=True))


def lognormal_scale(x_train: np.ndarray, psi: float) -> float:
    """√ψ_t · min_{i≠j}‖x^i − x^j‖: the log-scale of the off-diagonal softmax weights of x̂_mem."""
    sq = np.sum(x_train * x_train, axis=1)
    dist2 = sq[:, None] + sq[None, :] - 2 * x_train @ x_train.T
    np.fill_diagonal(dist2, np.inf)
    return float(math.sqrt(psi * max(float(dist2.min()), 0.0)))


def conditional_loss(values: np.ndarray, x_train: np.ndarray, posterior: np.ndarray) -> np.ndarray:
    """E_{i|X} ‖f(X) − x^i‖² for every point (training index integrated exactly): (B, d), (N, d), (B, N) -> (B,).

    Computed as ‖f − m‖² + Σ_i P(i|X)‖m − x^i‖² with m = Σ_i P(i|X) x^i (no cancellation of large terms).
    """
    m = posterior @ x_train
    spread = np.sum(posterior * (np.sum(x_train * x_train, axis=1)[None, :] - 2 * m @ x_train.T), axis=1) + np.sum(
        m * m, axis=1
    )
    diff = values - m
    return np.sum(diff * diff, axis=1) + np.maximum(spread, 0.0)


#: Naive (i, Z) Monte Carlo tests are decided only where the log-normal scale is at most this.
NAIVE_MC_MAX_SCALE = 2.0


def bounded_perturbation(rng: np.random.Generator, d: int, scale: float, width: int = 8) -> Denoiser:
    """A random smooth bounded function h(x) = A tanh(B x / scale + c), ‖h‖ <= ‖A‖."""
    a = rng.standard_normal((width, d)) / math.sqrt(width)
    b = rng.standard_normal((d, width))
    c = rng.standard_normal(width)
    return lambda x: np.tanh(x @ b / scale + c) @ a


def _datasets(budget: Budget, seed: int) -> list:
    shapes = budget.pick(
        [(2, 2, 6), (10, 3, 20), (40, 5, 30)],
        [(1, 2, 5), (2, 2, 6), (5, 3, 12), (10, 3, 20), (40, 5, 30), (100, 8, 50)],
    )
    return [make_gmm_dataset(d=d, k=k, n=n, n_test=0, seed=seed + j) for j, (d, k, n) in enumerate(shapes)]


def _t_values(budget: Budget) -> list[float]:
    grid = timestep_grid()
    return [float(grid[i]) for i in budget.pick((22, 16, 10, 4), (25, 22, 19, 16, 13, 10, 7, 4, 1))]


def _candidate_denoisers(ds, alpha: float, sigma: float, rng: np.random.Generator) -> dict[str, Denoiser]:
    n = ds.n
    rand_means = ds.x_train[rng.choice(n, size=min(3, n), replace=False)] + 0.3 * rng.standard_normal((min(3, n), ds.d))
    return {
        "generalizing x̂_*": lambda x: isotropic_gmm_denoiser(
            x, alpha=alpha, sigma=sigma, means=ds.means, variance=ds.sigma2
        ),
        f"pmem M={max(n // 2, 1)}": lambda x: partial_memorizing_denoiser(
            x, alpha=alpha, sigma=sigma, train=ds.x_train, m=max(n // 2, 1)
        ),
        "pmem M=1": lambda x: partial_memorizing_denoiser(x, alpha=alpha, sigma=sigma, train=ds.x_train, m=1),
        "random GMM (3 means, var 0.5)": lambda x: isotropic_gmm_denoiser(
            x, alpha=alpha, sigma=sigma, means=rand_means, variance=0.5
        ),
        "zero": lambda x: np.zeros_like(x),
        "x/α": lambda x: x / alpha,
    }


# --------------------------------------------------------------------------------------------- eq. 7


@register_claim(
    id="eq-7-minimizer",
    paper_ref="eq. 7",
    statement="x̂_mem(t,x) = Σ_i x^i softmax(−‖α_t x^i − x‖²/(2σ_t²))_i minimises the per-t training loss L_{N,t}: "
    "for every perturbation h, L(x̂_mem + δh) − L(x̂_mem) = δ² E‖h‖² >= 0 (the first-order term vanishes).",
    kind="identity",
)
def check_eq_7_minimizer(budget: Budget, *, rng: np.random.Generator, statement_scale: float = 1.0) -> CheckResult:
    draws = budget.pick(100, 300)
    deltas = (1.0, 0.1, -0.1)
    plan = [(ds, t) for ds in _datasets(budget, seed=int(rng.integers(2**31))) for t in [*_t_values(budget), 0.95]]
    n_naive = 0
    for ds, t in plan:
        if lognormal_scale(ds.x_train, float(schedule_coefficients(t)[2])) <= NAIVE_MC_MAX_SCALE:
            n_naive += 3
    k = k_sigma(max(n_naive, 1), two_sided=True)
    rows, controls = [], []
    allowed = AllowedShifts()
    for ds, t in plan:
        alpha, sigma, psi = (float(v) for v in schedule_coefficients(t))
        noise = rng.standard_normal((ds.n, draws, ds.d))
        x = noised(ds.x_train, noise, alpha=alpha, sigma=sigma)
        mem = statement_scale * memorizing_denoiser(x, alpha=alpha, sigma=sigma, train=ds.x_train)
        gen = isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=ds.means, variance=ds.sigma2)
        post = training_posterior(x, ds.x_train, alpha=alpha, sigma=sigma)  # (B, N)
        post_mean = post @ ds.x_train
        scale = math.sqrt(ds.d) * (1.0 + float(np.abs(ds.means).max()))
        log_scale = lognormal_scale(ds.x_train, psi)
        perturbations = {
            "bounded tanh": bounded_perturbation(rng, ds.d, scale)(x),
            "constant": np.broadcast_to(rng.standard_normal(ds.d), x.shape),
            "towards x̂_*": gen - mem,
        }
        base_exact = conditional_loss(mem, ds.x_train, post)
        for name, h in perturbations.items():
            h_sq = np.sum(h * h, axis=1)
            row = {
                "d": ds.d,
                "K": ds.k,
                "N": ds.n,
                "t": t,
                "perturbation": name,
                "E_h_sq": float(h_sq.mean()),
                "lognormal_scale": log_scale,
                "deltas": [],
            }
            worst_rel = 0.0
            for delta in deltas:
                increase = (
                    conditional_loss(mem + delta * h, ds.x_train, post) - base_exact
                )  # per point: should be δ²‖h‖²
                predicted = delta**2 * h_sq
                err = np.abs(increase - predicted)
                tol = 1e-8 * (predicted + abs(delta) * np.sqrt(h_sq) * scale + 1e-300) + 1e-12 * scale**2
                # with the statement times (1 + x) the increase gains 2δx<x̂_mem, h> exactly (power re-run)
                allowed.add_linear(increase - predicted, 2 * delta * np.sum(mem * h, axis=1), tol)
                worst_rel = max(worst_rel, float(np.max(err / tol)))
                row["deltas"].append(
                    {
                        "delta": delta,
                        "loss_increase": float(increase.mean()),
                        "second_order_prediction": float(predicted.mean()),
                        "max_pointwise_error_over_tolerance": float(np.max(err / tol)),
                    }
                )
            row["pointwise_ok"] = bool(worst_rel <= 1.0)
            # Naive (i, Z) Monte Carlo of the first-order term, decided where it is trustworthy.
            cross = np.sum((mem - np.repeat(ds.x_train, draws, axis=0)) * h, axis=1).reshape(ds.n, draws)
            c_mean, c_se = mc_mean_se(cross)
            row.update(
                {
                    "naive_cross_term": c_mean,
                    "naive_se": c_se,
                    "naive_z": c_mean / c_se if c_se > 0 else 0.0,
                    "naive_decided": bool(log_scale <= NAIVE_MC_MAX_SCALE),
                }
            )
            row["naive_within_k"] = (not row["naive_decided"]) or abs(c_mean) <= k * c_se  # reported only
            row["consistent"] = bool(row["pointwise_ok"])
            rows.append(row)
        # Negative control: x̂_* in place of x̂_mem; its first-order term must be clearly non-zero.
        control_cross = np.sum((gen - post_mean) * (mem - gen), axis=1).reshape(ds.n, draws)
        c_mean, c_se = mc_mean_se(control_cross)
        controls.append(
            {
                "d": ds.d,
                "N": ds.n,
                "t": t,
                "cross_term": c_mean,
                "se": c_se,
                "z": c_mean / c_se if c_se > 0 else math.inf,
            }
        )
    bad = [r for r in rows if not r["consistent"]]
    rejected = [c for c in controls if abs(c["z"]) > k]
    power = len(rejected) > 0
    decided = [r for r in rows if r["naive_decided"]]
    worst = max(rows, key=lambda r: max(x["max_pointwise_error_over_tolerance"] for x in r["deltas"]))
    worst_err = max(x["max_pointwise_error_over_tolerance"] for x in worst["deltas"])
    worst_naive = max(decided, key=lambda r: abs(r["naive_z"])) if decided else None
    verdict = "fails" if bad else ("holds" if power else "inconclusive")
    return CheckResult(
        verdict=verdict,
        measured=quantity(
            worst_err,
            se=0.0,
            what="max over points of |E_i|X[loss increase] − δ²‖h(X)‖²| / tolerance (training index "
            "integrated exactly; must be <= 1)",
            naive_monte_carlo_max_abs_z=abs(worst_naive["naive_z"]) if worst_naive else None,
            at={k_: worst[k_] for k_ in ("d", "N", "t", "perturbation")},
        ),
        expected=quantity(0.0, what="loss(x̂_mem + δh) − loss(x̂_mem) = δ²E‖h‖² >= 0: first-order term 0"),
        tolerance={
            "value": 1e-8,
            "why": "pointwise, relative to δ²‖h‖² + |δ|‖h‖·scale (float64 rounding of the "
            "posterior and the squared norms): exact, no false alarm. The naive (i, Z) Monte Carlo "
            f"|first-order term| / SE is reported against k = {k:.2f} (two-sided Bonferroni over {n_naive}, "
            f"{FALSE_ALARM:g}) where the log-normal scale <= {NAIVE_MC_MAX_SCALE:g}, but does not decide: "
            "its skewed per-draw terms make the 4σ normal tail unreliable",
            "false_alarm": 0.0,
        },
        settings={
            "tried": len(rows),
            "summary": f"{len(plan)} (dataset, t) x 3 h x δ in {deltas}, {draws} draws",
            "datasets_d_K_N": sorted({(r["d"], r["K"], r["N"]) for r in rows}),
            "t": sorted({r["t"] for r in rows}),
            "draws": draws,
        },
        counterexample=min(bad, key=lambda r: (r["d"], r["N"], r["t"])) if bad else None,
        details={
            "rows": rows,
            "negative_control": controls,
            "power": power,
            "notes": [
                f"Negative control (x̂_* in place of x̂_mem, h = x̂_mem − x̂_*): rejected in "
                f"{len(rejected)}/{len(controls)} settings (|z| > {k:.2f}); largest |z| = "
                f"{max(abs(c['z']) for c in controls):.3g}.",
                f"Naive (i, Z) Monte Carlo decided on {len(decided)}/{len(rows)} settings (elsewhere the "
                "per-draw terms are log-normal-tailed and only reported).",
            ],
        },
        summary=f"pointwise err/tol {fmt(worst_err)}; naive MC max |z| "
        f"{fmt(abs(worst_naive['naive_z']) if worst_naive else None)} (k={k:.2f}); control rejected",
        sides={
            "statement": "memlab.numerics.memorizing_denoiser (eq. 7's x̂_mem) as the minimiser of the training loss",
            "measurement": "the loss increase under x̂_mem + δh with the training index integrated exactly (the "
            "posterior P(i | X_t) from Gaussian log-densities written here), and a naive (i, Z) "
            "Monte Carlo of the first-order term",
        },
        rescore=_shift_rescore(
            allowed,
            statement_scale,
            "every point's loss increase re-evaluated for x̂_mem × (1 ± r) (exact algebra: the "
            "increase gains 2δr<x̂_mem, h>)",
        ),
    )


def _limit_rule(errors: np.ndarray, ratios: np.ndarray, floor: float) -> tuple[float, bool, bool]:
    """(order, converged, order in [0.9, 1.1]) from the max errors at the σ² ratios (eq-7-limit's rule)."""
    usable = errors > floor
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.diff(np.log(errors)) / np.diff(np.log(ratios))
    valid = usable[:-1] & usable[1:]
    tail = slopes[valid][-3:] if valid.any() else np.array([])
    order = float(np.median(tail)) if tail.size else math.nan
    return order, bool(errors[-1] <= floor * 10), bool(math.isnan(order) or 0.9 <= order <= 1.1)


class _ErrorCurves:
    """max_points ‖approx_j − (1 + x) x̂_mem‖ for every σ² ratio j, at any x, from per-point projections.

    With u = approx_j − x̂_mem and v = x̂_mem: ‖u − x v‖² = ‖u − x₀v‖² + (x − x₀)²‖v‖², x₀ = u·v/‖v‖² (exact);
    the residual is formed as a vector, so nothing large cancels.
    """

    def __init__(self, diffs: list[np.ndarray], mem: np.ndarray):
        self.vv = np.sum(mem * mem, axis=1)  # (B,)
        safe = np.where(self.vv > 0, self.vv, 1.0)
        self.x0 = np.stack([np.sum(u * mem, axis=1) / safe for u in diffs])  # (J, B)
        self.res = np.stack([np.sum((u - x0[:, None] * mem) ** 2, axis=1) for u, x0 in zip(diffs, self.x0)])

    def errors(self, x: float) -> np.ndarray:
        return np.sqrt(np.max(self.res + (x - self.x0) ** 2 * self.vv[None, :], axis=1))


@register_claim(
    id="eq-7-limit",
    paper_ref="eq. 7 / eq. 11",
    statement="x̂_mem is the σ² → 0 limit of the eq. 11 denoiser with means = training points: "
    "‖x̂_{(x^i), σ²} − x̂_mem‖ → 0 (linearly in σ²).",
    kind="identity",
)
def check_eq_7_limit(budget: Budget, *, rng: np.random.Generator, statement_scale: float = 1.0) -> CheckResult:
    rows, curves = [], []
    ratios = 10.0 ** -np.arange(1, 15)
    for ds in _datasets(budget, seed=int(rng.integers(2**31))):
        for t in [*_t_values(budget), 0.001, 0.999]:
            alpha, sigma, _ = (float(v) for v in schedule_coefficients(t))
            noise = rng.standard_normal((ds.n, 4, ds.d))
            x = noised(ds.x_train, noise, alpha=alpha, sigma=sigma)
            mem = statement_scale * memorizing_denoiser(x, alpha=alpha, sigma=sigma, train=ds.x_train)
            scale = float(np.abs(ds.x_train).max()) + 1.0
            floor = 1e3 * np.finfo(np.float64).eps * scale
            diffs = []
            for r in ratios:
                variance = r * sigma**2 / alpha**2  # relative to the natural scale of the limit
                approx = isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=ds.x_train, variance=variance)
                diffs.append(approx - mem)
            errors = np.array([float(np.max(np.linalg.norm(u, axis=1))) for u in diffs])
            curves.append((_ErrorCurves(diffs, mem), floor))
            order, converged, order_ok = _limit_rule(errors, ratios, floor)
            rows.append(
                {
                    "d": ds.d,
                    "N": ds.n,
                    "t": t,
                    "errors": errors.tolist(),
                    "variance_over_natural": ratios.tolist(),
                    "order": order,
                    "final_error": float(errors[-1]),
                    "floor": floor,
                    "ok": bool(converged and order_ok),
                }
            )

    def fails(scale: float, _rng) -> bool:
        x = scale / statement_scale - 1.0
        return not all(all(_limit_rule(c.errors(x), ratios, floor)[1:]) for c, floor in curves)

    bad = [r for r in rows if not r["ok"]]
    orders = [r["order"] for r in rows if not math.isnan(r["order"])]
    return CheckResult(
        verdict="fails" if bad else "holds",
        measured=quantity(
            float(np.median(orders)) if orders else None,
            se=None,
            what="observed convergence order p in ‖x̂_σ² − x̂_mem‖ ~ (σ²)^p (median over settings)",
            range=[min(orders), max(orders)] if orders else None,
            largest_final_error=max(r["final_error"] for r in rows),
        ),
        expected=quantity(1.0, what="error → 0 (below 1e4·ε_mach·scale at σ² = 1e-14 σ_t²/α_t²), order 1"),
        tolerance={
            "value": 0.1,
            "why": "local log-log slopes on the last three decades above the rounding floor "
            "(1e3·ε_mach·scale) must lie in [0.9, 1.1]; the first-order Taylor term in σ² is generically non-zero",
        },
        settings={
            "tried": len(rows),
            "summary": f"{len(rows)} (dataset, t), σ² = 10^-1..10^-14 · σ_t²/α_t²",
            "t": sorted({r["t"] for r in rows}),
        },
        counterexample=min(bad, key=lambda r: (r["d"], r["t"])) if bad else None,
        details={"rows": rows, "notes": ["σ² is scaled by σ_t²/α_t², the scale at which eq. 11's logits change."]},
        summary=f"order {fmt(float(np.median(orders)) if orders else None, 3)} (range "
        f"{fmt(min(orders), 3)}..{fmt(max(orders), 3)}); error → {fmt(max(r['final_error'] for r in rows))}",
        sides={
            "statement": "memlab.numerics.memorizing_denoiser (eq. 7's x̂_mem)",
            "measurement": "memlab.numerics.isotropic_gmm_denoiser (eq. 11) with the training points as means and "
            "σ² = 10^-1..10^-14 σ_t²/α_t²",
        },
        rescore=Rescore(
            fails=fails,
            perturbations=_BOTH_WAYS,
            method="every error curve re-evaluated against x̂_mem × (1 ± r), the same rule (order in "
            "[0.9, 1.1], final error <= 10 × the rounding floor)",
        ),
    )


# -------------------------------------------------------------------------------------------- eq. 13


def _gauss_expectation_nodes(panels: int, order: int = 16, half_width: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre nodes/weights for E[f(Z)], Z ~ N(0, 1), on [−12, 12] (tails < 1e-32)."""
    x, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(-half_width, half_width, panels + 1)
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    nodes = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    weights = (half[:, None] * w[None, :]).ravel() * np.exp(-0.5 * nodes**2) / math.sqrt(2 * math.pi)
    return nodes, weights


def _quadrature_orthogonality(ds, t: float, candidates: dict[str, Denoiser]) -> list[dict]:
    """d = 1: the terms of eq. 13 as deterministic integrals over z (composite Gauss–Legendre, all points at once).

    The error estimate is the change between 1000 and 2000 panels (the integrands are smooth).
    """
    alpha, sigma, _ = (float(v) for v in schedule_coefficients(t))
    out = []
    results: dict[str, list] = {name: [] for name in candidates}
    for panels in (1000, 2000):
        z, w = _gauss_expectation_nodes(panels)
        x = (alpha * ds.x_train[:, 0][:, None] + sigma * z[None, :]).reshape(-1, 1)  # (N·nodes, 1)
        xi = np.repeat(ds.x_train[:, 0], z.size)
        xm = memorizing_denoiser(x, alpha=alpha, sigma=sigma, train=ds.x_train)[:, 0]
        for name, den in candidates.items():
            xh = den(x)[:, 0]
            resid = ((xh - xi) ** 2 - (xm - xi) ** 2 - (xh - xm) ** 2).reshape(ds.n, -1) @ w
            excess = ((xh - xm) ** 2).reshape(ds.n, -1) @ w
            results[name].append((float(resid.mean()), float(excess.mean())))
    for name, ((r1, e1), (r2, e2)) in results.items():
        out.append(
            {"candidate": name, "t": t, "residual": r2, "quad_error": abs(r2 - r1) + abs(e2 - e1) * 1e-12, "excess": e2}
        )
    return out


@register_claim(
    id="eq-13",
    paper_ref="eq. 13",
    statement="Orthogonality: L_{N,t}(x̂) = (1/N) Σ_i E‖x̂(t, X_t^i) − x̂_mem(t, X_t^i)‖² + L_{N,t}(x̂_mem) for every x̂.",
    kind="identity",
)
def check_eq_13(budget: Budget, *, rng: np.random.Generator, statement_scale: float = 1.0) -> CheckResult:
    draws = budget.pick(100, 300)
    datasets = _datasets(budget, seed=int(rng.integers(2**31)))
    ts = [*_t_values(budget), 0.95]
    plan = [(ds, t) for ds in datasets for t in ts]
    n_naive = sum(
        6 for ds, t in plan if lognormal_scale(ds.x_train, float(schedule_coefficients(t)[2])) <= NAIVE_MC_MAX_SCALE
    )
    k = k_sigma(max(n_naive, 1), two_sided=True)
    rows = []
    allowed = AllowedShifts()
    for ds, t in plan:
        alpha, sigma, psi = (float(v) for v in schedule_coefficients(t))
        noise = rng.standard_normal((ds.n, draws, ds.d))
        x = noised(ds.x_train, noise, alpha=alpha, sigma=sigma)
        mem = memorizing_denoiser(x, alpha=alpha, sigma=sigma, train=ds.x_train)
        post = training_posterior(x, ds.x_train, alpha=alpha, sigma=sigma)
        exact_mem = conditional_loss(mem, ds.x_train, post)
        naive_mem = per_sample_sq_error(mem, ds.x_train, draws)
        log_scale = lognormal_scale(ds.x_train, psi)
        for name, den in _candidate_denoisers(ds, alpha, sigma, rng).items():
            values = den(x)
            excess = np.sum((values - mem) ** 2, axis=1)  # eq. 13's first term, per point
            stated = statement_scale * excess  # the statement: L(x̂) − L(x̂_mem) = E‖x̂ − x̂_mem‖²
            # Pointwise (training index integrated exactly): L_X(x̂) − L_X(x̂_mem) − ‖x̂ − x̂_mem‖² = 0.
            resid_exact = conditional_loss(values, ds.x_train, post) - exact_mem - stated
            scale = excess + np.sqrt(excess) * float(np.abs(ds.x_train).max()) * math.sqrt(ds.d) + 1e-300
            pointwise = float(np.max(np.abs(resid_exact) / (1e-8 * scale + 1e-12)))
            allowed.add_linear(resid_exact, -stated, 1e-8 * scale + 1e-12)
            # Naive (i, Z) Monte Carlo, decided only where trustworthy.
            resid_naive = per_sample_sq_error(values, ds.x_train, draws) - naive_mem - stated.reshape(ds.n, draws)
            r_mean, r_se = mc_mean_se(resid_naive)
            ex_mean, ex_se = mc_mean_se(excess.reshape(ds.n, draws))
            decided = log_scale <= NAIVE_MC_MAX_SCALE
            rows.append(
                {
                    "d": ds.d,
                    "N": ds.n,
                    "t": t,
                    "candidate": name,
                    "excess": ex_mean,
                    "excess_se": ex_se,
                    "pointwise_error_over_tolerance": pointwise,
                    "naive_residual": r_mean,
                    "naive_se": r_se,
                    "naive_z": r_mean / r_se if r_se > 0 else 0.0,
                    "naive_decided": bool(decided),
                    "lognormal_scale": log_scale,
                    "naive_within_k": bool((not decided) or abs(r_mean) <= k * r_se),  # reported only
                    "ok": bool(pointwise <= 1.0),
                }
            )
    # Exact (quadrature) version in d = 1.
    ds1 = make_gmm_dataset(d=1, k=2, n=4, n_test=0, seed=int(rng.integers(2**31)))
    quad_rows = []
    for t in budget.pick((0.12076, 0.36028, 0.6, 0.95), (0.04092, 0.12076, 0.36028, 0.6, 0.8, 0.95)):
        alpha, sigma, _ = (float(v) for v in schedule_coefficients(t))
        quad_rows += _quadrature_orthogonality(ds1, t, _candidate_denoisers(ds1, alpha, sigma, rng))
    for q in quad_rows:
        q["residual"] -= (statement_scale - 1.0) * q["excess"]  # the statement's first term times statement_scale
        q_tol = 100 * q["quad_error"] + 1e-9 * (1.0 + q["excess"])
        q["ok"] = bool(abs(q["residual"]) <= q_tol)
        allowed.add_linear(q["residual"], -statement_scale * q["excess"], q_tol)
    bad = [r for r in rows if not r["ok"]] + [q for q in quad_rows if not q["ok"]]
    worst = max(rows, key=lambda r: r["pointwise_error_over_tolerance"])
    decided_rows = [r for r in rows if r["naive_decided"]]
    worst_naive = max(decided_rows, key=lambda r: abs(r["naive_z"])) if decided_rows else None
    worst_quad = max(quad_rows, key=lambda q: abs(q["residual"]))
    return CheckResult(
        verdict="fails" if bad else "holds",
        measured=quantity(
            worst["pointwise_error_over_tolerance"],
            se=0.0,
            what="max over points of |L_X(x̂) − L_X(x̂_mem) − ‖x̂ − x̂_mem‖²| / tolerance, training index "
            "integrated exactly (must be <= 1)",
            naive_monte_carlo=(
                {"residual": worst_naive["naive_residual"], "se": worst_naive["naive_se"], "z": worst_naive["naive_z"]}
                if worst_naive
                else None
            ),
            quadrature_max_abs_residual=worst_quad["residual"],
            at={k_: worst[k_] for k_ in ("d", "N", "t", "candidate")},
        ),
        expected=quantity(0.0, what="0 for every x̂ (in expectation over (i, Z); pointwise once i is integrated)"),
        tolerance={
            "value": 1e-8,
            "why": "pointwise, relative to ‖x̂ − x̂_mem‖² + ‖x̂ − x̂_mem‖·scale (float64 "
            "rounding); d = 1 quadrature: |residual| <= 100 × its error estimate + 1e-9: exact, no false "
            f"alarm. The naive (i, Z) Monte Carlo |residual| / SE is reported against k = {k:.2f} (two-sided "
            f"Bonferroni over {n_naive}, {FALSE_ALARM:g}) where the log-normal scale <= "
            f"{NAIVE_MC_MAX_SCALE:g}, but does not decide (skewed per-draw terms: unreliable 4σ tails)",
            "false_alarm": 0.0,
        },
        settings={
            "tried": len(rows) + len(quad_rows),
            "summary": f"{len(plan)} (dataset, t) x 6 denoisers, {draws} draws; d=1 quadrature x {len(quad_rows)}",
            "candidates": sorted({r["candidate"] for r in rows}),
            "t": ts,
        },
        counterexample=bad[0] if bad else None,
        details={
            "rows": rows,
            "quadrature": quad_rows,
            "notes": [
                "The residual is 2E<x̂ − x̂_mem, x̂_mem − x^i>: zero because x̂_mem is the posterior mean "
                "under the empirical distribution (same fact as eq. 7).",
                f"Naive Monte Carlo decided on {len(decided_rows)}/{len(rows)} settings.",
            ],
        },
        summary=f"pointwise err/tol {fmt(worst['pointwise_error_over_tolerance'])}; naive MC max |z| "
        f"{fmt(abs(worst_naive['naive_z']) if worst_naive else None)} (k={k:.2f}); d=1 quadrature |resid| <= "
        f"{fmt(abs(worst_quad['residual']))}",
        sides={
            "statement": "eq. 13: L(x̂) − L(x̂_mem) = E‖x̂ − x̂_mem‖² with x̂_mem = memlab.numerics.memorizing_denoiser "
            "(the excess the Monte Carlo engine estimates)",
            "measurement": "the losses themselves with the training index integrated exactly (posterior P(i | X_t) "
            "written here), a naive (i, Z) Monte Carlo of the residual, and Gauss–Legendre "
            "quadrature in d = 1",
        },
        rescore=_shift_rescore(
            allowed,
            statement_scale,
            "every point, the naive Monte Carlo and the quadrature re-evaluated with the first term × (1 ± r)",
        ),
    )


# ------------------------------------------------------------------------------------------- App. B


@register_claim(
    id="app-B",
    paper_ref="App. B",
    statement="The loss of any M-component GMM denoiser (shared covariance) is the limit of the losses of the "
    "(M+1)-component denoisers with means (μ^1, …, μ^M, m μ^M), m → ∞.",
    kind="identity",
)
def check_app_b(budget: Budget, *, rng: np.random.Generator, statement_scale: float = 1.0) -> CheckResult:
    draws = budget.pick(100, 150)
    multipliers = 2.0 ** np.arange(0, 13, 2)
    rows = []
    allowed = AllowedShifts()
    for ds in _datasets(budget, seed=int(rng.integers(2**31))):
        for t in _t_values(budget):
            alpha, sigma, _ = (float(v) for v in schedule_coefficients(t))
            noise = rng.standard_normal((ds.n, draws, ds.d))
            x = noised(ds.x_train, noise, alpha=alpha, sigma=sigma)
            for model in ("isotropic", "full") if ds.d <= 40 else ("isotropic",):
                m = int(rng.integers(1, 5))
                means = ds.x_train[rng.choice(ds.n, size=m, replace=True)] + 0.5 * rng.standard_normal((m, ds.d))
                if model == "isotropic":
                    variance = float(10.0 ** rng.uniform(-2, 0.5))
                    den = lambda x_, mu, alpha=alpha, sigma=sigma, variance=variance: isotropic_gmm_denoiser(
                        x_, alpha=alpha, sigma=sigma, means=mu, variance=variance
                    )
                else:
                    q, _ = np.linalg.qr(rng.standard_normal((ds.d, ds.d)))
                    cov = (q * 10.0 ** rng.uniform(-2, 0.5, size=ds.d)) @ q.T
                    den = lambda x_, mu, alpha=alpha, sigma=sigma, cov=cov: gmm_denoiser(
                        x_,
                        alpha=alpha,
                        sigma=sigma,
                        means=mu,
                        covariances=np.broadcast_to(cov, (mu.shape[0], *cov.shape)),
                    )
                base_values = den(x, means)
                base_loss = per_sample_sq_error(base_values, ds.x_train, draws)
                loss_scale = float(base_loss.mean())
                stated = statement_scale * base_loss  # the statement: the M-component loss is the limit
                seq = []
                for mult in multipliers:
                    ext = np.vstack([means, mult * means[-1:]])
                    diff = per_sample_sq_error(den(x, ext), ds.x_train, draws) - stated
                    mean, se = mc_mean_se(diff)
                    seq.append({"m": float(mult), "loss_difference": mean, "se": se})
                final = abs(seq[-1]["loss_difference"])
                converged = final <= 1e-10 * loss_scale
                allowed.add_linear(seq[-1]["loss_difference"], -statement_scale * loss_scale, 1e-10 * loss_scale)
                # Alternative readings: duplicating μ^M (weights 2/(M+1)) does not reproduce the loss.
                dup = per_sample_sq_error(den(x, np.vstack([means, means[-1:]])), ds.x_train, draws) - base_loss
                dup_mean, dup_se = mc_mean_se(dup)
                rows.append(
                    {
                        "d": ds.d,
                        "N": ds.n,
                        "t": t,
                        "model": model,
                        "M": m,
                        "sequence": seq,
                        "final_abs_difference": final,
                        "loss_scale": loss_scale,
                        "converged": bool(converged),
                        "duplicate_difference": dup_mean,
                        "duplicate_se": dup_se,
                    }
                )
    bad = [r for r in rows if not r["converged"]]
    worst = max(rows, key=lambda r: r["final_abs_difference"] / r["loss_scale"])
    dup_nonzero = [r for r in rows if abs(r["duplicate_difference"]) > 1e-10 * r["loss_scale"]]
    # The paper's construction degenerates when μ^M = 0 (m μ^M = μ^M duplicates a component).
    ds = _datasets(budget, seed=int(rng.integers(2**31)))[1]
    alpha, sigma, _ = (float(v) for v in schedule_coefficients(0.36028))
    means0 = np.vstack([ds.means[:2], np.zeros((1, ds.d))])
    x = noised(ds.x_train, rng.standard_normal((ds.n, draws, ds.d)), alpha=alpha, sigma=sigma)
    den0 = lambda mu: isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=mu, variance=0.5)
    base0 = per_sample_sq_error(den0(means0), ds.x_train, draws)
    zero_mean, zero_se = mc_mean_se(
        per_sample_sq_error(den0(np.vstack([means0, 1e3 * means0[-1:]])), ds.x_train, draws) - base0
    )
    far = np.vstack([means0, 1e3 * np.ones((1, ds.d))])
    far_mean, _ = mc_mean_se(per_sample_sq_error(den0(far), ds.x_train, draws) - base0)
    return CheckResult(
        verdict="fails" if bad else "holds",
        measured=quantity(
            worst["final_abs_difference"] / worst["loss_scale"],
            se=0.0,
            what="|L_{M+1}(m = 4096) − L_M| / L_M, worst setting (common random numbers)",
            at={k_: worst[k_] for k_ in ("d", "N", "t", "model", "M")},
        ),
        expected=quantity(0.0, what="→ 0 as m → ∞ (reaches float64 rounding)"),
        tolerance={
            "value": 1e-10,
            "why": "relative to the loss: the extra component's softmax weight is "
            "exp(−Θ(m²)) and underflows, so the difference must reach rounding level",
        },
        settings={
            "tried": len(rows),
            "summary": f"{len(rows)} (dataset, t, iso/full Σ), m = 1..4096",
            "multipliers": multipliers.tolist(),
            "draws": draws,
        },
        counterexample=min(bad, key=lambda r: (r["d"], r["t"])) if bad else None,
        details={
            "rows": rows,
            "notes": [
                f"Duplicating μ^M instead changes the loss in {len(dup_nonzero)}/{len(rows)} settings "
                "(the duplicate doubles that component's weight), so the far-away construction is the one that works.",
                f"If μ^M = 0 the paper's (μ^1..μ^M, m μ^M) is a duplicate for every m: loss difference "
                f"{zero_mean:.3g} ± {zero_se:.2g} (does not vanish); sending the extra mean far along any other "
                f"direction works (difference {far_mean:.3g}). The claim holds; the sketch's construction needs "
                "μ^M != 0.",
            ],
        },
        summary=f"|ΔL|/L → {fmt(worst['final_abs_difference'] / worst['loss_scale'])} at m=4096 (worst of {len(rows)})",
        sides={
            "statement": "the loss of the M-component denoiser (memlab.numerics.isotropic_gmm_denoiser / "
            "gmm_denoiser with M means) as the limit",
            "measurement": "the same loss for M + 1 components with the extra mean m μ^M, m = 1..4096, on common "
            "random numbers",
        },
        rescore=_shift_rescore(
            allowed, statement_scale, "the m = 4096 difference re-compared with the M-component loss × (1 ± r)"
        ),
    )
