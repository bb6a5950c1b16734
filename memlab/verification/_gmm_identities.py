"""Lemma 2.1 and eq. 11: the GMM denoisers equal Tweedie's formula applied to the mixture's score.

The reference is written here independently of ``memlab.numerics``: the log-density of the noised
mixture p_t = Σ_i π_i N(α_t μ^i, α_t² Σ^i + σ_t² I) in JAX (Cholesky factors, log-sum-exp over
components), its gradient by ``jax.grad``, and x̂ = (x + σ_t² ∇log p_t(x)) / α_t (Tweedie), in float64.

Tolerance (derived, not tuned): both sides solve S_i = α²Σ^i + σ²I and exponentiate logits of size
up to L = max_i ½ rᵀS_i⁻¹r, so each carries an absolute error of order
ε_mach · (κ_max + L_max) · (‖x‖ + α max‖μ‖) / α, κ_max the largest condition number of the S_i;
agreement is required within 10³ times that (10³ covers the d- and M-fold accumulations).
"""

from __future__ import annotations

import math

import numpy as np

from memlab._jaxcfg import float64_enabled
from memlab.numerics import gmm_denoiser, isotropic_gmm_denoiser, schedule_coefficients, timestep_grid
from memlab.verification._claim import Budget, CheckResult, Perturbation, Rescore, quantity
from memlab.verification._common import AllowedShifts, fmt
from memlab.verification._registry import register_claim

__all__ = ["check_eq_11", "check_lemma_2_1", "isotropic_tweedie_denoiser", "tweedie_denoiser"]

EPS64 = float(np.finfo(np.float64).eps)
SAFETY = 1e3

_COMPILED: dict = {}


def _full_covariance_score_fn():
    """jit(vmap(grad(log p_t))) for full covariances; compiled once per (d, M) shape by JAX."""
    if "full" in _COMPILED:
        return _COMPILED["full"]
    import jax
    import jax.numpy as jnp
    from jax.scipy.linalg import solve_triangular
    from jax.scipy.special import logsumexp

    def log_density(x, alpha, sigma, means, covariances, log_weights):
        d = x.shape[0]

        def component(mu, cov, log_w):
            s = alpha**2 * cov + sigma**2 * jnp.eye(d, dtype=x.dtype)
            chol = jnp.linalg.cholesky(s)
            z = solve_triangular(chol, x - alpha * mu, lower=True)
            log_det = 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
            return log_w - 0.5 * (d * jnp.log(2.0 * jnp.pi) + log_det + z @ z)

        return logsumexp(jax.vmap(component)(means, covariances, log_weights))

    score = jax.jit(jax.vmap(jax.grad(log_density), in_axes=(0, None, None, None, None, None)))
    _COMPILED["full"] = score
    return score


def _isotropic_score_fn():
    if "iso" in _COMPILED:
        return _COMPILED["iso"]
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    def log_density(x, alpha, sigma, means, variance):
        total = alpha**2 * variance + sigma**2
        sq = jnp.sum((x[None, :] - alpha * means) ** 2, axis=-1)
        d = x.shape[0]
        return logsumexp(-sq / (2 * total) - 0.5 * d * jnp.log(2 * jnp.pi * total)) - jnp.log(means.shape[0])

    score = jax.jit(jax.vmap(jax.grad(log_density), in_axes=(0, None, None, None, None)))
    _COMPILED["iso"] = score
    return score


def _require_float64() -> None:
    if not float64_enabled():
        raise RuntimeError("these identities are checked in float64: call memlab._jaxcfg.enable_float64() first")


def tweedie_denoiser(x, *, alpha: float, sigma: float, means, covariances, weights=None) -> np.ndarray:
    """(x + σ² ∇log p_t(x)) / α with ∇log p_t from jax.grad of the mixture log-density: (B, d) -> (B, d)."""
    import jax.numpy as jnp

    _require_float64()
    means = np.asarray(means, dtype=np.float64)
    m = means.shape[0]
    log_w = np.full(m, -math.log(m)) if weights is None else np.log(np.asarray(weights, dtype=np.float64))
    score = _full_covariance_score_fn()(
        jnp.asarray(x, dtype=jnp.float64),
        alpha,
        sigma,
        jnp.asarray(means),
        jnp.asarray(covariances, dtype=jnp.float64),
        jnp.asarray(log_w),
    )
    return (np.asarray(x) + sigma**2 * np.asarray(score)) / alpha


