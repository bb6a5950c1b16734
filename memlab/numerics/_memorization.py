"""Memorization (Definition 2.2), the phase-transition points of a sweep over M, and the Figure 6 statistics.

Float64 NumPy, exact (no Monte Carlo except the phase transition's bootstrap, which takes an explicit seed).

- A generated sample x is *memorized* if ``|x - x^(1)|^2 < c |x - x^(2)|^2`` with x^(k) its k-th nearest
  training point (c = 1/9 in the paper).
- The *memorization ratio* is the fraction of memorized samples; a model memorizes on average when it
  is >= 1/2, has started the phase transition when it is > 1/10 and ended it when it is > 9/10. Its
  interval is Clopper–Pearson (exact binomial): honest also when every sample (or none) is memorized,
  where a bootstrap of the flags collapses to a point.
- ``M_pt`` is the first M (of a sweep) memorizing on average.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memlab._errors import InvalidInputError

__all__ = [
    "DEFAULT_MEMORIZATION_C",
    "MemorizationRatio",
    "PhaseTransition",
    "mean_distance_to_nearest",
    "memorization_ratio",
    "memorized_flags",
    "phase_transition",
    "ratio_with_interval",
]

DEFAULT_MEMORIZATION_C = 1.0 / 9.0
TRANSITION_START = 0.1  # ratio > 1/10: the transition has started
MEMORIZING_ON_AVERAGE = 0.5  # ratio >= 1/2: M_pt
TRANSITION_END = 0.9  # ratio > 9/10: the transition has ended


def _matrix(name: str, value) -> np.ndarray:
    value = np.asarray(value, dtype=np.float64)
    if value.ndim != 2:
        raise InvalidInputError(f"{name} must be a 2-D array (rows x d), got shape {value.shape}")
    if not np.all(np.isfinite(value)):
        raise InvalidInputError(f"{name} contains NaN or Inf")
    return value


def _squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Exact squared Euclidean distances (B, d), (N, d) -> (B, N) (difference form, no cancellation)."""
    diff = x[:, None, :] - y[None, :, :]
    return np.einsum("bnd,bnd->bn", diff, diff)


def memorized_flags(samples, x_train, *, c: float = DEFAULT_MEMORIZATION_C) -> np.ndarray:
    """Definition 2.2 per sample: ``|x - x^(1)|^2 < c |x - x^(2)|^2``.

    samples (B, d), x_train (N >= 2, d) -> (B,) bool.
    """
    samples = _matrix("samples", samples)
    x_train = _matrix("x_train", x_train)
    if x_train.shape[0] < 2:
        raise InvalidInputError(
            f"need at least 2 training points for the memorization criterion, got {x_train.shape[0]}"
        )
    if samples.shape[1] != x_train.shape[1]:
        raise InvalidInputError(f"samples have d={samples.shape[1]} but x_train has d={x_train.shape[1]}")
    if not (np.isfinite(c) and c > 0):
        raise InvalidInputError(f"c must be a positive number, got {c}")
    if samples.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    d2 = _squared_distances(samples, x_train)
    two_smallest = np.partition(d2, 1, axis=1)[:, :2]
    return two_smallest[:, 0] < c * two_smallest[:, 1]


@dataclass(frozen=True)
class MemorizationRatio:
    """The memorization ratio of a set of samples with its Clopper–Pearson confidence interval.

    ratio: fraction memorized; ci_low/ci_high: the exact (Clopper–Pearson) binomial interval at
    ``confidence`` for the probability that a sample is memorized — it covers that probability with
    probability >= ``confidence`` for every value, 0 and 1 included (0 of 50: [0, 0.071]); flags: (B,) bool.
    """

    ratio: float
    ci_low: float
    ci_high: float
    confidence: float
    flags: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.flags.shape[0])


