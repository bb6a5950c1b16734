"""The loss-weighting regression of App. H.3: predict M_pt from the lambda-integrated loss gaps, fit lambda.

Predictor. For one (N, d, K) tuple with per-time gaps ``gaps[l, j]`` (see :mod:`._loss_gaps`) and
a non-negative weighting ``lambda`` on the grid, normalised to ``E_t[lambda] = 1`` (the overall
scale of lambda does not change the crossover; only its shape does),

    G(M) = E_t[lambda(t) gaps_t(M)] / E_t[lambda]               (the integrated gap, shape (C,))
    G(M) <- G(M) * span_target / (G(M_first) - G(M_last))        (only for the ``span`` normalisation)
    p(M) = softmax_M( -G(M)^2 / tau )                            (App. H.3, temperature tau)
    M_hat = sum_M M p(M)                                         (the relaxed "nearest M to the crossover")

and the hard version is ``argmin_M G(M)^2`` (eq. 15's nearest M), the limit tau -> 0 of M_hat when
the minimiser is unique. ``crossover`` is the continuous zero of G (linear interpolation at its
first sign change from > 0 to <= 0), which for the approximations is exactly
``M* = N (1 - E_t[lambda/(psi s2 + 1)] / (C E_t[lambda]))``.

Fit (App. H.3, eq. 30). Over training tuples with measured targets ``M_pt``, minimise

    mean_tuples ((M_hat - M_pt) / M_pt)^2  +  beta * mean_tuples H(p)

over ``lambda = (L+1) softmax(theta)`` (non-negative, mean 1, theta unconstrained), where
``H(p) = -sum_M p log p`` is the entropy of the relaxed distribution (the paper's "entropy penalty
beta_sparsity = 1e-2 ... to ensure that the learned distribution over M is sparse"; the paper sums
both terms over tuples, the mean over tuples has the same minimiser). The paper's defaults are
tau = 1/20 and beta = 1e-2; both are options. The objective's gradient is analytic (checked against
finite differences in the tests); L-BFGS-B (SciPy) runs from several starts (x0 = uniform, eps = psi_t,
seeded random ones) and the start with the lowest objective wins. Float64 NumPy/SciPy is enough here:
the paper's problem is 64 tuples x up to 200 candidate M x 26 timesteps (~0.3 M multiply-adds per
objective and gradient), a full multi-start fit takes seconds (``benchmarks/bench_figure3.py``), it
needs no compilation, and the result is deterministic.

Identifiability. With the approximate losses G(M) = C (M* - M) / N (``span`` or ``per_dim``), so
the whole objective depends on lambda only through the one number ``E_t[lambda/(psi s2 + 1)] /
E_t[lambda]``: every lambda with the same value predicts the same M_pt for every tuple, and the
fitted curve is one representative (the one the optimiser reaches from its start). The exact
(Monte Carlo) gaps depend on t, M, d and K in more ways, so more of lambda can be identified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from memlab._errors import InvalidInputError
from memlab.numerics._loss_gaps import LossGaps
from memlab.numerics._schedules import DEFAULT_STEPS, timestep_grid
from memlab.theory import T, numeric_function, weighting

__all__ = [
    "PAPER_BETA",
    "PAPER_TAU",
    "ErrorSummary",
    "GapStack",
    "MPtPrediction",
    "RegressionConfig",
    "WeightingFit",
    "fit_weighting",
    "grid_weighting",
    "normalize_weights",
    "predict_m_pt",
    "regression_objective",
    "relative_errors",
    "split_tuples",
    "stack_gaps",
]

#: App. H.3's temperature and entropy penalty.
PAPER_TAU = 1.0 / 20.0
PAPER_BETA = 1e-2


@dataclass(frozen=True)
class RegressionConfig:
    """Static options of :func:`fit_weighting`.

    tau: softmax temperature (> 0); beta: entropy penalty (>= 0); starts: named starting weightings
    (``x0``: uniform, ``eps``: psi_t, any name of :data:`memlab.theory.WEIGHTING_NAMES`);
    random_starts: extra starts with theta ~ N(0, 1) from ``seed``; maxiter, gtol: L-BFGS-B options.
    """

    tau: float = PAPER_TAU
    beta: float = PAPER_BETA
    starts: tuple[str, ...] = ("x0", "eps")
    random_starts: int = 2
    seed: int = 0
    maxiter: int = 2000
    gtol: float = 1e-10
    schedule: str = "vp"

    def __post_init__(self):
        if not (np.isfinite(self.tau) and self.tau > 0):
            raise InvalidInputError(f"tau must be a positive number, got {self.tau}")
        if not (np.isfinite(self.beta) and self.beta >= 0):
            raise InvalidInputError(f"beta must be a non-negative number, got {self.beta}")
        if self.random_starts < 0 or (not self.starts and self.random_starts == 0):
            raise InvalidInputError("the fit needs at least one start")
        if self.maxiter < 1:
            raise InvalidInputError(f"maxiter must be >= 1, got {self.maxiter}")


def grid_weighting(name: str, *, schedule: str = "vp", steps: int = DEFAULT_STEPS) -> np.ndarray:
    """A built-in weighting (``x0``, ``eps``, ``v``, ``score``, ``elbo``) on the grid, float64 ``(steps+1,)``."""
    t = timestep_grid(steps)
    fn = numeric_function(weighting(name, schedule), (T,))
    return np.broadcast_to(np.asarray(fn(t), dtype=np.float64), t.shape).copy()


def normalize_weights(weights) -> np.ndarray:
    """Non-negative weights, not all zero, rescaled to mean 1 (``E_t[lambda] = 1`` on the grid)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise InvalidInputError("weights must be a 1-D array of finite non-negative numbers, not all zero")
    return w / w.mean()


