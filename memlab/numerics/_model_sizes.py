"""The model sizes a phase-transition sweep trains (App. H.1, as memlab reads it).

- :func:`m_grid`: the coarse grid ``j * floor(N / 10)``, j = 1..20 (App. H.1 says "20 models ... to
  M = 10 floor(N/10)", which holds only 10; memlab defaults to 20 multiples, configurable).
- :func:`refinement_ms`: ``count`` (10) more sizes equally spaced over the transition, given its
  start (first M with ratio > 1/10) and end (first M with ratio > 9/10) from
  :func:`memlab.numerics.phase_transition`. If the transition falls between two grid points
  (start == end) the paper's interval [start, end] holds no new size, so the span is widened down to
  the largest tried M below the start: ``[lo, hi]`` with lo that M (or the start when it is the
  smallest M) and hi the end (or the largest tried M when no model reaches 9/10).
"""

from __future__ import annotations

import numpy as np

from memlab._errors import InvalidInputError

__all__ = ["m_grid", "refinement_ms"]


def m_grid(n: int, *, multiples: int = 20, step_divisor: int = 10) -> np.ndarray:
    """``j * max(1, floor(N / step_divisor))`` for j = 1..multiples, int64 ``(multiples,)``."""
    for name, value in (("n", n), ("multiples", multiples), ("step_divisor", step_divisor)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise InvalidInputError(f"{name} must be an integer >= 1, got {value}")
    step = max(1, int(n) // int(step_divisor))
    return step * np.arange(1, int(multiples) + 1, dtype=np.int64)


def refinement_ms(ms, *, start: int | None, end: int | None, count: int = 10) -> np.ndarray:
    """Up to ``count`` new integer sizes strictly inside the transition span, sorted, none of them in ``ms``.

    ms: the sizes tried so far; start/end: the transition's start and end among them (None where the
    sweep never crosses 1/10 resp. 9/10). Empty when ``start`` is None or the span holds no untried
    integer. The ``count`` points of ``linspace(lo, hi, count + 2)`` strictly inside are rounded and
    deduplicated (fewer than ``count`` when the span is short).
    """
    ms = np.unique(np.asarray(ms, dtype=np.int64))
    if ms.size == 0:
        raise InvalidInputError("ms must not be empty")
    if isinstance(count, bool) or int(count) != count or count < 0:
        raise InvalidInputError(f"count must be an integer >= 0, got {count}")
    if start is None or count == 0:
        return np.zeros(0, dtype=np.int64)
    if start not in ms or (end is not None and (end not in ms or end < start)):
        raise InvalidInputError(f"start={start} and end={end} must be tried sizes with start <= end")
    below = ms[ms < start]
    lo = int(below.max()) if below.size else int(start)
    hi = int(ms.max()) if end is None else int(end)
    inner = np.linspace(lo, hi, int(count) + 2)[1:-1]
    new = np.unique(np.round(inner).astype(np.int64))
    return new[~np.isin(new, ms) & (new > lo) & (new < hi)]