def isotropic_tweedie_denoiser(x, *, alpha: float, sigma: float, means, variance: float) -> np.ndarray:
    """Tweedie with the isotropic shared-variance mixture's log-density (eq. 11's model): (B, d) -> (B, d)."""
    import jax.numpy as jnp

    _require_float64()
    score = _isotropic_score_fn()(
        jnp.asarray(x, dtype=jnp.float64), alpha, sigma, jnp.asarray(means, dtype=jnp.float64), variance
    )
    return (np.asarray(x) + sigma**2 * np.asarray(score)) / alpha


def _random_covariances(rng: np.random.Generator, family: str, m: int, d: int) -> np.ndarray:
    if family == "wishart":
        out = []
        for _ in range(m):
            q, _ = np.linalg.qr(rng.standard_normal((d, d)))
            eig = 10.0 ** rng.uniform(-2, 2, size=d)
            out.append((q * eig) @ q.T)
        return np.stack(out)
    if family == "low_rank":
        a = rng.standard_normal((m, d, 1)) * 2.0
        return a @ np.swapaxes(a, 1, 2)
    if family == "isotropic":
        return 10.0 ** rng.uniform(-3, 1, size=(m, 1, 1)) * np.eye(d)[None]
    if family == "zero":
        return np.zeros((m, d, d))
    raise ValueError(family)


def _test_points(rng: np.random.Generator, means, covariances, alpha, sigma, count: int) -> np.ndarray:
    m, d = means.shape
    comp = rng.integers(0, m, size=count)
    pts = []
    for c in comp:
        x0 = rng.multivariate_normal(means[c], covariances[c], method="eigh")
        pts.append(alpha * x0 + sigma * rng.standard_normal(d))
    far = 10.0 * (np.abs(means).max() + 1.0) * rng.standard_normal((2, d))
    return np.vstack([np.array(pts), far])


def _error_scale(x, *, alpha, sigma, means, covariances) -> np.ndarray:
    """ε_mach (κ_max + L_max) (‖x‖ + α max‖μ‖) / α per point (see the module docstring)."""
    d = means.shape[1]
    kappa, logit = 1.0, np.zeros(x.shape[0])
    for mu, cov in zip(means, covariances):
        s = alpha**2 * cov + sigma**2 * np.eye(d)
        eig = np.linalg.eigvalsh(s)
        kappa = max(kappa, float(eig[-1] / eig[0]))
        r = x - alpha * mu
        logit = np.maximum(logit, 0.5 * np.sum(r * np.linalg.solve(s, r.T).T, axis=1))
    mu_max = float(np.linalg.norm(means, axis=1).max())
    return EPS64 * (kappa + logit) * (np.linalg.norm(x, axis=1) + alpha * mu_max) / alpha


_SHAPES_QUICK = ((1, 1), (2, 3), (3, 5), (8, 2), (16, 6))
_SHAPES_FULL = ((1, 1), (1, 4), (2, 1), (2, 3), (3, 5), (5, 2), (8, 2), (8, 10), (16, 6), (32, 4))


def _t_values(budget: Budget) -> list[float]:
    grid = timestep_grid()
    return [float(grid[i]) for i in budget.pick((25, 16, 0), (*tuple(range(0, 26, 2)), 25))]


def _identity_row(
    statement: np.ndarray, references: list[np.ndarray], tolerance: np.ndarray, allowed: AllowedShifts, **where
) -> dict:
    """One setting's row: per point max over references of ‖statement − reference‖ against its tolerance.

    ``allowed`` records, for the power re-run, which multiples (1 + x) of the statement would still pass.
    """
    errors = np.max([np.linalg.norm(statement - ref, axis=1) for ref in references], axis=0)
    for ref in references:
        allowed.add_norm(statement - ref, -statement, tolerance)  # ‖(1 + x)·statement − ref‖ <= tolerance
    return {**where, "max_abs_error": float(errors.max()), "error_over_tolerance": float(np.max(errors / tolerance))}


