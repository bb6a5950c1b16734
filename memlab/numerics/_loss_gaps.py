"""Per-time loss gaps ``L_{N,t}(x_pmem,M) - L_{N,t}(x_*)`` for one (N, d, K) tuple (Section 3, App. H.3).

The phase-transition predictor of App. H.3 integrates these gaps over t with a weighting lambda and
looks for the M where the integrated gap crosses zero. This module builds the gap matrix, shape
``(L+1, len(m_values))`` (one row per grid timestep t_0..t_L, one column per candidate M), from

- the Section 3 approximations (:func:`approx_loss_gaps`): Theorem 3.2 minus Theorem 3.1,
  ``C (1 - M/N) d s2 - d s2 / (psi_t s2 + 1)``, or
- Monte Carlo excess losses over ``x_mem`` (eq. 13; :func:`exact_loss_gaps`):
  ``excess_pmem[t, M-1] - excess_gen[t]`` (the x_mem loss cancels).

Normalisation ("normalized approximate losses", Figure 3's caption; App. H.3 gives no details):

- ``"span"`` (default): ``per_dim`` below, and in addition the predictor rescales the *integrated*
  gap G(M) so that its drop over the candidate range, ``G(M_first) - G(M_last)``, equals the
  approximation's, ``C (M_last - M_first) / N`` (:attr:`LossGaps.span_target`). For the approximate
  losses G(M) = C (M* - M) / N already has that drop, so ``span`` and ``per_dim`` give identical
  predictions. For exact losses it removes a degenerate optimum of the relaxed fit: at low SNR the
  excess losses of every denoiser vanish, a lambda concentrated there flattens G, the relaxed
  distribution over M becomes uniform and its mean ~N/2 can match M_pt without any crossover. The
  rescaling changes neither the zero of G (the crossover) nor the meaning of lambda (a weighting of
  the per-dim losses); it only fixes the scale at which tau acts.
- ``"per_dim"``: every gap divided by ``d s2``: losses per coordinate, in units of the mixture
  variance, so the approximate gap is ``C (1 - M/N) - 1/(psi_t s2 + 1)`` in ``[-1, C]`` for every tuple,
  independent of d. With lambda normalised to ``E_t[lambda] = 1`` (see
  :mod:`memlab.numerics._weighting_regression`) the integrated approximate gap is
  ``C (M* - M) / N``, so App. H.3's temperature tau = 1/20 means the same for every tuple: the relaxed
  distribution over M is a (truncated) Gaussian around M* with standard deviation
  ``N sqrt(tau / 2) / C`` (0.08 N for tau = 1/20, C = 2).
- ``"none"``: raw losses (x0-MSE units, growing with d); then tau = 1/20 makes the relaxation nearly
  a hard argmin for the paper's tuples (standard deviation ``N sqrt(tau/2) / (C d)``, under one M).

Candidate model sizes are ``M = 1..N`` by default: ``x_pmem,M`` keeps M of the N training points,
so it is only defined there (at M = N it is ``x_mem``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memlab._errors import InvalidInputError
from memlab.numerics._approximations import excess_gen_approx, excess_pmem_approx
from memlab.numerics._schedules import DEFAULT_STEPS, schedule_coefficients, timestep_grid

__all__ = ["NORMALIZATIONS", "LossGaps", "approx_loss_gaps", "exact_loss_gaps"]

#: Loss normalisations for the gap matrix (see module doc).
NORMALIZATIONS = ("span", "per_dim", "none")


@dataclass(frozen=True, eq=False)
class LossGaps:
    """The per-time loss gaps of one (N, d, K) tuple.

    gaps: ``(L+1, C)`` float64, ``gaps[l, j] = L_{N,t_l}(x_pmem,m_values[j]) - L_{N,t_l}(x_*)``
    divided by ``scale``; m_values: ``(C,)`` candidate model sizes (integers, increasing);
    gaps_se: ``(L+1, C)`` Monte Carlo standard errors of ``gaps`` (None for the approximations);
    source: ``"approx"`` or ``"exact"``; scale: the divisor (``d sigma2`` for ``span``/``per_dim``, else 1);
    span_target: for ``span``, the drop ``C (M_last - M_first) / N`` the predictor gives the integrated
    gap (None: no rescaling). ``k`` may be None (the approximations do not depend on it).
    """

    n: int
    d: int
    k: int | None
    m_values: np.ndarray
    gaps: np.ndarray
    gaps_se: np.ndarray | None
    source: str
    normalize: str
    scale: float
    sigma2: float
    steps: int
    span_target: float | None = None

    @property
    def n_times(self) -> int:
        return int(self.gaps.shape[0])


def _check_normalize(normalize: str) -> None:
    if normalize not in NORMALIZATIONS:
        raise InvalidInputError(f"normalize must be one of {', '.join(NORMALIZATIONS)}, got {normalize!r}")


def _scale(normalize: str, d: int, sigma2: float) -> float:
    return 1.0 if normalize == "none" else float(d) * float(sigma2)


def _span_target(normalize: str, c: float, n: int, ms: np.ndarray) -> float | None:
    if normalize != "span":
        return None
    if ms.size < 2:
        raise InvalidInputError("the span normalisation needs at least two candidate model sizes")
    return float(c) * float(ms[-1] - ms[0]) / n


def _check_c(c) -> float:
    c = float(c)
    if not (np.isfinite(c) and c > 0):
        raise InvalidInputError(f"c must be a positive number, got {c}")
    return c


def _candidate_ms(n: int, m_values) -> np.ndarray:
    if m_values is None:
        return np.arange(1, n + 1, dtype=np.int64)
    ms = np.asarray(m_values)
    if ms.ndim != 1 or ms.size == 0 or not np.all(ms == np.round(ms)):
        raise InvalidInputError("m_values must be a non-empty 1-D sequence of integers")
    ms = ms.astype(np.int64)
    if np.any(ms < 1) or np.any(ms > n) or np.any(np.diff(ms) <= 0):
        raise InvalidInputError(f"m_values must increase strictly within [1, N={n}]")
    return ms


def _check_tuple(n, d, sigma2) -> tuple[int, int, float]:
    if int(n) != n or n < 1 or int(d) != d or d < 1:
        raise InvalidInputError(f"n and d must be integers >= 1, got n={n}, d={d}")
    sigma2 = float(sigma2)
    if not (np.isfinite(sigma2) and sigma2 > 0):
        raise InvalidInputError(f"sigma2 must be a positive number, got {sigma2}")
    return int(n), int(d), sigma2


def approx_loss_gaps(
    n: int,
    *,
    d: int,
    k: int | None = None,
    sigma2: float = 1.0,
    c: float = 2.0,
    schedule: str = "vp",
    steps: int = DEFAULT_STEPS,
    normalize: str = "span",
    m_values=None,
) -> LossGaps:
    """Theorem 3.2 minus Theorem 3.1 on the grid: ``(C (1 - M/N) d s2 - d s2/(psi_t s2 + 1)) / scale``.

    Returns :class:`LossGaps` with gaps of shape ``(steps + 1, len(m_values))`` (default M = 1..N).
    """
    n, d, sigma2 = _check_tuple(n, d, sigma2)
    _check_normalize(normalize)
    c = _check_c(c)
    ms = _candidate_ms(n, m_values)
    _, _, psi = schedule_coefficients(timestep_grid(steps), schedule)
    gen = excess_gen_approx(psi, d=d, sigma2=sigma2)  # (T,)
    pmem = excess_pmem_approx(ms, n=n, d=d, sigma2=sigma2, c=c)  # (C,)
    scale = _scale(normalize, d, sigma2)
    gaps = (pmem[None, :] - gen[:, None]) / scale
    return LossGaps(
        n=n,
        d=d,
        k=k,
        m_values=ms,
        gaps=gaps,
        gaps_se=None,
        source="approx",
        normalize=normalize,
        scale=scale,
        sigma2=sigma2,
        steps=int(steps),
        span_target=_span_target(normalize, c, n, ms),
    )


def exact_loss_gaps(
    excess_pmem,
    excess_gen,
    *,
    n: int,
    d: int,
    k: int | None = None,
    sigma2: float = 1.0,
    excess_pmem_se=None,
    excess_gen_se=None,
    normalize: str = "span",
    c: float = 2.0,
    m_values=None,
) -> LossGaps:
    """Gaps from Monte Carlo excess losses over x_mem (eq. 13).

    excess_pmem: ``(T, N)``, column ``M-1`` the excess loss of x_pmem,M at each grid time;
    excess_gen: ``(T,)`` the excess loss of x_*; the optional ``*_se`` have the same shapes.
    The x_mem loss cancels in the difference. The standard error of a gap is
    ``sqrt(se_pmem^2 + se_gen^2)``, which ignores the covariance of the two estimates (they share
    noise draws); it overstates the SE when they are positively correlated, as they usually are.
    ``c`` only matters for ``normalize="span"``: it sets the drop the integrated gap is rescaled to
    (the approximation's), i.e. the scale at which the temperature tau acts.
    """
    n, d, sigma2 = _check_tuple(n, d, sigma2)
    _check_normalize(normalize)
    c = _check_c(c)
    pmem = np.asarray(excess_pmem, dtype=np.float64)
    gen = np.asarray(excess_gen, dtype=np.float64)
    if pmem.ndim != 2 or pmem.shape[1] != n or gen.shape != (pmem.shape[0],):
        raise InvalidInputError(f"excess_pmem must be (T, N={n}) and excess_gen (T,), got {pmem.shape} and {gen.shape}")
    if not (np.all(np.isfinite(pmem)) and np.all(np.isfinite(gen))):
        raise InvalidInputError("excess losses must be finite")
    ms = _candidate_ms(n, m_values)
    scale = _scale(normalize, d, sigma2)
    gaps = (pmem[:, ms - 1] - gen[:, None]) / scale
    gaps_se = None
    if excess_pmem_se is not None or excess_gen_se is not None:
        se_p = np.zeros_like(pmem) if excess_pmem_se is None else np.asarray(excess_pmem_se, dtype=np.float64)
        se_g = np.zeros_like(gen) if excess_gen_se is None else np.asarray(excess_gen_se, dtype=np.float64)
        if se_p.shape != pmem.shape or se_g.shape != gen.shape:
            raise InvalidInputError("standard errors must have the shapes of the excess losses")
        gaps_se = np.sqrt(se_p[:, ms - 1] ** 2 + se_g[:, None] ** 2) / scale
    return LossGaps(
        n=n,
        d=d,
        k=k,
        m_values=ms,
        gaps=gaps,
        gaps_se=gaps_se,
        source="exact",
        normalize=normalize,
        scale=scale,
        sigma2=sigma2,
        steps=int(pmem.shape[0] - 1),
        span_target=_span_target(normalize, c, n, ms),
    )