@dataclass(frozen=True, eq=False)
class GapStack:
    """Several tuples' gaps padded to a common number of candidates.

    gaps: ``(P, T, Cmax)`` (0 in padding); m_values: ``(P, Cmax)`` float64; mask: ``(P, Cmax)``
    True where a candidate exists; n: ``(P,)`` the tuples' N; span_target: ``(P,)`` the drop
    ``G(M_first) - G(M_last)`` the integrated gap is rescaled to (NaN: no rescaling); last: ``(P,)``
    index of each tuple's last candidate.
    """

    gaps: np.ndarray
    m_values: np.ndarray
    mask: np.ndarray
    n: np.ndarray
    span_target: np.ndarray
    last: np.ndarray

    @property
    def count(self) -> int:
        return int(self.gaps.shape[0])

    @property
    def n_times(self) -> int:
        return int(self.gaps.shape[1])


def stack_gaps(problems: Sequence[LossGaps] | GapStack) -> GapStack:
    """Pad a sequence of :class:`LossGaps` (same number of timesteps) into a :class:`GapStack`."""
    if isinstance(problems, GapStack):
        return problems
    problems = list(problems)
    if not problems:
        raise InvalidInputError("no tuples given")
    time_counts = {p.n_times for p in problems}
    if len(time_counts) != 1:
        raise InvalidInputError(f"all tuples need the same timestep grid, got {sorted(time_counts)} timesteps")
    n_times = time_counts.pop()
    width = max(p.m_values.size for p in problems)
    gaps = np.zeros((len(problems), n_times, width))
    m_values = np.zeros((len(problems), width))
    mask = np.zeros((len(problems), width), dtype=bool)
    for i, p in enumerate(problems):
        c = p.m_values.size
        gaps[i, :, :c] = p.gaps
        m_values[i, :c] = p.m_values
        mask[i, :c] = True
    span = np.array([np.nan if p.span_target is None else float(p.span_target) for p in problems])
    last = np.array([p.m_values.size - 1 for p in problems], dtype=np.int64)
    return GapStack(
        gaps=gaps, m_values=m_values, mask=mask, n=np.array([p.n for p in problems]), span_target=span, last=last
    )