def _bootstrap_means(flags: np.ndarray, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    b = flags.shape[0]
    idx = rng.integers(0, b, size=(n_bootstrap, b))
    return flags[idx].mean(axis=1)


def memorization_ratio(
    samples,
    x_train,
    *,
    c: float = DEFAULT_MEMORIZATION_C,
    confidence: float = 0.95,
) -> MemorizationRatio:
    """Fraction of ``samples`` (B, d) memorized w.r.t. ``x_train`` (N, d), with its Clopper–Pearson interval."""
    return ratio_with_interval(memorized_flags(samples, x_train, c=c), confidence=confidence)


def ratio_with_interval(flags, *, confidence: float = 0.95) -> MemorizationRatio:
    """The memorization ratio of per-sample ``flags`` (B,) with its exact (Clopper–Pearson) interval.

    Honest at 0 and 1 (a percentile bootstrap collapses there): with 50 samples none memorized the 95%
    interval is [0, 0.071].
    """
    if not 0 < confidence < 1:
        raise InvalidInputError(f"confidence must be in (0, 1), got {confidence}")
    flags = np.asarray(flags, dtype=bool).reshape(-1)
    if flags.shape[0] == 0:
        raise InvalidInputError("need at least one sample to compute a memorization ratio")
    count, total = int(flags.sum()), int(flags.shape[0])
    # Lazy: scipy.stats costs ~0.4 s at import and only the interval needs it.
    from scipy import stats

    interval = stats.binomtest(count, total).proportion_ci(confidence_level=confidence, method="exact")
    return MemorizationRatio(count / total, float(interval.low), float(interval.high), float(confidence), flags)


@dataclass(frozen=True)
class PhaseTransition:
    """First M of a sweep whose ratio crosses each threshold, with percentile-bootstrap intervals.

    ``m_start`` (ratio > 1/10), ``m_pt`` (ratio >= 1/2), ``m_end`` (ratio > 9/10): ``None`` when the sweep
    never crosses. Each ``*_ci`` is ``(low, high)``; a bound is ``None`` when more than the tail
    fraction of bootstrap replicates never cross inside the sweep (the point is "beyond the largest M").
    """

    m_start: int | None
    m_pt: int | None
    m_end: int | None
    m_start_ci: tuple[int | None, int | None]
    m_pt_ci: tuple[int | None, int | None]
    m_end_ci: tuple[int | None, int | None]
    confidence: float


def _first_crossing(m_values: np.ndarray, ratios: np.ndarray, threshold: float, strict: bool) -> np.ndarray:
    """First M with ratio > (strict) or >= threshold along the last axis; +inf where none. ratios (..., n_M)."""
    crossed = ratios > threshold if strict else ratios >= threshold
    first = np.argmax(crossed, axis=-1)
    any_crossed = crossed.any(axis=-1)
    return np.where(any_crossed, m_values[first].astype(np.float64), np.inf)


def phase_transition(
    m_values, flags_per_m, *, confidence: float = 0.95, n_bootstrap: int = 2000, seed: int = 0
) -> PhaseTransition:
    """Start, M_pt and end of the generalization -> memorization transition of a sweep.

    m_values: (n_M,) increasing model sizes; flags_per_m: sequence of (B_j,) bool memorization flags,
    one per M. The bootstrap resamples every M's samples independently and recomputes the crossings.
    """
    m_values = np.asarray(m_values)
    if m_values.ndim != 1 or m_values.size == 0:
        raise InvalidInputError("m_values must be a non-empty 1-D sequence")
    if np.any(np.diff(m_values) <= 0):
        raise InvalidInputError("m_values must be strictly increasing")
    if len(flags_per_m) != m_values.size:
        raise InvalidInputError(f"got {len(flags_per_m)} flag arrays for {m_values.size} values of M")
    flags_list = [np.asarray(f, dtype=np.float64).reshape(-1) for f in flags_per_m]
    if any(f.size == 0 for f in flags_list):
        raise InvalidInputError("every M needs at least one sample")
    ratios = np.array([f.mean() for f in flags_list])
    rng = np.random.default_rng(seed)
    boot = np.stack([_bootstrap_means(f, n_bootstrap, rng) for f in flags_list], axis=-1)  # (n_boot, n_M)
    tail = (1.0 - confidence) / 2.0

    def point_and_ci(threshold: float, strict: bool):
        point = _first_crossing(m_values, ratios, threshold, strict)
        reps = _first_crossing(m_values, boot, threshold, strict)
        low, high = np.quantile(reps, [tail, 1.0 - tail], method="inverted_cdf")  # picks replicate values (+inf stays)

        def as_int(v):
            return int(v) if np.isfinite(v) else None

        return as_int(point), (as_int(low), as_int(high))

    start, start_ci = point_and_ci(TRANSITION_START, strict=True)
    m_pt, m_pt_ci = point_and_ci(MEMORIZING_ON_AVERAGE, strict=False)
    end, end_ci = point_and_ci(TRANSITION_END, strict=True)
    return PhaseTransition(start, m_pt, end, start_ci, m_pt_ci, end_ci, float(confidence))


def mean_distance_to_nearest(points, reference) -> float:
    """Average over ``points`` (M, d) of the Euclidean distance to the nearest row of ``reference`` (R, d).

    Figure 6: learned means vs the training set ("distance to nearest sample") and vs the true means
    ("distance to nearest true mean").
    """
    points = _matrix("points", points)
    reference = _matrix("reference", reference)
    if points.shape[0] == 0 or reference.shape[0] == 0:
        raise InvalidInputError("points and reference need at least one row each")
    if points.shape[1] != reference.shape[1]:
        raise InvalidInputError(f"points have d={points.shape[1]} but reference has d={reference.shape[1]}")
    nearest = np.sqrt(np.min(_squared_distances(points, reference), axis=1))
    return float(nearest.mean())
