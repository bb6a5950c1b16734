"""Progress bars for long work (tqdm on stderr).

Shown when stderr is a terminal; ``MEMLAB_PROGRESS=1`` forces them on, ``MEMLAB_PROGRESS=0`` off.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm

__all__ = ["progress"]


def _enabled() -> bool | None:
    flag = os.environ.get("MEMLAB_PROGRESS")
    if flag is None:
        return None  # tqdm: show only on a TTY
    return flag.strip() not in ("0", "", "false", "no")


def progress(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "", **kwargs: Any):
    """Wrap ``iterable`` (or count to ``total``) in a progress bar on stderr."""
    enabled = _enabled()
    disable = None if enabled is None else not enabled
    return tqdm(iterable, total=total, desc=desc, disable=disable, leave=False, dynamic_ncols=True, **kwargs)
