"""Float64 evaluation of the Section 3 approximations used by Figure 1 (Theorems 3.1 and 3.2).

These are the leading-order closed forms of Theorems 3.1 and 3.2, evaluated through the SymPy
closed forms of ``memlab.theory`` (``excess_generalizing()``, ``excess_pmem()``, lambdified and cached).

- Theorem 3.1 (generalizing denoiser): ``E[L_{N,t}(x_*) - L_{N,t}(x_mem)] ~ d s2 / (psi_t s2 + 1)``.
- Theorem 3.2 (partially memorizing denoiser): ``E[L_{N,t}(x_pmem,M) - L_{N,t}(x_mem)] ~ C (1 - M/N) d s2``
  with C in [1, 2] (Figure 1 draws C = 2 and, for the lower bound, C = 1).

Both are in x0 units (the per-time loss of eq. 6), with ``s2 = sigma_*^2`` the mixture variance.
"""

from __future__ import annotations

import numpy as np

from memlab.theory import PSI, SIGMA2, C, D, M, N, excess_generalizing, excess_pmem, numeric_function

__all__ = ["excess_gen_approx", "excess_pmem_approx"]


def excess_gen_approx(psi, *, d: int, sigma2: float = 1.0) -> np.ndarray:
    """Theorem 3.1: ``d sigma2 / (psi sigma2 + 1)`` (broadcasts over ``psi``)."""
    psi = np.asarray(psi, dtype=np.float64)
    fn = numeric_function(excess_generalizing(), (PSI, D, SIGMA2))
    return np.broadcast_to(np.asarray(fn(psi, d, sigma2), dtype=np.float64), psi.shape).copy()


def excess_pmem_approx(m, *, n: int, d: int, sigma2: float = 1.0, c: float = 2.0) -> np.ndarray:
    """Theorem 3.2: ``C (1 - M/N) d sigma2`` (broadcasts over ``m``; C = 2 is the paper's Figure 1 choice)."""
    m = np.asarray(m, dtype=np.float64)
    fn = numeric_function(excess_pmem(), (C, M, N, D, SIGMA2))
    return np.broadcast_to(np.asarray(fn(c, m, n, d, sigma2), dtype=np.float64), m.shape).copy()