def _integrated(stack: GapStack, w_sum1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The integrated gap for weights summing to 1: ``(G (P, Cmax), raw drop (P,), rescaled (P,) bool)``.

    ``G = sum_l w_l gaps[:, l, :]``, then, where ``span_target`` is set, multiplied by
    ``span_target / drop`` with ``drop = G[first] - G[last]`` (the drop of the unscaled G).
    """
    G = np.matmul(w_sum1, stack.gaps)  # (T,) @ (P, T, C) -> (P, C)
    rows = np.arange(stack.count)
    drop = G[:, 0] - G[rows, stack.last]
    rescaled = np.isfinite(stack.span_target)
    if np.any(rescaled & ~(drop > 0)):
        raise InvalidInputError(
            "the integrated gap does not decrease from the first to the last candidate M; the "
            "span normalisation needs G(M_first) > G(M_last) (use normalize='per_dim')"
        )
    factor = np.where(rescaled, stack.span_target / np.where(rescaled, drop, 1.0), 1.0)
    return G * factor[:, None], drop, rescaled


def _log_softmax(G: np.ndarray, mask: np.ndarray, tau: float) -> np.ndarray:
    z = np.where(mask, -(G * G) / tau, -np.inf)
    zmax = z.max(axis=1, keepdims=True)
    shifted = z - zmax
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def _entropy(p: np.ndarray, log_p: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return -np.sum(np.where(mask, p * np.where(mask, log_p, 0.0), 0.0), axis=1)


def _first_crossing(G: np.ndarray, m: np.ndarray, valid: np.ndarray) -> float:
    """Continuous zero of G at its first sign change from > 0 to <= 0 (linear interpolation); NaN if none."""
    G, m = G[valid], m[valid]
    if G[0] <= 0:
        return float(m[0]) if G[0] == 0 or G.size == 1 else float("nan")
    below = np.nonzero(G <= 0)[0]
    if below.size == 0:
        return float("nan")
    j = below[0]
    g0, g1 = G[j - 1], G[j]
    return float(m[j - 1] + (m[j] - m[j - 1]) * g0 / (g0 - g1))


@dataclass(frozen=True, eq=False)
class MPtPrediction:
    """Predictions for P tuples under one weighting (all arrays ``(P,)`` except ``p``).

    relaxed: ``sum_M M p(M)``; hard: ``argmin_M G(M)^2`` (first on ties); crossover: the continuous
    zero of G (NaN where G never changes sign from > 0 to <= 0, i.e. the crossover lies outside the
    candidate range); entropy: H(p); p: ``(P, Cmax)`` the relaxed distributions (0 in padding).
    """

    relaxed: np.ndarray
    hard: np.ndarray
    crossover: np.ndarray
    entropy: np.ndarray
    p: np.ndarray


def predict_m_pt(problems: Sequence[LossGaps] | GapStack, weights, *, tau: float = PAPER_TAU) -> MPtPrediction:
    """App. H.3's predicted phase transition for each tuple under ``weights`` ((T,), any positive scale)."""
    stack = stack_gaps(problems)
    w = normalize_weights(weights)
    if w.size != stack.n_times:
        raise InvalidInputError(f"weights need one value per timestep ({stack.n_times}), got {w.size}")
    if not (np.isfinite(tau) and tau > 0):
        raise InvalidInputError(f"tau must be a positive number, got {tau}")
    G, _, _ = _integrated(stack, w / w.sum())
    log_p = _log_softmax(G, stack.mask, tau)
    p = np.where(stack.mask, np.exp(log_p), 0.0)
    relaxed = np.sum(p * stack.m_values, axis=1)
    sq = np.where(stack.mask, G * G, np.inf)
    hard = stack.m_values[np.arange(stack.count), np.argmin(sq, axis=1)]
    crossover = np.array([_first_crossing(G[i], stack.m_values[i], stack.mask[i]) for i in range(stack.count)])
    return MPtPrediction(relaxed=relaxed, hard=hard, crossover=crossover, entropy=_entropy(p, log_p, stack.mask), p=p)


def _check_targets(targets, count: int) -> np.ndarray:
    y = np.asarray(targets, dtype=np.float64)
    if y.shape != (count,) or not np.all(np.isfinite(y)) or np.any(y <= 0):
        raise InvalidInputError(f"targets must be {count} finite positive numbers (one M_pt per tuple)")
    return y


def regression_objective(
    theta, problems: Sequence[LossGaps] | GapStack, targets, *, tau: float = PAPER_TAU, beta: float = PAPER_BETA
) -> tuple[float, np.ndarray, float, float]:
    """Eq. 30 (mean over tuples) at ``lambda = (L+1) softmax(theta)`` and its gradient in theta.

    Returns ``(objective, gradient (T,), mean squared relative error, mean entropy)``.
    """
    stack = stack_gaps(problems)
    y = _check_targets(targets, stack.count)
    theta = np.asarray(theta, dtype=np.float64)
    w = np.exp(theta - theta.max())
    w /= w.sum()
    G, drop, rescaled = _integrated(stack, w)  # (P, C) after the span rescaling
    log_p = _log_softmax(G, stack.mask, tau)
    p = np.where(stack.mask, np.exp(log_p), 0.0)
    m_hat = np.sum(p * stack.m_values, axis=1)
    rel = (m_hat - y) / y
    entropy = _entropy(p, log_p, stack.mask)
    count = stack.count
    mse = float(np.mean(rel * rel))
    mean_entropy = float(np.mean(entropy))
    objective = mse + beta * mean_entropy
    # d objective / d z (z = -G^2 / tau the logits): through M_hat and through H.
    d_mhat = (2.0 * rel / y / count)[:, None]
    log_p_safe = np.where(stack.mask, log_p, 0.0)
    d_z = d_mhat * p * (stack.m_values - m_hat[:, None]) - (beta / count) * p * (log_p_safe + entropy[:, None])
    d_G = d_z * (-2.0 * G / tau)
    # G = factor * G_raw with factor = span / drop(G_raw) where rescaled: the chain rule through the drop
    rows = np.arange(count)
    factor = np.where(rescaled, stack.span_target / np.where(rescaled, drop, 1.0), 1.0)
    d_drop = np.where(rescaled, -np.sum(d_G * G, axis=1) / np.where(rescaled, drop, 1.0), 0.0)  # (P,)
    d_raw = d_G * factor[:, None]
    d_raw[:, 0] += d_drop
    d_raw[rows, stack.last] -= d_drop
    d_w = np.matmul(stack.gaps, d_raw[:, :, None]).sum(axis=0)[:, 0]  # sum_p gaps[p] @ d_raw[p]
    grad = w * (d_w - np.dot(w, d_w))
    return objective, grad, mse, mean_entropy


@dataclass(frozen=True, eq=False)
class WeightingFit:
    """The fitted weighting and how it was reached.

    weights: ``(T,)`` lambda on the grid, mean 1; theta: the optimiser's parameters; objective, mse,
    mean_entropy: eq. 30's value and parts on the training tuples; start: the winning start's name;
    starts: ``((name, objective), ...)`` for every start; converged, iterations, message: L-BFGS-B's.
    """

    weights: np.ndarray
    theta: np.ndarray
    objective: float
    mse: float
    mean_entropy: float
    start: str
    starts: tuple[tuple[str, float], ...]
    converged: bool
    iterations: int
    message: str
    config: RegressionConfig = field(default_factory=RegressionConfig)


def _start_thetas(config: RegressionConfig, n_times: int) -> list[tuple[str, np.ndarray]]:
    steps = n_times - 1
    starts = []
    for name in config.starts:
        lam = grid_weighting(name, schedule=config.schedule, steps=steps)
        starts.append((name, np.log(np.maximum(lam, 1e-300))))
    rng = np.random.default_rng(config.seed)
    for i in range(config.random_starts):
        starts.append((f"random{i}", rng.standard_normal(n_times)))
    return starts


def fit_weighting(
    problems: Sequence[LossGaps] | GapStack, targets, *, config: RegressionConfig = RegressionConfig()
) -> WeightingFit:
    """Fit lambda to measured ``targets`` (M_pt per tuple, ``(P,)``) by eq. 30; see the module doc."""
    # Lazy: scipy.optimize costs ~0.3 s at import and only the fit needs it.
    from scipy import optimize

    stack = stack_gaps(problems)
    y = _check_targets(targets, stack.count)
    best = None
    tried = []
    for name, theta0 in _start_thetas(config, stack.n_times):
        result = optimize.minimize(
            lambda th: regression_objective(th, stack, y, tau=config.tau, beta=config.beta)[:2],
            theta0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": config.maxiter, "gtol": config.gtol, "ftol": 1e-15},
        )
        objective = float(result.fun)
        tried.append((name, objective))
        if best is None or objective < best[1].fun - 1e-15:
            best = (name, result)
    assert best is not None  # the loop above ran at least one start (RegressionConfig requires one)
    name, result = best
    objective, _, mse, mean_entropy = regression_objective(result.x, stack, y, tau=config.tau, beta=config.beta)
    w = np.exp(result.x - result.x.max())
    return WeightingFit(
        weights=normalize_weights(w),
        theta=np.asarray(result.x),
        objective=float(objective),
        mse=mse,
        mean_entropy=mean_entropy,
        start=name,
        starts=tuple(tried),
        converged=bool(result.success),
        iterations=int(result.nit),
        message=str(result.message),
        config=config,
    )


@dataclass(frozen=True)
class ErrorSummary:
    """Relative errors of predictions against targets over ``count`` tuples.

    mse_rel: mean ((pred - y)/y)^2 (eq. 30's MSE part, the paper's reported "error");
    rmse_rel: its square root; mean_abs_rel: mean |pred - y|/y; max_abs_rel; mean_abs: mean |pred - y| in M units.
    """

    count: int
    mse_rel: float
    rmse_rel: float
    mean_abs_rel: float
    max_abs_rel: float
    mean_abs: float


def relative_errors(predictions, targets) -> ErrorSummary:
    """Summarise ``(predictions - targets) / targets`` (both ``(P,)``, P >= 1; NaN predictions count as NaN)."""
    pred = np.asarray(predictions, dtype=np.float64)
    y = _check_targets(targets, pred.size)
    rel = (pred.reshape(-1) - y) / y
    mse = float(np.mean(rel * rel))
    return ErrorSummary(
        count=int(y.size),
        mse_rel=mse,
        rmse_rel=float(np.sqrt(mse)),
        mean_abs_rel=float(np.mean(np.abs(rel))),
        max_abs_rel=float(np.max(np.abs(rel))),
        mean_abs=float(np.mean(np.abs(pred.reshape(-1) - y))),
    )


def split_tuples(count: int, *, test_fraction: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of ``count`` tuples into sorted (train, test) index arrays.

    ``round(test_fraction * count)`` tuples are held out (at least one and at most ``count - 1``
    when ``0 < test_fraction``; none when it is 0).
    """
    if int(count) != count or count < 1:
        raise InvalidInputError(f"count must be an integer >= 1, got {count}")
    if not (0 <= test_fraction < 1):
        raise InvalidInputError(f"test_fraction must lie in [0, 1), got {test_fraction}")
    if test_fraction > 0 and count < 2:
        raise InvalidInputError("a held-out split needs at least 2 tuples")
    n_test = 0 if test_fraction == 0 else min(max(1, round(test_fraction * count)), count - 1)
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[n_test:]), np.sort(order[:n_test])
