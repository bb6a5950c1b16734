"""Explicit JAX configuration: called by the CLI, sweep workers and tests only — never on import.

The library itself never flips a global flag: code that needs float64 for its reference precision
runs inside :func:`float64_scope` (JAX's thread-local ``enable_x64`` context), so a notebook user's
global configuration is left as it was.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["device_summary", "enable_compilation_cache", "enable_float64", "float64_enabled", "float64_scope"]


# JAX is imported inside each function: modules that only *may* configure JAX (the command line, the sweep
# runner) must not pull it in, so that `memlab crossover` and `memlab --help` start without it.


def enable_float64() -> None:
    """Enable float64 in JAX globally (the CLI and test set-up only). Call before creating arrays."""
    import jax

    jax.config.update("jax_enable_x64", True)


def float64_enabled() -> bool:
    """Whether JAX allows float64 here (globally, or inside :func:`float64_scope`)."""
    import jax
    import jax.numpy as jnp

    return bool(jax.dtypes.canonicalize_dtype(jnp.float64) == jnp.float64)


@contextlib.contextmanager
def float64_scope() -> Iterator[None]:
    """A block in which JAX allows float64 (thread-local; the global flag is untouched)."""
    import jax

    with jax.enable_x64(True):
        yield


def device_summary() -> dict:
    """A JSON-ready description of the JAX devices in use (for result metadata)."""
    import jax

    devices = jax.devices()
    return {
        "backend": jax.default_backend(),
        "device_count": len(devices),
        "devices": [str(d) for d in devices],
        "device_kind": devices[0].device_kind if devices else None,
        "jax_version": jax.__version__,
    }


def enable_compilation_cache(path: str | os.PathLike | None = None) -> str | None:
    """Persist compiled XLA executables across processes (CLI and sweep workers; never on import).

    Default folder: ``$MEMLAB_JAX_CACHE``, else ``$XDG_CACHE_HOME/memlab/jax`` (``~/.cache/memlab/jax``).
    ``MEMLAB_JAX_CACHE=0`` turns it off. Returns the folder used, or None when off. A second run of the
    same command then skips most of the JIT compilation (seconds on CPU).
    """
    import jax

    setting = os.environ.get("MEMLAB_JAX_CACHE") if path is None else str(path)
    if setting is not None and setting.strip() in ("0", "", "false", "no", "off"):
        return None
    if setting is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        setting = os.path.join(base, "memlab", "jax")
    try:
        Path(setting).mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # an unwritable cache folder only costs compile time
    jax.config.update("jax_compilation_cache_dir", setting)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return setting
