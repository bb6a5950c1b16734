"""A counter of how often each compiled kernel is traced (tests assert repeated calls never retrace)."""

from __future__ import annotations

import collections

__all__ = ["TRACE_COUNTS", "trace_counts"]

TRACE_COUNTS: collections.Counter = collections.Counter()


def trace_counts() -> dict[str, int]:
    """Traces so far per kernel name (``"train_block"``, ``"ddim"``, ...)."""
    return dict(TRACE_COUNTS)
