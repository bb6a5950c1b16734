"""How numbers and JSON values read on the page: significant digits, ± standard errors, intervals, durations."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MISSING", "compact", "format_interval", "format_number", "format_seconds", "format_with_se"]

#: What an absent value reads as.
MISSING = "—"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_number(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits (``%g``); integers as they are; None as a dash."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if value == 0:
            return "0"
        return f"{value:.{digits}g}"
    return str(value)


def format_with_se(value: Any, se: Any, *, digits: int = 4) -> str:
    """``value ± se`` (the SE with two significant digits) when ``se`` is a number, else the value alone."""
    text = compact(value) if not _is_number(value) else format_number(value, digits)
    if _is_number(se) and _is_number(value):
        return f"{text} ± {format_number(float(se), 2)}"
    return text


def format_interval(low: Any, high: Any, *, open_high: str = "beyond the sweep") -> str:
    """``[low, high]``; a missing end reads as ``open_high`` (high) or a dash (low)."""
    left = format_number(low) if low is not None else MISSING
    right = format_number(high) if high is not None else open_high
    return f"[{left}, {right}]"


def format_seconds(seconds: Any) -> str:
    """``4.2 s``, ``3 min 05 s`` or ``1 h 02 min``; a dash when not a number."""
    if not _is_number(seconds) or not math.isfinite(seconds):
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def compact(value: Any, *, limit: int = 160, items: int = 8) -> str:
    """A short one-line rendering of any JSON value (numbers to 4 digits, long lists and texts cut)."""
    text = _compact(value, items)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _compact(value: Any, items: int) -> str:
    if value is None or isinstance(value, (bool, int, float)):
        return format_number(value, 5)
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, Mapping):
        parts = [f"{key}: {_compact(v, items)}" for key, v in list(value.items())[:items]]
        if len(value) > items:
            parts.append(f"… ({len(value)} keys)")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, Sequence):
        parts = [_compact(v, items) for v in list(value)[:items]]
        if len(value) > items:
            parts.append(f"… ({len(value)} items)")
        return "[" + ", ".join(parts) + "]"
    return str(value)
