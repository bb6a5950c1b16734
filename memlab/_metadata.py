"""Run metadata: the one description of versions, device and machine written beside every result."""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata
from typing import Any

from memlab._jaxcfg import device_summary
from memlab._version import __version__

__all__ = ["run_metadata", "versions"]


def versions() -> dict[str, str | None]:
    """Versions of memlab, Python and the numerical libraries (from the installed distributions: nothing is
    imported, so the command line can record them without loading JAX)."""
    out: dict[str, str | None] = {"memlab": __version__, "python": platform.python_version()}
    for name in ("numpy", "scipy", "sympy", "jax", "jaxlib", "matplotlib"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def run_metadata(**extra: Any) -> dict[str, Any]:
    """``{"versions", "device", "machine", "created", **extra}`` for a result's JSON file.

    ``created`` is the local time of writing; timings and anything else run-specific go in ``extra``.
    """
    return {
        "versions": versions(),
        "device": device_summary(),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count()},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
    }
