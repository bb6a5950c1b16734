"""SymPy expressions -> fast numeric callables (NumPy or JAX), cached.

The cache is keyed by the ``srepr`` of the expression and of the argument symbols (which
includes their names and assumptions) plus the backend, so building the same expression twice
(as the theory layer's ``lru_cache``-d derivations do, or a user's own expressions) costs one
``lambdify``. JAX is imported only when a ``"jax"`` callable is requested.

Constant expressions return a scalar; callers broadcast (``np.broadcast_to``) where they need
the argument's shape.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import sympy as sp

from memlab._errors import InvalidInputError

__all__ = ["BACKENDS", "numeric_function", "numeric_function_cache_info"]

BACKENDS = ("numpy", "jax", "math")


def numeric_function(expr, args: Sequence[sp.Symbol] | sp.Symbol, backend: str = "numpy") -> Callable:
    """A cached ``lambdify(args, expr, backend)``; ``backend`` is ``numpy`` (default), ``jax`` or ``math``."""
    if backend not in BACKENDS:
        raise InvalidInputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if isinstance(args, sp.Basic):
        args = (args,)
    expr = sp.sympify(expr)
    key = (sp.srepr(expr), tuple(sp.srepr(a) for a in args), backend)
    _PENDING[key] = (expr, tuple(args))
    try:
        return _lambdified(*key)
    finally:
        _PENDING.pop(key, None)


#: The expressions behind a cache key, handed to ``_lambdified`` on a cache miss.
_PENDING: dict[tuple, tuple] = {}


@functools.lru_cache(maxsize=256)
def _lambdified(expr_srepr: str, args_srepr: tuple[str, ...], backend: str) -> Callable:
    expr, args = _PENDING[(expr_srepr, args_srepr, backend)]
    if backend == "jax":
        # The theory layer does not depend on JAX: it is imported only when a caller asks for a JAX function.
        import jax.numpy  # noqa: F401 - make sure JAX is importable before lambdify picks the module

    return sp.lambdify(args, expr, modules=backend, cse=True)


def numeric_function_cache_info():
    """``functools`` cache statistics of :func:`numeric_function` (hits, misses, size)."""
    return _lambdified.cache_info()
