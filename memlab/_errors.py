"""The one exception type that means "invalid input", and the one check that a result is finite."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["InvalidInputError", "require_finite"]


class InvalidInputError(ValueError):
    """An argument or an input file is invalid (a negative variance, M > N where that is not allowed,
    a malformed or oversized data file, NaN in user data, an output folder that cannot be written, ...).

    Every layer of the library raises it for input a user can fix; it is a ``ValueError``, so code that
    catches ``ValueError`` keeps working. Only the command line turns it into exit code 2 with its message
    as one line on stderr.
    """


def _first_nonfinite(value: Any, where: str) -> str | None:
    """The location (``where``, ``where.key``, ``where[i]``) of the first NaN/Inf in ``value``, else None."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _first_nonfinite(item, f"{where}.{key}" if where else str(key))
            if found is not None:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _first_nonfinite(item, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    if isinstance(value, (bool, str, bytes)) or value is None:
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else where
    if isinstance(value, int):
        return None
    array = np.asarray(value)
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        return where
    return None


def require_finite(value: Any, what: str, hint: str = "") -> None:
    """Raise :class:`InvalidInputError` when ``value`` (a number, an array, or dicts/lists of them) holds
    NaN or +-Inf: a non-finite result is an error, never a silent file. ``hint`` says what to change."""
    found = _first_nonfinite(value, "")
    if found is not None:
        at = f" (at {found})" if found else ""
        raise InvalidInputError(f"{what} is not finite{at}" + (f": {hint}" if hint else ""))