def _identity_result(
    rows: list[dict],
    allowed: AllowedShifts,
    *,
    what: str,
    expected_what: str,
    notes: list[str],
    sides: dict,
    statement_scale: float,
    summary_extra: str = "",
) -> CheckResult:
    worst = max(rows, key=lambda r: r["error_over_tolerance"])
    violations = [r for r in rows if r["error_over_tolerance"] > 1.0]
    counterexample = min(violations, key=lambda r: (r["d"], r["M"], -r["t"])) if violations else None
    return CheckResult(
        verdict="fails" if violations else "holds",
        measured=quantity(
            worst["max_abs_error"],
            se=0.0,
            what=what,
            error_over_tolerance=worst["error_over_tolerance"],
            at={k: worst[k] for k in ("d", "M", "t", "family")},
        ),
        expected=quantity(0.0, what=expected_what),
        tolerance={
            "value": SAFETY,
            "why": "per point |difference| <= 1e3 · ε_mach (κ_max + L_max)(‖x‖ + α max‖μ‖)/α: "
            "float64 rounding of the linear solves (condition number κ) and of logits of size L",
        },
        settings={
            "tried": len(rows),
            "summary": f"{len(rows)} (d, M, t, family){summary_extra}",
            "shapes_d_M": sorted({(r["d"], r["M"]) for r in rows}),
            "t": sorted({r["t"] for r in rows}),
            "families": sorted({r["family"] for r in rows}),
        },
        counterexample=counterexample,
        details={"worst": worst, "violations": len(violations), "notes": notes},
        summary=f"max |Δ| = {fmt(worst['max_abs_error'])} ({fmt(worst['error_over_tolerance'])} of tolerance)",
        sides=sides,
        rescore=Rescore(
            fails=lambda scale, _rng: not allowed.passes(scale / statement_scale - 1.0),
            perturbations=(Perturbation("denoiser × (1 + r)", +1), Perturbation("denoiser × (1 − r)", -1)),
            method="every point re-compared with the statement's output multiplied by (1 ± r)",
        ),
    )


@register_claim(
    id="lemma-2.1",
    paper_ref="Lemma 2.1",
    statement="For π_θ = Σ_i π_i N(μ^i, Σ^i): x̂_θ(t,x) = (1/α_t)(x − σ_t² Σ_i (α_t²Σ^i + σ_t²I)^{-1}(x − α_tμ^i) "
    "softmax(w)_i) with w_i = log π_i − ½ log det(α_t²Σ^i + σ_t²I) − ½ (x − α_tμ^i)ᵀ(α_t²Σ^i + σ_t²I)^{-1}"
    "(x − α_tμ^i) — the posterior mean, i.e. Tweedie (x + σ_t² ∇log p_t(x))/α_t.",
    kind="identity",
)
def check_lemma_2_1(budget: Budget, *, rng: np.random.Generator, statement_scale: float = 1.0) -> CheckResult:
    rows, allowed = [], AllowedShifts()
    for d, m in budget.pick(_SHAPES_QUICK, _SHAPES_FULL):
        for t in _t_values(budget):
            alpha, sigma, _ = (float(v) for v in schedule_coefficients(t))
            for family in ("wishart", "low_rank", "isotropic", "zero"):
                for weighted in (False, True):
                    means = 3.0 * rng.standard_normal((m, d))
                    covariances = _random_covariances(rng, family, m, d)
                    weights = rng.dirichlet(np.ones(m)) if weighted else None
                    x = _test_points(rng, means, covariances + 1e-12 * np.eye(d), alpha, sigma, budget.pick(6, 16))
                    lemma = gmm_denoiser(
                        x, alpha=alpha, sigma=sigma, means=means, covariances=covariances, weights=weights
                    )
                    reference = tweedie_denoiser(
                        x, alpha=alpha, sigma=sigma, means=means, covariances=covariances, weights=weights
                    )
                    scale = _error_scale(x, alpha=alpha, sigma=sigma, means=means, covariances=covariances)
                    rows.append(
                        _identity_row(
                            statement_scale * lemma,
                            [reference],
                            SAFETY * scale,
                            allowed,
                            d=d,
                            M=m,
                            t=t,
                            family=family + ("+weights" if weighted else ""),
                        )
                    )
    return _identity_result(
        rows,
        allowed,
        statement_scale=statement_scale,
        what="max ‖x̂_Lemma2.1 − Tweedie(jax.grad log p_t)‖ over points and settings",
        expected_what="0 (identity), up to float64 rounding",
        sides={
            "statement": "memlab.numerics.gmm_denoiser (Lemma 2.1's closed form)",
            "measurement": "Tweedie (x + σ_t² ∇log p_t(x))/α_t with ∇log p_t = jax.grad of the "
            "mixture log-density written here (Cholesky, log-sum-exp)",
        },
        notes=[
            "Covariances: random SPD with eigenvalues 1e-2..1e2, rank one, isotropic, zero; "
            "uniform and Dirichlet weights; points from p_t plus two far points."
        ],
    )


