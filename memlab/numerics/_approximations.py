"""Float64 evaluation of the Section 3 approximations used by Figure 1 (SPEC §4).

Interim home: these are the leading-order closed forms of Theorems 3.1 and 3.2, written out by hand
so Figure 1 can be drawn. They should be sourced from the SymPy closed forms in ``memlab.theory``
(lambdified) once those land; the tests then check these against the symbolic expressions.

- Theorem 3.1 (generalizing denoiser): ``E[L_{N,t}(x_*) - L_{N,t}(x_mem)] ~ d s2 / (psi_t s2 + 1)``.
- Theorem 3.2 (partially memorizing denoiser): ``E[L_{N,t}(x_pmem,M) - L_{N,t}(x_mem)] ~ C (1 - M/N) d s2``
  with C in [1, 2] (Figure 1 draws C = 2 and, for the lower bound, C = 1).

Both are in x0 units (the per-time loss of eq. 6), with ``s2 = sigma_*^2`` the mixture variance.
"""

from __future__ import annotations

import numpy as np

__all__ = ["excess_gen_approx", "excess_pmem_approx"]


def excess_gen_approx(psi, *, d: int, sigma2: float = 1.0) -> np.ndarray:
    """Theorem 3.1: ``d sigma2 / (psi sigma2 + 1)`` (broadcasts over ``psi``)."""
    psi = np.asarray(psi, dtype=np.float64)
    return d * sigma2 / (psi * sigma2 + 1.0)


def excess_pmem_approx(m, *, n: int, d: int, sigma2: float = 1.0, c: float = 2.0) -> np.ndarray:
    """Theorem 3.2: ``C (1 - M/N) d sigma2`` (broadcasts over ``m``; C = 2 is the paper's Figure 1 choice)."""
    m = np.asarray(m, dtype=np.float64)
    return c * (1.0 - m / n) * d * sigma2
