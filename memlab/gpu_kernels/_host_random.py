"""NumPy generators derived from JAX keys, for one-off host-side draws (no device compilation).

Drawing a few thousand numbers once (a permutation, DDIM starting points, evaluation noise) through
``jax.random`` compiles a threefry kernel per shape, which costs seconds on a CPU; seeding NumPy's
PCG64 with the key's bits keeps the draws a deterministic function of the explicit key instead.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["host_generator"]


def host_generator(key: jax.Array) -> np.random.Generator:
    """A ``numpy.random.Generator`` seeded with the bits of ``key`` (typed or raw uint32 key; use each key once)."""
    bits = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    return np.random.default_rng(np.asarray(bits, dtype=np.uint32).reshape(-1).tolist())