@register_claim(
    id="eq-11",
    paper_ref="eq. 11-12 (Lemma 2.1 case)",
    statement="For Σ^i = σ²I and uniform weights, Lemma 2.1 reduces to eq. 11: x̂_θ = [α_tσ²/(α_t²σ²+σ_t²)] x + "
    "[σ_t²/(α_t²σ²+σ_t²)] Σ_i μ^i softmax(w)_i, w_i = −‖α_tμ^i − x‖²/(2(α_t²σ²+σ_t²)).",
    kind="identity",
)
def check_eq_11(budget: Budget, *, rng: np.random.Generator, statement_scale: float = 1.0) -> CheckResult:
    rows, allowed = [], AllowedShifts()
    for d, m in budget.pick(_SHAPES_QUICK, _SHAPES_FULL):
        for t in _t_values(budget):
            alpha, sigma, _ = (float(v) for v in schedule_coefficients(t))
            for variance in (0.0, 1e-6, 0.3, 1.0, 5.0):
                means = 3.0 * rng.standard_normal((m, d))
                covariances = variance * np.broadcast_to(np.eye(d), (m, d, d))
                x = _test_points(rng, means, covariances + 1e-12 * np.eye(d), alpha, sigma, budget.pick(6, 16))
                eq11 = isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=means, variance=variance)
                lemma = gmm_denoiser(x, alpha=alpha, sigma=sigma, means=means, covariances=covariances)
                reference = isotropic_tweedie_denoiser(x, alpha=alpha, sigma=sigma, means=means, variance=variance)
                scale = _error_scale(x, alpha=alpha, sigma=sigma, means=means, covariances=covariances)
                rows.append(
                    _identity_row(
                        statement_scale * eq11,
                        [lemma, reference],
                        SAFETY * scale,
                        allowed,
                        d=d,
                        M=m,
                        t=t,
                        family=f"variance={variance:g}",
                    )
                )
    return _identity_result(
        rows,
        allowed,
        statement_scale=statement_scale,
        what="max over points of ‖x̂_eq11 − x̂_Lemma2.1(Σ=σ²I)‖ and ‖x̂_eq11 − Tweedie‖",
        expected_what="0 (identity), up to float64 rounding",
        sides={
            "statement": "memlab.numerics.isotropic_gmm_denoiser (eq. 11)",
            "measurement": "memlab.numerics.gmm_denoiser with Σ = σ²I (Lemma 2.1, itself checked "
            "against Tweedie) and Tweedie with jax.grad of the isotropic mixture's "
            "log-density written here",
        },
        notes=["variance = 0 is the memorizing denoiser (eq. 7 form) as Lemma 2.1 with Σ = 0."],
    )
