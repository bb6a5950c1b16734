"""Power of a check: the smallest relative error of the statement it detects with probability >= 0.95.

A check returns a :class:`~memlab.verification._claim.Rescore`: its decision rule, re-runnable with the
statement multiplied by any scale. For each way the statement can be wrong (a
:class:`~memlab.verification._claim.Perturbation`, scale ``1 + sign · r``) this module finds the smallest
``r`` for which the rule says "fails" with probability at least :data:`DETECTION_PROBABILITY`:

- deterministic decisions (exact probabilities, identities checked to rounding, decisions on measured
  values with no resampling): the probability is 0 or 1; ``r`` is found by bisection (on ``log r`` for
  ``sign = +1``, on ``logit r`` for ``sign = −1`` so that both 1e-15 and 1 − 1e-9 are resolved);
- stochastic decisions (Monte Carlo): the probability is the fraction of ``resamples`` bootstrap
  replicates of the measurement (common random numbers at every ``r``) on which the rule says "fails";
  ``r`` is found by bisection on ``log r`` to about 2% relative precision.

The search assumes detection grows with ``r`` (true of every rule here: a larger error moves the
statement further from the measurement). A perturbation not detected at the largest ``r`` tried
(:data:`MAX_UPWARD` for ``sign = +1``, ``1 − 1e-12`` for ``sign = −1``) is reported as ``None``: the
statement could be wrong by any amount in that direction without the check noticing (a loose bound).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from memlab.verification._claim import Perturbation, Rescore

__all__ = ["DETECTION_PROBABILITY", "MAX_UPWARD", "MIN_RELATIVE_ERROR", "detection_probability", "measure_power"]

#: A relative error counts as detected when the check says "fails" with at least this probability.
DETECTION_PROBABILITY = 0.95
#: The smallest relative error searched (below it float64 cannot represent the perturbation).
MIN_RELATIVE_ERROR = 1e-15
#: The largest upward relative error searched (the statement times 1001).
MAX_UPWARD = 1e3
_MAX_DOWNWARD = 1.0 - 1e-12


def _transform(sign: int):
    """(to, back) maps between r and the bisection variable: log r (sign +1) or logit r (sign −1)."""
    if sign > 0:
        return math.log, math.exp
    return (lambda r: math.log(r) - math.log1p(-r)), (lambda u: 1.0 / (1.0 + math.exp(-u)))


def detection_probability(rescore: Rescore, scale: float, seeds: np.ndarray | None) -> float:
    """Fraction of resampled measurements (``seeds``; None: the measurement itself) on which the rule fails."""
    if seeds is None:
        return 1.0 if rescore.fails(scale, None) else 0.0
    if rescore.detection_rate is not None:
        return float(rescore.detection_rate(scale, seeds))
    hits = sum(bool(rescore.fails(scale, np.random.default_rng(int(s)))) for s in seeds)
    return hits / len(seeds)


def _search(rescore: Rescore, perturbation: Perturbation, seeds: np.ndarray | None) -> float | None:
    to, back = _transform(perturbation.sign)
    hi_r = MAX_UPWARD if perturbation.sign > 0 else _MAX_DOWNWARD

    def detected(r: float) -> bool:
        return detection_probability(rescore, perturbation.scale(r), seeds) >= DETECTION_PROBABILITY

    if not detected(hi_r):
        return None
    if detected(MIN_RELATIVE_ERROR):
        return MIN_RELATIVE_ERROR
    lo, hi = to(MIN_RELATIVE_ERROR), to(hi_r)
    # deterministic: to ~1e-4 in the bisection variable; stochastic: ~2% (each step costs `resamples` decisions)
    tolerance = 1e-4 if seeds is None else 0.02
    while hi - lo > tolerance:
        mid = 0.5 * (lo + hi)
        if detected(back(mid)):
            hi = mid
        else:
            lo = mid
    return float(back(hi))


def measure_power(rescore: Rescore, *, rng: np.random.Generator, resamples: int) -> dict:
    """``{"detectable_relative_error", "method", "probability", "perturbations", ...}`` for one check.

    ``detectable_relative_error`` is the largest of the primary perturbations' (an error of any of those
    kinds at least that large is detected with probability >= 0.95); ``None`` when one of them is never
    detected. ``rng`` seeds the bootstrap replicates (stochastic checks only).
    """
    seeds = rng.integers(0, 2**63 - 1, size=int(resamples)) if rescore.stochastic else None
    if rescore.fails(1.0, None):
        return {
            "detectable_relative_error": 0.0,
            "probability": DETECTION_PROBABILITY,
            "method": "the statement fails as it stands (scale 1): no perturbation is needed to detect it",
            "perturbations": [],
            "resamples": None,
            "notes": list(rescore.notes),
        }
    entries: list[dict[str, Any]] = []
    for perturbation in rescore.perturbations:
        r = _search(rescore, perturbation, seeds)
        entries.append({"label": perturbation.label, "primary": perturbation.primary, "detectable_relative_error": r})
    primary: list[float | None] = [e["detectable_relative_error"] for e in entries if e["primary"]]
    found = [r for r in primary if r is not None]
    headline = max(found) if primary and len(found) == len(primary) else None
    how = (
        f"bootstrap: {len(seeds)} resampled measurements per r ({rescore.method}); detected = the decision rule "
        f"says 'fails' on >= {DETECTION_PROBABILITY:.0%} of them; bisection on log r"
        if seeds is not None
        else f"deterministic: the decision rule re-run on the measurement with the statement multiplied by (1 ± r) "
        f"({rescore.method or 'no Monte Carlo enters the decision'}); bisection on r"
    )
    return {
        "detectable_relative_error": headline,
        "probability": DETECTION_PROBABILITY,
        "method": how,
        "perturbations": entries,
        "resamples": None if seeds is None else len(seeds),
        "notes": list(rescore.notes),
    }
