"""memlab: a verified laboratory for memorization in diffusion models.

Layers (data flows one way; nothing lower imports anything higher):

- ``memlab.theory``       SymPy closed forms (schedules, Theorem 3.1/3.2, eq. 14, M*).
- ``memlab.numerics``     float64 NumPy/SciPy reference implementations and formula evaluation.
- ``memlab.gpu_kernels``  JAX jit-compiled, chunked, device-sharded Monte Carlo and training kernels.
- ``memlab.verification`` the paper's claims and their checks.
- ``memlab.paper_figs``   one recipe per paper figure.

Importing ``memlab`` imports none of these (and never touches JAX's global configuration).
"""

__version__ = "0.1.0"

from memlab._errors import InvalidInputError

__all__ = ["InvalidInputError", "__version__"]
