"""Run metadata: the one description of versions, device and machine written beside every result."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import jax
import matplotlib
import numpy
import scipy
import sympy

from memlab._jaxcfg import device_summary
from memlab._version import __version__

__all__ = ["run_metadata", "versions"]


def versions() -> dict[str, str]:
    """Versions of memlab, Python and the numerical libraries."""
    return {"memlab": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "scipy": scipy.__version__, "sympy": sympy.__version__, "jax": jax.__version__,
            "matplotlib": matplotlib.__version__}


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
