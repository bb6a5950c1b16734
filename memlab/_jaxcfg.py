"""Explicit JAX configuration, called by the CLI and tests only — never on import."""

from __future__ import annotations

__all__ = ["enable_float64", "device_summary"]


def enable_float64() -> None:
    """Enable float64 in JAX (the reference precision). Call before creating arrays."""
    import jax

    jax.config.update("jax_enable_x64", True)


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
