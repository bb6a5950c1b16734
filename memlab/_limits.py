"""The limits every layer checks input against: one definition each (see docs/reliability.md).

- :data:`MAX_SEED`: seeds are integers in ``0..2**32 - 1``. ``jax.random.key`` folds a larger seed into
  32 bits when float64 is off (``key(2**32 + 5) == key(5)``) and raises beyond int64, so a larger seed is
  refused instead of silently aliasing another one.
- :data:`MAX_INDEX`: counts and sizes of a computation (N, d, K, M, epochs, draws, steps, ...) stay below
  ``2**31``, the range of the int32 indices compiled kernels use.
- :func:`max_input_bytes`: the most bytes of array data one input file may declare, and the most bytes
  one generated data set may take (1 GiB, or ``MEMLAB_MAX_INPUT_MB`` mebibytes). Checked, with Python
  integers, *before* anything is allocated.

Bad values raise :class:`memlab.InvalidInputError` (exit code 2 on the command line).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable

from memlab._errors import InvalidInputError

__all__ = [
    "DEFAULT_MAX_INPUT_BYTES",
    "MAX_INDEX",
    "MAX_SEED",
    "check_allocation",
    "check_seed",
    "format_bytes",
    "max_input_bytes",
]

MAX_SEED = 2**32 - 1
MAX_INDEX = 2**31 - 1
DEFAULT_MAX_INPUT_BYTES = 1 << 30
_ENV = "MEMLAB_MAX_INPUT_MB"


def max_input_bytes() -> int:
    """The input size limit in bytes: ``MEMLAB_MAX_INPUT_MB`` mebibytes when set, else 1 GiB."""
    text = os.environ.get(_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_INPUT_BYTES
    try:
        value = int(text)
    except ValueError:
        raise InvalidInputError(f"{_ENV} must be a positive whole number of mebibytes, got {text!r}") from None
    if value < 1:
        raise InvalidInputError(f"{_ENV} must be a positive whole number of mebibytes, got {text!r}")
    return value << 20


def format_bytes(count: int) -> str:
    """``count`` bytes in a human unit (exact Python integers in, text out: never overflows)."""
    value = float(min(count, 2**1000))
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{count} bytes" if unit == "bytes" else f"{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def check_seed(seed: object, what: str = "seed") -> int:
    """``seed`` as an int in ``0..MAX_SEED``; anything else is an :class:`InvalidInputError`."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidInputError(f"{what} must be an integer in 0..{MAX_SEED} (2**32 - 1), got {seed!r}")
    return seed


def check_allocation(shape: Iterable[int], itemsize: int, what: str, *, limit: int | None = None) -> int:
    """The bytes an array of ``shape`` and ``itemsize`` needs; an :class:`InvalidInputError` above the limit.

    Computed with Python integers (a product of declared sizes cannot overflow), before allocating.
    """
    dims = [int(v) for v in shape]
    if any(v < 0 for v in dims):
        raise InvalidInputError(f"{what}: negative size in {tuple(dims)}")
    nbytes = math.prod(dims) * int(itemsize)
    limit = max_input_bytes() if limit is None else limit
    if nbytes > limit:
        raise InvalidInputError(
            f"{what} would take {format_bytes(nbytes)} (shape {tuple(dims)}), more than the "
            f"limit of {format_bytes(limit)} (set {_ENV} to raise it)"
        )
    return nbytes
