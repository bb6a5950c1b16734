"""Reading the result files the other commands wrote, tolerantly: a missing or broken file is a note, not a crash."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memlab._errors import InvalidInputError
from memlab._io import read_json

__all__ = ["JsonSource", "Missing", "load_json_source", "lookup"]


@dataclass(frozen=True)
class Missing:
    """A part of the page that has not been computed, and the command that makes it."""

    what: str
    command: str
    note: str = ""


@dataclass(frozen=True)
class JsonSource:
    """One JSON result file: its parsed content (``None`` when absent or unreadable) and why it is unreadable."""

    path: Path
    data: Any = None
    error: str | None = None

    @property
    def present(self) -> bool:
        return self.data is not None


def load_json_source(path: str | os.PathLike) -> JsonSource:
    """Read ``path``; absent -> ``data=None, error=None``; unreadable or malformed -> ``error`` says why."""
    path = Path(path)
    if not path.exists():
        return JsonSource(path)
    try:
        return JsonSource(path, read_json(path))
    except InvalidInputError as exc:
        return JsonSource(path, None, str(exc))


def lookup(data: Any, *keys: str | int, default: Any = None) -> Any:
    """``data[k1][k2]...`` or ``default`` when any step is missing or of the wrong type (schemas may change)."""
    node = data
    for key in keys:
        if isinstance(key, int) and isinstance(node, list) and -len(node) <= key < len(node):
            node = node[key]
        elif isinstance(key, str) and isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return default
    return node
